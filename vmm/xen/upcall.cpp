#include "vmm/xen/upcall.h"

#include "base/log.h"
#include "vmm/xen/xen_headers.h"

#include <cinttypes>

namespace basalt::xen {

BASALT_LOG_CATEGORY(UpcallLog, "upcall");

namespace {

constexpr uint32_t kPciDeviceShift = 11;
constexpr uint32_t kPciDeviceMask = 31;
constexpr uint32_t kPciPinMask = 3;

} // namespace

void Upcall::setVia(uint64_t param) {
    std::lock_guard lock(mutex_);
    if (asserted_)
        driveLocked(false); // tear down the old via
    uint64_t type = (param & HVM_PARAM_CALLBACK_IRQ_TYPE_MASK) >> 56;
    via_ = Via::None;
    switch (type) {
    case HVM_PARAM_CALLBACK_TYPE_GSI:
        gsi_ = static_cast<uint8_t>(param);
        if (gsi_ != 0 && gsi_ < hooks_.gsiCount)
            via_ = Via::Gsi;
        else if (gsi_ != 0)
            LOG_RATELIMITED(UpcallLog, Warn, "callback GSI %u does not exist: no upcalls", gsi_);
        break;
    case HVM_PARAM_CALLBACK_TYPE_PCI_INTX: {
        uint32_t device = static_cast<uint32_t>(param >> kPciDeviceShift) & kPciDeviceMask;
        uint32_t pin = static_cast<uint32_t>(param) & kPciPinMask;
        gsi_ = pciIntxGsi(device, pin);
        // Xen also drives the PIIX3 PCI link's ISA IRQ; that routing comes
        // with the device model. GSIs past the IOAPIC's pins are unreachable.
        if (gsi_ < hooks_.gsiCount)
            via_ = Via::PciIntx;
        else
            LOG_RATELIMITED(UpcallLog, Warn,
                            "callback PCI INTx %02x.%u -> GSI %u beyond the IOAPIC: needs PCI "
                            "link routing (device model), no upcalls",
                            device, pin, gsi_);
        break;
    }
    case HVM_PARAM_CALLBACK_TYPE_VECTOR:
        via_ = Via::Vector;
        LOG_RATELIMITED(UpcallLog, Warn,
                        "callback vector %u requested: not available without in-kernel Xen "
                        "support, no upcalls",
                        static_cast<unsigned>(static_cast<uint8_t>(param)));
        break;
    default:
        break;
    }
    LOG(UpcallLog, Debug, "callback via %#" PRIx64, param);
    syncLocked(false);
}

void Upcall::raised(uint32_t vcpu) {
    if (vcpu != 0)
        return; // GSI and INTx callbacks only carry vCPU 0's events, as in Xen
    std::lock_guard lock(mutex_);
    syncLocked(true);
}

bool Upcall::recheck() {
    std::lock_guard lock(mutex_);
    if (asserted_ && !hooks_.vcpu0UpcallPending())
        driveLocked(false);
    return asserted_;
}

void Upcall::syncLocked(bool freshEdge) {
    bool want = hooks_.vcpu0UpcallPending();
    if (want && asserted_ && freshEdge)
        driveLocked(false); // the guest cleared it since: give edge-triggered pins an edge
    if (want != asserted_)
        driveLocked(want);
}

void Upcall::driveLocked(bool level) {
    if ((via_ == Via::Gsi || via_ == Via::PciIntx) && hooks_.setGsiLevel)
        hooks_.setGsiLevel(gsi_, level);
    asserted_ = level && (via_ == Via::Gsi || via_ == Via::PciIntx);
}

Upcall::Via Upcall::via() const {
    std::lock_guard lock(mutex_);
    return via_;
}

uint32_t Upcall::gsi() const {
    std::lock_guard lock(mutex_);
    return gsi_;
}

bool Upcall::asserted() const {
    std::lock_guard lock(mutex_);
    return asserted_;
}

} // namespace basalt::xen
