#pragma once
// Time for the platform timers the core emulates (RTC, ACPI PM timer): an
// injectable clock, so that unit tests step time by hand, and one thread per
// device that runs the device's due timer work at the deadlines it asks for.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

namespace basalt {

class DeviceClock {
public:
    virtual ~DeviceClock() = default;
    // Never goes backwards; deadlines are expressed in it.
    virtual uint64_t monotonicNs() const = 0;
    // The host's wall clock (UTC), ns since the Unix epoch.
    virtual int64_t realtimeNs() const = 0;
};

// CLOCK_MONOTONIC and CLOCK_REALTIME.
class HostClock final : public DeviceClock {
public:
    uint64_t monotonicNs() const override;
    int64_t realtimeNs() const override;
};

// Calls `service` (on its own thread, no lock held) whenever the deadline it
// last returned has passed or kick() was called; service returns the next
// monotonic deadline, or nothing to sleep until the next kick().
class DeadlineThread {
public:
    using Service = std::function<std::optional<uint64_t>()>;
    DeadlineThread(const DeviceClock& clock, Service service);
    ~DeadlineThread(); // stops and joins
    DeadlineThread(const DeadlineThread&) = delete;
    DeadlineThread& operator=(const DeadlineThread&) = delete;

    // The device's state changed: ask service() for a new deadline.
    void kick();

private:
    void loop();

    const DeviceClock& clock_;
    Service service_;
    std::mutex mutex_;
    std::condition_variable changed_;
    bool kicked_ = true;
    bool stop_ = false;
    std::thread thread_;
};

} // namespace basalt
