// vcpu_op: per-vCPU operations (xen/vcpu.h), as Xen 4.17's do_vcpu_op() and
// common_vcpu_op() answer an HVM domU. Timers fire VIRQ_TIMER through the
// domain's timer thread (xen_timers.h).
//
// Secondary vCPU life cycle (Xen's is_initialised and _VPF_down):
//   AP never started --initialise(ctx)--> initialised, down --up--> up
//   up --down--> down (parked outside KVM_RUN) --up--> up, where it stopped
//   initialise of an initialised vCPU -> -EEXIST; up of an uninitialised
//   one -> -EINVAL; down of the last vCPU up -> poweroff.
// Example: vCPU 0 calls initialise(1, ctx{32B, eip=f}) -> 0 (vCPU 1 is
// loaded, still down: is_up(1) = 0); up(1) -> 0, vCPU 1 runs f; f calls
// down(1) on itself -> its hypercall returns 0 and its thread parks.

#include "base/log.h"
#include "vmm/xen/handlers.h"
#include "vmm/xen/shared_info.h"
#include "vmm/xen/vcpu_context.h"
#include "vmm/xen/xen_events.h"
#include "vmm/xen/xen_headers.h"
#include "vmm/xen/xen_platform.h"

#include <cstddef>

namespace basalt::xen {

BASALT_LOG_CATEGORY(VcpuOp, "vcpu-op");

namespace {

constexpr uint64_t kMinPeriodNs = 1000000;   // Xen: MILLISECS(1)
constexpr uint64_t kMaxDeltaNs = ~0ull >> 2; // Xen: STIME_DELTA_MAX
constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kMaxGfn = (1ull << 52) - 1; // beyond any x86 physical address
constexpr uint32_t kVcpuInfoBytes = sizeof(vcpu_info_t);
// vcpu_set_singleshot_timer is 16 bytes for a 64-bit guest and 12 for a
// 32-bit one (no tail padding); reading only the used bytes fits both.
constexpr size_t kSingleshotBytes = offsetof(vcpu_set_singleshot_timer_t, flags) + sizeof(uint32_t);

int64_t setSingleshot(HypercallContext& ctx, XenEvents& ev, uint32_t vcpu) {
    if (vcpu != ctx.vcpuId())
        return -XEN_EINVAL; // only the calling vCPU's own timer
    vcpu_set_singleshot_timer_t set{};
    if (!ctx.copyFromGuest(ctx.arg(2), {reinterpret_cast<uint8_t*>(&set), kSingleshotBytes}).ok())
        return -XEN_EFAULT;
    if ((set.flags & VCPU_SSHOTTMR_future) && set.timeout_abs_ns < ev.now())
        return -XEN_ETIME;
    ev.timers().setSingleshot(vcpu, set.timeout_abs_ns);
    return 0;
}

int64_t setPeriodic(HypercallContext& ctx, XenEvents& ev, uint32_t vcpu) {
    auto set = ctx.readGuest<vcpu_set_periodic_timer_t>(ctx.arg(2));
    if (!set.ok())
        return -XEN_EFAULT;
    if (set->period_ns < kMinPeriodNs || set->period_ns > kMaxDeltaNs)
        return -XEN_EINVAL;
    ev.timers().setPeriodic(vcpu, set->period_ns);
    return 0;
}

int64_t registerVcpuInfo(HypercallContext& ctx, XenEvents& ev, uint32_t vcpu) {
    auto info = ctx.readGuest<vcpu_register_vcpu_info_t>(ctx.arg(2));
    if (!info.ok())
        return -XEN_EFAULT;
    // map_vcpu_info(): the structure must fit in the page; the rest of the
    // checks (alignment, RAM, double registration) are SharedInfo's.
    if (info->offset > kPageSize - kVcpuInfoBytes || info->mfn > kMaxGfn)
        return -XEN_EINVAL;
    return ev.registerVcpuInfo(vcpu, info->mfn, info->offset);
}

int64_t registerRunstate(HypercallContext& ctx, XenEvents& ev, uint32_t vcpu) {
    auto area = ctx.readGuest<vcpu_register_runstate_memory_area_t>(ctx.arg(2));
    if (!area.ok())
        return -XEN_EFAULT;
    // A 32-bit guest's handle is the low 4 bytes of the 8-byte union.
    uint64_t gva = ctx.longMode() ? area->addr.p : static_cast<uint32_t>(area->addr.p);
    ev.runstates().setArea(vcpu, gva, ctx.longMode());
    if (vcpu == ctx.vcpuId())
        ev.runstates().writeArea(ctx, ev.now());
    // Another vCPU's area is written on its own next update (its paging).
    return 0;
}

int64_t getRunstate(HypercallContext& ctx, XenEvents& ev, uint32_t vcpu) {
    vcpu_runstate_info_t info = ev.runstates().snapshot(vcpu, ev.now());
    if (ctx.longMode())
        return ctx.writeGuest(ctx.arg(2), info).ok() ? 0 : -XEN_EFAULT;
    CompatRunstateInfo compat{info.state,
                              info.state_entry_time,
                              {info.time[0], info.time[1], info.time[2], info.time[3]}};
    return ctx.writeGuest(ctx.arg(2), compat).ok() ? 0 : -XEN_EFAULT;
}

// VCPUOP_initialise: copy, then -EEXIST, then Xen's context checks; the
// vCPU stays down until VCPUOP_up (arch_initialise_vcpu()).
int64_t initialise(HypercallContext& ctx, XenEvents& ev, uint32_t vcpu) {
    const XenPlatformConfig& config = ctx.xen().config();
    if (!config.vcpuControl.load) {
        reportUnknownOnce("vcpu_op", __HYPERVISOR_vcpu_op, VCPUOP_initialise);
        return -XEN_ENOSYS;
    }
    // common_vcpu_op(): no vcpu_info for the vCPU yet (>= 32, unregistered).
    if (SharedInfo* si = ctx.xen().sharedInfo(); si && si->hasDummyVcpuInfo(vcpu))
        return -XEN_EINVAL;
    auto guest = ctx.readGuest<vcpu_hvm_context_t>(ctx.arg(2));
    if (!guest.ok())
        return -XEN_EFAULT;
    return ev.runstates().initialiseOnce(vcpu, [&] {
        VcpuContext context;
        int rc = decodeHvmContext(*guest, config.contextPolicy, context);
        if (rc == 0) {
            config.vcpuControl.load(vcpu, context);
            LOG(VcpuOp, Debug, "vCPU %u initialised by vCPU %u (rip %#llx)", vcpu, ctx.vcpuId(),
                static_cast<unsigned long long>(context.regs.rip));
        }
        return rc;
    });
}

int64_t up(HypercallContext& ctx, XenEvents& ev, uint32_t vcpu) {
    if (!ev.runstates().isInitialised(vcpu))
        return -XEN_EINVAL;
    const auto& setOnline = ctx.xen().config().vcpuControl.setOnline;
    if (!setOnline)
        return ev.runstates().isUp(vcpu) ? 0 : -XEN_ENOSYS;
    if (!ev.runstates().exchangeUp(vcpu, true, [&] { setOnline(vcpu, true); }))
        ev.runstates().change(vcpu, RUNSTATE_running, ev.now());
    return 0;
}

// Any vCPU of the domain may take any other (or itself) down; the last one
// going down powers the domain off, as Xen's do_vcpu_op().
int64_t down(HypercallContext& ctx, XenEvents& ev, uint32_t vcpu) {
    bool othersUp = false;
    for (uint32_t other = 0; other < ev.vcpuCount(); ++other)
        if (other != vcpu && ev.runstates().isUp(other))
            othersUp = true;
    if (!othersUp) {
        ev.shutdown(SHUTDOWN_poweroff, vcpu);
        return 0;
    }
    const auto& setOnline = ctx.xen().config().vcpuControl.setOnline;
    if (!setOnline) {
        LOG_RATELIMITED(VcpuOp, Warn, "VCPUOP_down of vCPU %u: no vCPU hotplug hook", vcpu);
        return -XEN_ENOSYS;
    }
    if (ev.runstates().exchangeUp(vcpu, false, [&] { setOnline(vcpu, false); }))
        ev.runstates().change(vcpu, RUNSTATE_offline, ev.now());
    return 0;
}

} // namespace

int64_t hypercallVcpuOp(HypercallContext& ctx) {
    XenEvents& ev = ctx.xen().events();
    // The vCPU id is an `unsigned int` parameter: upper bits are ignored.
    uint32_t vcpu = static_cast<uint32_t>(ctx.arg(1));
    if (vcpu >= ev.vcpuCount())
        return -XEN_ENOENT;
    // A vCPU making hypercalls is evidently up and initialised (APs come up
    // by INIT/SIPI in the in-kernel LAPIC, out of the core's sight).
    if (!ev.runstates().isUp(ctx.vcpuId())) {
        ev.runstates().setInitialised(ctx.vcpuId());
        if (!ev.runstates().exchangeUp(ctx.vcpuId(), true))
            ev.runstates().change(ctx.vcpuId(), RUNSTATE_running, ev.now());
    }
    switch (ctx.arg(0)) {
    case VCPUOP_is_up:
        return ev.runstates().isUp(vcpu) ? 1 : 0;
    case VCPUOP_up:
        return up(ctx, ev, vcpu);
    case VCPUOP_initialise:
        return initialise(ctx, ev, vcpu);
    case VCPUOP_down:
        return down(ctx, ev, vcpu);
    case VCPUOP_get_runstate_info:
        return getRunstate(ctx, ev, vcpu);
    case VCPUOP_register_runstate_memory_area:
        return registerRunstate(ctx, ev, vcpu);
    case VCPUOP_set_periodic_timer:
        return setPeriodic(ctx, ev, vcpu);
    case VCPUOP_stop_periodic_timer:
        ev.timers().setPeriodic(vcpu, 0);
        return 0;
    case VCPUOP_set_singleshot_timer:
        return setSingleshot(ctx, ev, vcpu);
    case VCPUOP_stop_singleshot_timer:
        if (vcpu != ctx.vcpuId())
            return -XEN_EINVAL;
        ev.timers().stopSingleshot(vcpu);
        return 0;
    case VCPUOP_register_vcpu_info:
        return registerVcpuInfo(ctx, ev, vcpu);
    case VCPUOP_send_nmi:
        // Would need an NMI injection hook into the vCPU; not offered.
        reportUnknownOnce("vcpu_op", __HYPERVISOR_vcpu_op, VCPUOP_send_nmi);
        return -XEN_ENOSYS;
    case VCPUOP_get_physid:
        return -XEN_EINVAL; // hardware domain's pinned vCPUs only
    default:
        reportUnknownOnce("vcpu_op", __HYPERVISOR_vcpu_op, ctx.arg(0));
        return -XEN_ENOSYS;
    }
}

} // namespace basalt::xen
