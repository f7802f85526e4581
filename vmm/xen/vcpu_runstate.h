#pragma once
// Per-vCPU runstate accounting (xen/vcpu.h vcpu_runstate_info) and the guest
// area it is copied to (VCPUOP_register_runstate_memory_area), plus whether
// the vCPU is "up" (VCPUOP_is_up). The core only sees a vCPU leave the
// running state when it sleeps in SCHEDOP_block/poll, so the accounting has
// running and blocked time; runnable/offline stay 0 until the core reports
// preemption or vCPU hotplug.

#include <cstdint> // before the Xen headers, which use it

#include "vmm/xen/xen_headers.h"

#include <functional>
#include <mutex>
#include <optional>
#include <vector>

namespace basalt::xen {

class HypercallContext;

// A 32-bit guest's vcpu_runstate_info: the i386 ABI aligns uint64_t to 4, so
// there is no padding after `state` and the struct is 44 bytes, not 48. No
// public header spells out this compat layout (Xen generates it).
struct __attribute__((packed, aligned(4))) CompatRunstateInfo {
    int32_t state;
    uint64_t state_entry_time;
    uint64_t time[4];
};
static_assert(sizeof(CompatRunstateInfo) == 44);
static_assert(offsetof(CompatRunstateInfo, state_entry_time) == 4);
static_assert(sizeof(vcpu_runstate_info_t) == 48);

class VcpuRunstates {
public:
    explicit VcpuRunstates(uint32_t vcpuCount);

    // Moves `vcpu` to RUNSTATE_* `state` at system time `now`.
    void change(uint32_t vcpu, int state, uint64_t now);
    vcpu_runstate_info_t snapshot(uint32_t vcpu, uint64_t now) const;

    // The guest-virtual area; written by writeArea() on the vCPU's own thread.
    void setArea(uint32_t vcpu, uint64_t gva, bool longMode);
    // Copies the current runstate to the registered area (if any); faults
    // are ignored, as Xen ignores a failing __copy_to_guest here.
    void writeArea(HypercallContext& ctx, uint64_t now) const;

    bool isUp(uint32_t vcpu) const;
    void setUp(uint32_t vcpu, bool up);
    // Sets up/down and returns what it was. `onChange` (if any) runs under
    // the lock when the value changes, so racing VCPUOP_up/down calls reach
    // the core's hook in the order they changed the flag.
    bool exchangeUp(uint32_t vcpu, bool up, const std::function<void()>& onChange = {});
    // Xen's v->is_initialised: the BSP, a vCPU that made a hypercall, or one
    // given a VCPUOP_initialise context. Stays set (Xen clears it only on
    // INIT, which the in-kernel LAPIC handles out of the core's sight).
    bool isInitialised(uint32_t vcpu) const;
    void setInitialised(uint32_t vcpu);
    // VCPUOP_initialise: runs `load` (0 or a negative errno) and marks the
    // vCPU initialised if it succeeds, atomically with the -EEXIST check.
    template <typename Fn> int initialiseOnce(uint32_t vcpu, Fn&& load) {
        std::lock_guard lock(mutex_);
        if (vcpu >= vcpus_.size())
            return -XEN_ENOENT;
        if (vcpus_[vcpu].initialised)
            return -XEN_EEXIST;
        int rc = load();
        if (rc == 0)
            vcpus_[vcpu].initialised = true;
        return rc;
    }

private:
    struct Entry {
        vcpu_runstate_info_t info{};
        std::optional<uint64_t> area;
        bool areaLongMode = true;
        bool up = false;
        bool initialised = false;
    };
    mutable std::mutex mutex_;
    std::vector<Entry> vcpus_;
};

} // namespace basalt::xen
