#include "vmm/xen/vcpu_runstate.h"

#include "vmm/xen/hypercall.h"

#include <utility>

namespace basalt::xen {

VcpuRunstates::VcpuRunstates(uint32_t vcpuCount) : vcpus_(vcpuCount) {
    for (Entry& e : vcpus_)
        e.info.state = RUNSTATE_offline;
    if (!vcpus_.empty()) {
        vcpus_[0].info.state = RUNSTATE_running; // the BSP runs from the start
        vcpus_[0].up = true;
        vcpus_[0].initialised = true;
    }
}

void VcpuRunstates::change(uint32_t vcpu, int state, uint64_t now) {
    std::lock_guard lock(mutex_);
    if (vcpu >= vcpus_.size())
        return;
    vcpu_runstate_info_t& info = vcpus_[vcpu].info;
    if (info.state >= 0 && info.state < 4 && now > info.state_entry_time)
        info.time[info.state] += now - info.state_entry_time;
    info.state = state;
    info.state_entry_time = now;
}

vcpu_runstate_info_t VcpuRunstates::snapshot(uint32_t vcpu, uint64_t now) const {
    std::lock_guard lock(mutex_);
    if (vcpu >= vcpus_.size())
        return {};
    vcpu_runstate_info_t info = vcpus_[vcpu].info;
    // Like vcpu_runstate_get(): time in the current state counts up to now.
    if (info.state >= 0 && info.state < 4 && now > info.state_entry_time)
        info.time[info.state] += now - info.state_entry_time;
    return info;
}

void VcpuRunstates::setArea(uint32_t vcpu, uint64_t gva, bool longMode) {
    std::lock_guard lock(mutex_);
    if (vcpu >= vcpus_.size())
        return;
    vcpus_[vcpu].area = gva;
    vcpus_[vcpu].areaLongMode = longMode;
}

void VcpuRunstates::writeArea(HypercallContext& ctx, uint64_t now) const {
    uint32_t vcpu = ctx.vcpuId();
    std::optional<uint64_t> area;
    bool longMode = true;
    {
        std::lock_guard lock(mutex_);
        if (vcpu >= vcpus_.size() || !vcpus_[vcpu].area)
            return;
        area = vcpus_[vcpu].area;
        longMode = vcpus_[vcpu].areaLongMode;
    }
    vcpu_runstate_info_t info = snapshot(vcpu, now);
    // Xen writes the area as of the last context switch; "now" is as good.
    if (longMode) {
        (void)ctx.writeGuest(*area, info);
        return;
    }
    CompatRunstateInfo compat{};
    compat.state = info.state;
    compat.state_entry_time = info.state_entry_time;
    for (int i = 0; i < 4; ++i)
        compat.time[i] = info.time[i];
    (void)ctx.writeGuest(*area, compat);
}

bool VcpuRunstates::isUp(uint32_t vcpu) const {
    std::lock_guard lock(mutex_);
    return vcpu < vcpus_.size() && vcpus_[vcpu].up;
}

bool VcpuRunstates::isInitialised(uint32_t vcpu) const {
    std::lock_guard lock(mutex_);
    return vcpu < vcpus_.size() && vcpus_[vcpu].initialised;
}

void VcpuRunstates::setInitialised(uint32_t vcpu) {
    std::lock_guard lock(mutex_);
    if (vcpu < vcpus_.size())
        vcpus_[vcpu].initialised = true;
}

bool VcpuRunstates::exchangeUp(uint32_t vcpu, bool up, const std::function<void()>& onChange) {
    std::lock_guard lock(mutex_);
    if (vcpu >= vcpus_.size())
        return up;
    bool was = std::exchange(vcpus_[vcpu].up, up);
    if (was != up && onChange)
        onChange();
    return was;
}

void VcpuRunstates::setUp(uint32_t vcpu, bool up) {
    std::lock_guard lock(mutex_);
    if (vcpu < vcpus_.size())
        vcpus_[vcpu].up = up;
}

} // namespace basalt::xen
