#include "vmm/xen/xen_events.h"

#include "base/log.h"

namespace basalt::xen {

BASALT_LOG_CATEGORY(XenEventsLog, "xen-events");

namespace {

ShutdownReason reasonFromCode(uint8_t code) {
    switch (code) {
    case SHUTDOWN_poweroff:
        return ShutdownReason::Poweroff;
    case SHUTDOWN_reboot:
        return ShutdownReason::Reboot;
    case SHUTDOWN_suspend:
        return ShutdownReason::Suspend;
    case SHUTDOWN_watchdog:
        return ShutdownReason::Watchdog;
    case SHUTDOWN_soft_reset:
        return ShutdownReason::SoftReset;
    case SHUTDOWN_crash:
    default: // libxl treats a code it does not know like a crash
        return ShutdownReason::Crash;
    }
}

} // namespace

XenEvents::XenEvents(const XenEventsConfig& config, EventBitmaps& bits)
    : config_(config), bits_(bits), wait_(config.now),
      upcall_(Upcall::Hooks{config.setGsiLevel, [this] { return bits_.isUpcallPending(0); }}),
      runstates_(config.vcpuCount), channels_(
                                        EventChannelsConfig{config.domid, config.vcpuCount}, bits,
                                        [this](uint32_t vcpu) {
                                            upcall_.raised(vcpu);
                                            if (upcall_.asserted())
                                                timers_.kickHousekeeping();
                                            wait_.wakeAll();
                                        },
                                        [this] { wait_.wakeAll(); }),
      timers_(config.vcpuCount,
              XenTimers::Hooks{config.now,
                               [this](uint32_t vcpu) { channels_.sendVirq(vcpu, VIRQ_TIMER); },
                               [this] { shutdown(SHUTDOWN_watchdog, 0); },
                               [this] { return upcall_.recheck(); }}) {}

XenEvents::~XenEvents() = default;

void XenEvents::latchShutdownCode(uint8_t code) {
    int expected = kNoShutdownCode;
    shutdownCode_.compare_exchange_strong(expected, code);
}

void XenEvents::shutdown(uint8_t reason, uint32_t vcpu) {
    latchShutdownCode(reason);
    uint8_t code = static_cast<uint8_t>(shutdownCode_.load());
    LOG(XenEventsLog, Info, "vCPU %u: shutdown, reason %u (code %u)", vcpu, reason, code);
    wait_.setHeld(true); // nobody sleeps in the hypervisor of a dying domain
    if (config_.shutdown)
        config_.shutdown(reasonFromCode(code), vcpu);
}

int XenEvents::registerVcpuInfo(uint32_t vcpu, uint64_t gfn, uint32_t offset) {
    return config_.registerVcpuInfo ? config_.registerVcpuInfo(vcpu, gfn, offset) : -XEN_ENOSYS;
}

} // namespace basalt::xen
