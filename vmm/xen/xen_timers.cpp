#include "vmm/xen/xen_timers.h"

#include "vmm/xen/xen_headers.h"

#include <chrono>

namespace basalt::xen {

namespace {

constexpr uint64_t kNsPerSecond = 1000000000ull;

bool expired(const std::optional<uint64_t>& deadline, uint64_t now) {
    return deadline && *deadline <= now;
}

} // namespace

XenTimers::XenTimers(uint32_t vcpuCount, Hooks hooks)
    : hooks_(std::move(hooks)), vcpus_(vcpuCount) {
    thread_ = std::thread([this] { loop(); });
}

XenTimers::~XenTimers() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
        changed_.notify_all();
    }
    thread_.join();
}

void XenTimers::setSingleshot(uint32_t vcpu, uint64_t deadlineNs) {
    std::lock_guard lock(mutex_);
    if (vcpu >= vcpus_.size())
        return;
    vcpus_[vcpu].singleshot = deadlineNs;
    changed_.notify_all();
}

void XenTimers::stopSingleshot(uint32_t vcpu) {
    std::lock_guard lock(mutex_);
    if (vcpu < vcpus_.size())
        vcpus_[vcpu].singleshot.reset();
}

bool XenTimers::singleshotArmed(uint32_t vcpu) const {
    std::lock_guard lock(mutex_);
    return vcpu < vcpus_.size() && vcpus_[vcpu].singleshot.has_value();
}

void XenTimers::setPeriodic(uint32_t vcpu, uint64_t periodNs) {
    std::lock_guard lock(mutex_);
    if (vcpu >= vcpus_.size())
        return;
    VcpuTimers& t = vcpus_[vcpu];
    t.period = periodNs;
    if (periodNs == 0)
        t.periodicNext.reset();
    else
        t.periodicNext = t.periodicLast + periodNs; // may already be due
    changed_.notify_all();
}

int XenTimers::watchdog(uint32_t id, uint32_t timeoutSeconds) {
    if (id > kWatchdogs)
        return -XEN_EINVAL;
    std::lock_guard lock(mutex_);
    uint64_t deadline = hooks_.now() + timeoutSeconds * kNsPerSecond;
    if (id == 0) {
        for (uint32_t i = 0; i < kWatchdogs; ++i) {
            if (watchdogInUse_[i])
                continue;
            watchdogInUse_[i] = true;
            watchdogs_[i] = deadline;
            changed_.notify_all();
            return static_cast<int>(i + 1);
        }
        return -XEN_ENOSPC;
    }
    uint32_t i = id - 1;
    if (!watchdogInUse_[i])
        return -XEN_EINVAL;
    if (timeoutSeconds == 0) {
        watchdogs_[i].reset();
        watchdogInUse_[i] = false;
    } else {
        watchdogs_[i] = deadline;
    }
    changed_.notify_all();
    return 0;
}

void XenTimers::kickHousekeeping() {
    std::lock_guard lock(mutex_);
    if (housekeepingNext_)
        return;
    housekeepingNext_ = hooks_.now() + hooks_.housekeepingIntervalNs;
    changed_.notify_all();
}

std::optional<uint64_t> XenTimers::earliestLocked() const {
    std::optional<uint64_t> best = housekeepingNext_;
    auto consider = [&](const std::optional<uint64_t>& d) {
        if (d && (!best || *d < *best))
            best = d;
    };
    for (const VcpuTimers& t : vcpus_) {
        consider(t.singleshot);
        consider(t.periodicNext);
    }
    for (const auto& w : watchdogs_)
        consider(w);
    return best;
}

void XenTimers::loop() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
        uint64_t now = hooks_.now();
        std::vector<uint32_t> fired;
        bool watchdogFired = false, housekeeping = false;
        for (uint32_t v = 0; v < vcpus_.size(); ++v) {
            VcpuTimers& t = vcpus_[v];
            if (expired(t.singleshot, now)) {
                t.singleshot.reset();
                fired.push_back(v);
            }
            if (expired(t.periodicNext, now)) {
                t.periodicLast = now;
                t.periodicNext = now + t.period;
                fired.push_back(v);
            }
        }
        for (uint32_t i = 0; i < kWatchdogs; ++i) {
            if (expired(watchdogs_[i], now)) {
                watchdogs_[i].reset();
                watchdogFired = true;
            }
        }
        if (expired(housekeepingNext_, now)) {
            housekeepingNext_.reset();
            housekeeping = true;
        }
        if (!fired.empty() || watchdogFired || housekeeping) {
            lock.unlock();
            for (uint32_t v : fired)
                hooks_.onTimer(v);
            if (watchdogFired)
                hooks_.onWatchdog();
            bool again = housekeeping && hooks_.housekeeping && hooks_.housekeeping();
            lock.lock();
            if (again && !housekeepingNext_)
                housekeepingNext_ = hooks_.now() + hooks_.housekeepingIntervalNs;
            continue;
        }
        auto next = earliestLocked();
        if (!next) {
            changed_.wait(lock);
        } else {
            auto wait = std::chrono::nanoseconds(*next - now);
            changed_.wait_until(lock, std::chrono::steady_clock::now() + wait);
        }
    }
}

} // namespace basalt::xen
