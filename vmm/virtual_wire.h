#pragma once
// Xen's "virtual wire" for the 8259 PIC, on KVM's in-kernel LAPIC.
//
// hvmloader leaves the BSP's LVT0 masked and routes the PIC through IOAPIC
// pin 0 in ExtINT mode (virtual wire mode B). Xen delivers PIC interrupts to
// vCPU 0 in that state (__vlapic_accept_pic_intr accepts an unmasked ExtINT
// redirection of pin 0 as well as LVT0 in ExtINT); KVM accepts them only
// through an unmasked ExtINT LVT0, and ignores ExtINT from the IOAPIC. So
// SeaBIOS, which relies on the PIT's IRQ 0, would never get a timer tick.
//
// VirtualWire reproduces Xen's rule: while pin 0 is an unmasked ExtINT
// redirection, vCPU 0's LVT0 is made ExtINT/unmasked; when the guest masks
// pin 0 again, LVT0 gets back the value the guest had written, unless the
// guest wrote LVT0 itself meanwhile. Both registers live in the kernel, so
// this is polled from vCPU 0's exits, at most once per kPollInterval.
// Example: hvmloader writes LVT0 = 0x10700 (ExtINT, masked) and pin 0 =
// ExtINT; at vCPU 0's next exit LVT0 becomes 0x700 and the PIT's pending
// IRQ 0 reaches SeaBIOS. The guest reads 0x700 from LVT0 while this lasts.

#include "base/result.h"

#include <chrono>
#include <cstdint>
#include <optional>

namespace basalt {

namespace kvm {
class Vm;
class Vcpu;
} // namespace kvm

class VirtualWire {
public:
    static constexpr std::chrono::milliseconds kPollInterval{1};

    // vCPU 0's thread, at each of its exits; cheap when not due.
    void poll(kvm::Vm& vm, kvm::Vcpu& bsp);

    // The decision, without KVM: the LVT0 value to write, if any.
    // `saved`: the guest's LVT0 while an override is active.
    struct Step {
        std::optional<uint32_t> writeLvt0;
        std::optional<uint32_t> saved; // after the step
    };
    static Step decide(uint64_t redirection0, uint32_t lvt0, std::optional<uint32_t> saved);

private:
    std::chrono::nanoseconds next_{}; // CLOCK_MONOTONIC_COARSE
    std::optional<uint32_t> saved_;
    bool failed_ = false;
};

} // namespace basalt
