#pragma once
// The domain's Xen timers on one host thread: per-vCPU singleshot and
// periodic timers (VCPUOP_set_*_timer, firing VIRQ_TIMER), the two domain
// watchdogs (SCHEDOP_watchdog) and a housekeeping tick (upcall line recheck).
// Deadlines are Xen system time (ns, XenPlatform::systemTimeNs()).
// Callbacks run on the timer thread with no timer lock held.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace basalt::xen {

class XenTimers {
public:
    static constexpr uint32_t kWatchdogs = 2; // Xen's NR_DOMAIN_WATCHDOG_TIMERS

    struct Hooks {
        std::function<uint64_t()> now;              // system time, ns
        std::function<void(uint32_t vcpu)> onTimer; // singleshot/periodic expiry
        std::function<void()> onWatchdog;           // a watchdog expired
        std::function<bool()> housekeeping;         // true: call again after the interval
        uint64_t housekeepingIntervalNs = 1000000;
    };

    XenTimers(uint32_t vcpuCount, Hooks hooks);
    ~XenTimers(); // stops and joins

    void setSingleshot(uint32_t vcpu, uint64_t deadlineNs);
    void stopSingleshot(uint32_t vcpu);
    // period 0 stops it; otherwise fires at once if a period has passed since
    // the last periodic event (Xen's vcpu_periodic_timer_work).
    void setPeriodic(uint32_t vcpu, uint64_t periodNs);
    bool singleshotArmed(uint32_t vcpu) const;
    // SCHEDOP_watchdog: id 0 allocates (returns id+1 or -ENOSPC); id n
    // re-arms (timeout != 0) or frees (timeout 0) watchdog n; -EINVAL else.
    int watchdog(uint32_t id, uint32_t timeoutSeconds);
    // Starts the housekeeping tick if it is not running.
    void kickHousekeeping();

private:
    struct VcpuTimers {
        std::optional<uint64_t> singleshot;
        uint64_t period = 0;
        uint64_t periodicLast = 0;
        std::optional<uint64_t> periodicNext;
    };
    void loop();
    std::optional<uint64_t> earliestLocked() const;

    Hooks hooks_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<VcpuTimers> vcpus_;
    std::optional<uint64_t> watchdogs_[kWatchdogs];
    bool watchdogInUse_[kWatchdogs] = {};
    std::optional<uint64_t> housekeepingNext_;
    bool stop_ = false;
    std::thread thread_;
};

} // namespace basalt::xen
