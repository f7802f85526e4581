#pragma once
// How an event reaches the guest once a vCPU's evtchn_upcall_pending goes
// 0 -> 1: the HVM_PARAM_CALLBACK_IRQ "callback via" (xen/hvm/params.h), as
// Xen's hvm/irq.c drives it.
//
//   type 0 (GSI n, n != 0): a level on GSI n of the in-kernel IOAPIC (and the
//          PIC for n < 16), high while vCPU 0's evtchn_upcall_pending is set.
//   type 1 (PCI INTx): device/pin -> GSI as Xen's hvm_pci_intx_gsi(); only
//          vCPU 0 counts, as for a GSI.
//   type 2 (vector): needs in-kernel Xen support (KVM_CAP_XEN_HVM), which
//          this core does not use; accepted and never raised (DESIGN.md 2).
//
// The guest clears evtchn_upcall_pending in memory without exiting, so the
// line is dropped lazily, like Xen's hvm_maybe_deassert_evtchn_irq() on VM
// entry: recheck() lowers it once vCPU 0's flag reads clear. It runs on
// every event-channel/sched hypercall and from the timer thread while the
// line is high (a KVM resample irqfd would make it exact at EOI). Example:
//   set_param(CALLBACK_IRQ, 9)       -> via GSI 9, line low
//   port 3 pending on vCPU 0         -> upcall_pending 0->1 -> GSI 9 high
//   guest ISR clears upcall_pending, EOIs; recheck() -> GSI 9 low
//   next event                       -> GSI 9 high again (a fresh edge)

#include <cstdint>
#include <functional>
#include <mutex>

namespace basalt::xen {

class Upcall {
public:
    struct Hooks {
        std::function<void(uint32_t gsi, bool level)> setGsiLevel;
        std::function<bool()> vcpu0UpcallPending;
        uint32_t gsiCount = 24; // KVM's in-kernel IOAPIC pins
    };
    enum class Via { None, Gsi, PciIntx, Vector };

    explicit Upcall(Hooks hooks) : hooks_(std::move(hooks)) {}

    // HVM_PARAM_CALLBACK_IRQ was written (hvm_set_callback_via).
    void setVia(uint64_t param);
    // evtchn_upcall_pending of `vcpu` went 0 -> 1 (hvm_assert_evtchn_irq).
    void raised(uint32_t vcpu);
    // Lowers the line if vCPU 0 cleared its flag; returns true while high.
    bool recheck();

    Via via() const;
    uint32_t gsi() const;
    bool asserted() const;

    // hvm_pci_intx_gsi(): the GSI Xen wires a PCI device's INTx pin to.
    static uint32_t pciIntxGsi(uint32_t device, uint32_t pin) {
        return (((device << 2) + (device >> 3) + pin) & 31) + 16;
    }

private:
    void driveLocked(bool level);
    void syncLocked(bool freshEdge);

    Hooks hooks_;
    mutable std::mutex mutex_;
    Via via_ = Via::None;
    uint32_t gsi_ = 0;
    bool asserted_ = false;
};

} // namespace basalt::xen
