#include "vmm/virtual_wire.h"

#include "base/log.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/kvm/vm.h"

#include <ctime>

namespace basalt {

BASALT_LOG_CATEGORY(VirtualWireLog, "virtual-wire");

namespace {

// IOAPIC redirection entry and LAPIC LVT bits (Intel SDM, 82093AA datasheet).
constexpr uint64_t kDeliveryModeMask = 7u << 8;
constexpr uint64_t kDeliveryModeExtInt = 7u << 8;
constexpr uint64_t kMasked = 1u << 16;
constexpr uint32_t kLapicLvt0 = 0x350;
constexpr uint32_t kLvt0ExtIntUnmasked = 7u << 8;

bool isExtIntUnmasked(uint64_t entry) {
    return (entry & kDeliveryModeMask) == kDeliveryModeExtInt && !(entry & kMasked);
}

} // namespace

VirtualWire::Step VirtualWire::decide(uint64_t redirection0, uint32_t lvt0,
                                      std::optional<uint32_t> saved) {
    Step step;
    const bool wire = isExtIntUnmasked(redirection0);
    if (saved) {
        if (lvt0 != kLvt0ExtIntUnmasked)
            return step; // the guest wrote LVT0 itself: its value stands
        if (!wire)
            step.writeLvt0 = *saved; // back to what the guest had
        else
            step.saved = saved;
        return step;
    }
    if (wire && !isExtIntUnmasked(lvt0)) {
        step.writeLvt0 = kLvt0ExtIntUnmasked;
        step.saved = lvt0;
    }
    return step;
}

void VirtualWire::poll(kvm::Vm& vm, kvm::Vcpu& bsp) {
    if (failed_)
        return;
    // This runs at every vCPU 0 exit: the coarse clock needs no TSC read.
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    const auto now = std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
    if (now < next_)
        return;
    next_ = now + kPollInterval;
    auto redirection = vm.ioapicRedirection(0);
    if (!redirection.ok()) {
        failed_ = true;
        LOG(VirtualWireLog, Warn, "PIC virtual wire not followed: %s",
            redirection.error().message.c_str());
        return;
    }
    // Reading LVT0 is a vCPU ioctl (KVM loads and puts the vCPU's state for
    // it), much dearer than the VM-wide IOAPIC read: skip it while the wire is
    // off and no override of ours is in force, which is nearly always.
    if (!saved_ && !isExtIntUnmasked(*redirection))
        return;
    auto lvt0 = bsp.lapicRegister(kLapicLvt0);
    if (!lvt0.ok()) {
        failed_ = true;
        LOG(VirtualWireLog, Warn, "PIC virtual wire not followed: %s",
            lvt0.error().message.c_str());
        return;
    }
    Step step = decide(*redirection, *lvt0, saved_);
    saved_ = step.saved;
    if (!step.writeLvt0)
        return;
    if (auto s = bsp.setLapicRegister(kLapicLvt0, *step.writeLvt0); !s.ok()) {
        failed_ = true;
        LOG(VirtualWireLog, Warn, "PIC virtual wire: %s", s.error().message.c_str());
        return;
    }
    LOG(VirtualWireLog, Debug, "LVT0 %#x -> %#x (IOAPIC pin 0 %s)", *lvt0, *step.writeLvt0,
        isExtIntUnmasked(*redirection) ? "ExtINT" : "not ExtINT");
}

} // namespace basalt
