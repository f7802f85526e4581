#include "base/log.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string_view>
#include <unistd.h>

namespace basalt::log {
namespace {

std::atomic<Sink> gSink{nullptr};

const char* levelName(Level level) {
    switch (level) {
    case Level::Debug:
        return "debug";
    case Level::Info:
        return "info";
    case Level::Warn:
        return "warning";
    case Level::Error:
        return "error";
    case Level::Off:
        break;
    }
    return "?";
}

Level parseLevel(std::string_view s) {
    if (s == "debug")
        return Level::Debug;
    if (s == "info")
        return Level::Info;
    if (s == "warn" || s == "warning")
        return Level::Warn;
    if (s == "error")
        return Level::Error;
    if (s == "off")
        return Level::Off;
    return Level::Info;
}

// Finds the threshold for `name` in BASALT_LOG ("cat=level,*=level").
Level thresholdFor(const char* name) {
    const char* spec = std::getenv("BASALT_LOG");
    Level result = Level::Info;
    if (!spec)
        return result;
    std::string_view rest(spec);
    while (!rest.empty()) {
        size_t comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        size_t eq = item.find('=');
        if (eq == std::string_view::npos)
            continue;
        std::string_view key = item.substr(0, eq);
        Level level = parseLevel(item.substr(eq + 1));
        if (key == name)
            return level;
        if (key == "*")
            result = level;
    }
    return result;
}

int64_t nowNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// The rate limiter runs on guest-triggered paths (every unclaimed port access
// is a vCPU exit): a coarse clock is plenty for "one per second" and costs a
// few nanoseconds.
int64_t coarseNowNs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Timestamps count from program start, not from the first message.
const int64_t gStartNs = nowNs();

} // namespace

Category::Category(const char* name) : name_(name) {}

bool Category::enabled(Level level) const {
    int t = threshold_.load(std::memory_order_relaxed);
    if (t < 0) {
        t = static_cast<int>(thresholdFor(name_));
        threshold_.store(t, std::memory_order_relaxed);
    }
    return static_cast<int>(level) >= t;
}

void setSink(Sink sink) {
    gSink.store(sink);
}

void write(const Category& category, Level level, const char* fmt, ...) {
    // Long messages (crash reports with register dumps) are kept whole.
    va_list ap;
    va_start(ap, fmt);
    va_list measure;
    va_copy(measure, ap);
    int bodyLength = vsnprintf(nullptr, 0, fmt, measure);
    va_end(measure);
    std::string body(bodyLength > 0 ? static_cast<size_t>(bodyLength) : 0, '\0');
    if (bodyLength > 0)
        vsnprintf(body.data(), body.size() + 1, fmt, ap);
    va_end(ap);

    double seconds = static_cast<double>(nowNs() - gStartNs) / 1e9;
    char prefix[128];
    snprintf(prefix, sizeof prefix, "[%10.6f] %s: %s: ", seconds, category.name(),
             levelName(level));
    std::string line = prefix + body + "\n";
    if (Sink sink = gSink.load()) {
        sink(line);
        return;
    }
    // One write() per message keeps lines from different threads whole.
    ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
}

bool RateLimiter::allow(uint64_t& suppressed) {
    int64_t now = coarseNowNs();
    int left = burstLeft_.load(std::memory_order_relaxed);
    if (left < 0) {
        // First use: the burst starts now, the steady rate one interval later.
        burstLeft_.store(burst_, std::memory_order_relaxed);
        nextAllowedNs_.store(now + std::chrono::nanoseconds(interval_).count(),
                             std::memory_order_relaxed);
        left = burst_;
    }
    if (left > 0) {
        burstLeft_.fetch_sub(1, std::memory_order_relaxed);
        suppressed = suppressed_.exchange(0);
        return true;
    }
    int64_t next = nextAllowedNs_.load(std::memory_order_relaxed);
    if (now >= next && nextAllowedNs_.compare_exchange_strong(
                           next, now + std::chrono::nanoseconds(interval_).count())) {
        suppressed = suppressed_.exchange(0);
        return true;
    }
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return false;
}

} // namespace basalt::log
