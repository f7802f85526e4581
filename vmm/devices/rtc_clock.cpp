#include "vmm/devices/rtc_clock.h"

#include <chrono>
#include <ctime>

namespace basalt {

namespace {

constexpr int64_t kNsPerSecond = 1000000000;

int64_t readClock(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return static_cast<int64_t>(ts.tv_sec) * kNsPerSecond + ts.tv_nsec;
}

} // namespace

uint64_t HostClock::monotonicNs() const {
    return static_cast<uint64_t>(readClock(CLOCK_MONOTONIC));
}

int64_t HostClock::realtimeNs() const {
    return readClock(CLOCK_REALTIME);
}

DeadlineThread::DeadlineThread(const DeviceClock& clock, Service service)
    : clock_(clock), service_(std::move(service)) {
    thread_ = std::thread([this] { loop(); });
}

DeadlineThread::~DeadlineThread() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
        changed_.notify_all();
    }
    thread_.join();
}

void DeadlineThread::kick() {
    std::lock_guard lock(mutex_);
    kicked_ = true;
    changed_.notify_all();
}

void DeadlineThread::loop() {
    std::optional<uint64_t> deadline;
    std::unique_lock lock(mutex_);
    while (!stop_) {
        uint64_t now = clock_.monotonicNs();
        if (kicked_ || (deadline && *deadline <= now)) {
            kicked_ = false;
            lock.unlock();
            deadline = service_();
            lock.lock();
            continue;
        }
        if (deadline)
            changed_.wait_for(lock, std::chrono::nanoseconds(*deadline - now));
        else
            changed_.wait(lock);
    }
}

} // namespace basalt
