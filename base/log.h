#pragma once
// Logging with one category per module, a level threshold per category and
// rate limiting for anything a guest can trigger (DESIGN.md decision 8).
//
//   BASALT_LOG_CATEGORY(Kvm, "kvm");          // once, in a .cpp
//   LOG(Kvm, Warn, "KVM_RUN failed: %s", strerror(errno));
//   LOG_RATELIMITED(IoBus, Warn, "unclaimed read of port %#x", port);
//
// BASALT_LOG="kvm=debug,iobus=error,*=info" sets thresholds; the default is info.
// Messages go to stderr, one line each, written with a single write().

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace basalt::log {

enum class Level : int { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

class Category {
public:
    explicit Category(const char* name);
    const char* name() const { return name_; }
    bool enabled(Level level) const;

private:
    const char* name_;
    mutable std::atomic<int> threshold_{-1}; // resolved lazily from BASALT_LOG
};

void write(const Category& category, Level level, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Allows `burst` messages, then one per `interval`; counts what it suppressed
// and reports the count with the next message it lets through.
class RateLimiter {
public:
    explicit RateLimiter(int burst = 10,
                         std::chrono::milliseconds interval = std::chrono::seconds(1))
        : burst_(burst), interval_(interval) {}
    // Returns true if a message may be logged now; `suppressed` gets the number
    // dropped since the last message that was allowed.
    bool allow(uint64_t& suppressed);

private:
    int burst_;
    std::chrono::milliseconds interval_;
    std::atomic<int64_t> nextAllowedNs_{0};
    std::atomic<int> burstLeft_{-1};
    std::atomic<uint64_t> suppressed_{0};
};

// Replaces the default sink (stderr) in tests; nullptr restores it.
using Sink = void (*)(const std::string& line);
void setSink(Sink sink);

} // namespace basalt::log

#define BASALT_LOG_CATEGORY(var, name) ::basalt::log::Category var##LogCategory(name)
#define BASALT_DECLARE_LOG_CATEGORY(var) extern ::basalt::log::Category var##LogCategory

#define LOG(cat, level, ...)                                                                       \
    do {                                                                                           \
        if (cat##LogCategory.enabled(::basalt::log::Level::level))                                 \
            ::basalt::log::write(cat##LogCategory, ::basalt::log::Level::level, __VA_ARGS__);      \
    } while (0)

#define LOG_RATELIMITED(cat, level, ...)                                                           \
    do {                                                                                           \
        static ::basalt::log::RateLimiter basalt_limiter_;                                         \
        uint64_t basalt_suppressed_ = 0;                                                           \
        if (cat##LogCategory.enabled(::basalt::log::Level::level) &&                               \
            basalt_limiter_.allow(basalt_suppressed_)) {                                           \
            if (basalt_suppressed_)                                                                \
                ::basalt::log::write(cat##LogCategory, ::basalt::log::Level::level,                \
                                     "(%llu similar messages suppressed)",                         \
                                     static_cast<unsigned long long>(basalt_suppressed_));         \
            ::basalt::log::write(cat##LogCategory, ::basalt::log::Level::level, __VA_ARGS__);      \
        }                                                                                          \
    } while (0)
