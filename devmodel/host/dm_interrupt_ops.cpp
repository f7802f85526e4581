#include "devmodel/host/dm_request.h"

// Interrupt ops of the device-model host: ISA IRQ levels, PCI INTx with the
// PIIX3 link routing, MSI, all onto KVM's in-kernel irqchip.

namespace basalt::devmodel {

namespace {
// ISA IRQ 0 is wired to IOAPIC pin 2 (Xen's hvm_isa_irq_to_gsi).
constexpr uint32_t kIsaTimerIrq = 0;
constexpr uint32_t kIsaTimerGsi = 2;
constexpr uint8_t kIsaIrqs = 16;
constexpr uint8_t kIntxPins = 4;
constexpr uint8_t kPciLinks = 4;
constexpr uint32_t kFirstPciGsi = 16;
constexpr uint32_t kPciGsis = 32;
// KVM's in-kernel IOAPIC (vm.h kIoapicPins).
constexpr uint32_t kKvmIoapicPins = 24;
} // namespace

// --- interrupts

void Dispatcher::raiseGsi(uint32_t gsi, bool level) {
    if (gsi >= kKvmIoapicPins) {
        if (!gsiWarned_[gsi]) {
            gsiWarned_[gsi] = true;
            LOG(DmHost, Warn,
                "GSI %u is beyond KVM's 24 IOAPIC pins: only its PCI link's ISA IRQ "
                "reaches the guest",
                gsi);
        }
        return;
    }
    if (s_.setGsi)
        if (Status st = s_.setGsi(gsi, level); !st)
            LOG_RATELIMITED(DmHost, Error, "GSI %u: %s", gsi, st.error().message.c_str());
}

void Dispatcher::gsiUp(uint32_t gsi) {
    if (gsiCount_[gsi]++ == 0)
        raiseGsi(gsi, true);
}

void Dispatcher::gsiDown(uint32_t gsi) {
    if (gsiCount_[gsi] && --gsiCount_[gsi] == 0)
        raiseGsi(gsi, false);
}

int Dispatcher::setIsaIrqLevel(Request& r) {
    DmIsaIrqRequest q;
    if (!r.fixed(q) || !allZero(q.pad))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (q.irq >= kIsaIrqs || q.level > 1)
        return EINVAL;
    uint32_t gsi = q.irq == kIsaTimerIrq ? kIsaTimerGsi : q.irq;
    if (q.level && !isaAsserted_[q.irq]) {
        isaAsserted_[q.irq] = true;
        gsiUp(gsi);
    } else if (!q.level && isaAsserted_[q.irq]) {
        isaAsserted_[q.irq] = false;
        gsiDown(gsi);
    }
    return 0;
}

int Dispatcher::setPciIntxLevel(Request& r) {
    DmPciIntxRequest q;
    if (!r.fixed(q) || !allZero(q.pad))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    // As Xen's dm.c: segment 0, bus 0 only.
    if (q.segment || q.bus || q.device >= kPciDevices || q.intx >= kIntxPins || q.level > 1)
        return EINVAL;
    bool& wire = intxAsserted_[q.device * kIntxPins + q.intx];
    if (wire == (q.level != 0))
        return 0;
    wire = q.level != 0;
    uint32_t gsi = kFirstPciGsi + (((q.device << 2) + (q.device >> 3) + q.intx) % kPciGsis);
    uint32_t link = (q.device + q.intx) % kPciLinks;
    if (wire) {
        gsiUp(gsi);
        if (linkCount_[link]++ == 0 && linkRoute_[link])
            gsiUp(linkRoute_[link]);
    } else {
        gsiDown(gsi);
        if (linkCount_[link] && --linkCount_[link] == 0 && linkRoute_[link])
            gsiDown(linkRoute_[link]);
    }
    return 0;
}

int Dispatcher::setPciLinkRoute(Request& r) {
    DmPciLinkRouteRequest q;
    if (!r.fixed(q) || !allZero(q.pad))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (q.link >= kPciLinks || q.irq >= kIsaIrqs)
        return EINVAL;
    uint8_t old = linkRoute_[q.link];
    if (old == q.irq)
        return 0;
    linkRoute_[q.link] = q.irq;
    // An asserted link moves its assertion to the new IRQ.
    if (linkCount_[q.link]) {
        if (old)
            gsiDown(old);
        if (q.irq)
            gsiUp(q.irq);
    }
    return 0;
}

int Dispatcher::injectMsi(Request& r) {
    DmMsiRequest q;
    if (int rc = r.fixedFor(s_.domid, q))
        return rc;
    if (!s_.signalMsi)
        return ENOSYS;
    Status st = s_.signalMsi(q.address, q.data);
    return st ? 0 : st.error().code;
}

} // namespace basalt::devmodel
