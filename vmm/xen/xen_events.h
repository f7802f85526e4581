#pragma once
// Everything behind event_channel_op, sched_op and vcpu_op for one domain:
// the port table, upcall delivery, the vCPU sleep queue, Xen timers and
// runstates, wired together. Owned by XenPlatform (events()).
//
// Lock order (never the reverse): EventChannels -> Upcall -> XenTimers ->
// VcpuWait. A sleeper's condition reads only the atomic guest bits.

#include "vmm/xen/event_bitmaps.h"
#include "vmm/xen/event_channels.h"
#include "vmm/xen/upcall.h"
#include "vmm/xen/vcpu_runstate.h"
#include "vmm/xen/vcpu_wait.h"
#include "vmm/xen/xen_platform.h"
#include "vmm/xen/xen_timers.h"

#include <atomic>
#include <functional>

namespace basalt::xen {

struct XenEventsConfig {
    uint16_t domid = 1;
    uint32_t vcpuCount = 1;
    std::function<uint64_t()> now; // Xen system time, ns
    std::function<void(uint32_t gsi, bool level)> setGsiLevel;
    std::function<void(ShutdownReason reason, uint32_t vcpu)> shutdown;
    // VCPUOP_register_vcpu_info (XenPlatform::registerVcpuInfo).
    std::function<int(uint32_t vcpu, uint64_t gfn, uint32_t offset)> registerVcpuInfo;
};

class XenEvents {
public:
    XenEvents(const XenEventsConfig& config, EventBitmaps& bits);
    ~XenEvents();

    EventChannels& channels() { return channels_; }
    Upcall& upcall() { return upcall_; }
    VcpuWait& sleepers() { return wait_; }
    VcpuRunstates& runstates() { return runstates_; }
    XenTimers& timers() { return timers_; }
    EventBitmaps& bits() { return bits_; }
    uint64_t now() const { return config_.now(); }
    uint32_t vcpuCount() const { return config_.vcpuCount; }

    // SCHEDOP_shutdown_code: the first code wins and overrides a later
    // SCHEDOP_shutdown's reason (Xen's d->shutdown_code).
    void latchShutdownCode(uint8_t code);
    // SCHEDOP_shutdown / watchdog expiry / last vCPU down.
    void shutdown(uint8_t reason, uint32_t vcpu);
    int registerVcpuInfo(uint32_t vcpu, uint64_t gfn, uint32_t offset);

private:
    static constexpr int kNoShutdownCode = -1;

    XenEventsConfig config_;
    EventBitmaps& bits_;
    std::atomic<int> shutdownCode_{kNoShutdownCode};
    VcpuWait wait_;
    Upcall upcall_;
    VcpuRunstates runstates_;
    EventChannels channels_;
    XenTimers timers_; // last: its thread calls into the members above
};

} // namespace basalt::xen
