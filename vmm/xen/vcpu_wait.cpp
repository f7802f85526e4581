#include "vmm/xen/vcpu_wait.h"

#include <chrono>

namespace basalt::xen {

VcpuWait::Woken VcpuWait::wait(const std::function<bool()>& ready,
                               std::optional<uint64_t> deadlineNs) {
    std::unique_lock lock(mutex_);
    for (;;) {
        if (held_)
            return Woken::Held;
        if (ready())
            return Woken::Ready;
        if (!deadlineNs) {
            changed_.wait(lock);
            continue;
        }
        uint64_t now = now_();
        if (now >= *deadlineNs)
            return Woken::Timeout;
        changed_.wait_for(lock, std::chrono::nanoseconds(*deadlineNs - now));
    }
}

void VcpuWait::wakeAll() {
    std::lock_guard lock(mutex_);
    changed_.notify_all();
}

void VcpuWait::setHeld(bool held) {
    std::lock_guard lock(mutex_);
    held_ = held;
    changed_.notify_all();
}

} // namespace basalt::xen
