#pragma once
// Where a vCPU thread sleeps inside SCHEDOP_block and SCHEDOP_poll. Any new
// event wakes every sleeper to re-check its condition. While the domain is
// paused or stopping ("held"), nobody sleeps: the hypercall returns 0 (a
// spurious wakeup, which Xen allows) and the vCPU thread parks as usual.
// The domain sets held before it pauses/stops the vCPU threads and clears it
// on resume, so no sleeper can miss the request.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

namespace basalt::xen {

class VcpuWait {
public:
    enum class Woken { Ready, Timeout, Held };

    explicit VcpuWait(std::function<uint64_t()> now) : now_(std::move(now)) {}

    // Sleeps until ready() holds, Xen system time reaches deadlineNs, or the
    // domain is held. ready() is evaluated with the wait lock held.
    Woken wait(const std::function<bool()>& ready, std::optional<uint64_t> deadlineNs);
    void wakeAll();
    void setHeld(bool held);

private:
    std::function<uint64_t()> now_;
    std::mutex mutex_;
    std::condition_variable changed_;
    bool held_ = false;
};

} // namespace basalt::xen
