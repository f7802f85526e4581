// sched_op: yield, block, poll, shutdown and friends (xen/sched.h), as Xen
// 4.17's sched/core.c do_sched_op() answers an HVM domU.

#include "vmm/xen/handlers.h"
#include "vmm/xen/xen_events.h"
#include "vmm/xen/xen_headers.h"
#include "vmm/xen/xen_platform.h"

#include <thread>
#include <vector>

namespace basalt::xen {

namespace {

constexpr uint32_t kMaxPollPorts = 128; // do_poll()'s "fairly arbitrary limit"

// A 32-bit guest's sched_poll: a 4-byte guest handle, and uint64_t aligned
// to 4 (i386 ABI), so 16 bytes instead of 24. Xen's compat layer
// translates it; no public header defines it.
struct __attribute__((packed, aligned(4))) CompatSchedPoll {
    uint32_t ports;
    uint32_t nr_ports;
    uint64_t timeout;
};
static_assert(sizeof(CompatSchedPoll) == 16);
static_assert(sizeof(sched_poll_t) == 24);

struct PollArgs {
    uint64_t ports;
    uint32_t count;
    uint64_t timeout;
};

// Sleeps in the hypervisor; the runstate shows "blocked" meanwhile.
void sleepVcpu(HypercallContext& ctx, XenEvents& ev, const std::function<bool()>& ready,
               std::optional<uint64_t> deadline) {
    uint32_t vcpu = ctx.vcpuId();
    ev.runstates().change(vcpu, RUNSTATE_blocked, ev.now());
    ev.runstates().writeArea(ctx, ev.now());
    ev.sleepers().wait(ready, deadline);
    ev.runstates().change(vcpu, RUNSTATE_running, ev.now());
    ev.runstates().writeArea(ctx, ev.now());
}

int64_t block(HypercallContext& ctx) {
    XenEvents& ev = ctx.xen().events();
    EventBitmaps& bits = ev.bits();
    uint32_t vcpu = ctx.vcpuId();
    // Wakes on this vCPU's evtchn_upcall_pending (an event to deliver). Other
    // interrupt sources live in the in-kernel LAPIC, which this sleep cannot
    // see: guests that want those use HLT (Linux does).
    sleepVcpu(
        ctx, ev, [&] { return bits.isUpcallPending(vcpu); }, std::nullopt);
    return 0;
}

int64_t poll(HypercallContext& ctx) {
    PollArgs args{};
    if (ctx.longMode()) {
        auto p = ctx.readGuest<sched_poll_t>(ctx.arg(1));
        if (!p.ok())
            return -XEN_EFAULT;
        args = {reinterpret_cast<uint64_t>(p->ports.p), p->nr_ports, p->timeout};
    } else {
        auto p = ctx.readGuest<CompatSchedPoll>(ctx.arg(1));
        if (!p.ok())
            return -XEN_EFAULT;
        args = {p->ports, p->nr_ports, p->timeout};
    }
    if (args.count > kMaxPollPorts)
        return -XEN_EINVAL;
    std::vector<evtchn_port_t> ports(args.count);
    if (!ctx.copyFromGuest(args.ports, {reinterpret_cast<uint8_t*>(ports.data()),
                                        ports.size() * sizeof(evtchn_port_t)})
             .ok())
        return -XEN_EFAULT;
    XenEvents& ev = ctx.xen().events();
    for (evtchn_port_t port : ports) {
        int rc = ev.channels().pollPort(port);
        if (rc != 0)
            return rc > 0 ? 0 : rc; // already pending, or -EINVAL
    }
    EventBitmaps& bits = ev.bits();
    auto ready = [&] {
        for (evtchn_port_t port : ports)
            if (bits.isPending(port))
                return true;
        return false;
    };
    // timeout is absolute system time; 0 waits for an event only.
    sleepVcpu(ctx, ev, ready, args.timeout ? std::optional<uint64_t>(args.timeout) : std::nullopt);
    return 0;
}

int64_t shutdown(HypercallContext& ctx, bool codeOnly) {
    auto s = ctx.readGuest<sched_shutdown_t>(ctx.arg(1));
    if (!s.ok())
        return -XEN_EFAULT;
    uint8_t reason = static_cast<uint8_t>(s->reason); // Xen keeps a u8
    if (codeOnly)
        ctx.xen().events().latchShutdownCode(reason);
    else
        ctx.xen().events().shutdown(reason, ctx.vcpuId());
    return 0;
}

int64_t remoteShutdown(HypercallContext& ctx) {
    auto s = ctx.readGuest<sched_remote_shutdown_t>(ctx.arg(1));
    if (!s.ok())
        return -XEN_EFAULT;
    // Looked up by id only (DOMID_SELF is not an id); then XSM_DM_PRIV
    // refuses a domU that is not the domain's device model.
    if (s->domain_id == ctx.xen().config().domid || s->domain_id == 0)
        return -XEN_EPERM;
    return -XEN_ESRCH;
}

int64_t watchdog(HypercallContext& ctx) {
    auto w = ctx.readGuest<sched_watchdog_t>(ctx.arg(1));
    if (!w.ok())
        return -XEN_EFAULT;
    return ctx.xen().events().timers().watchdog(w->id, w->timeout);
}

} // namespace

int64_t hypercallSchedOp(HypercallContext& ctx) {
    ctx.xen().events().upcall().recheck();
    switch (ctx.arg(0)) {
    case SCHEDOP_yield:
        std::this_thread::yield();
        return 0;
    case SCHEDOP_block:
        return block(ctx);
    case SCHEDOP_shutdown:
        return shutdown(ctx, false);
    case SCHEDOP_shutdown_code:
        return shutdown(ctx, true);
    case SCHEDOP_poll:
        return poll(ctx);
    case SCHEDOP_remote_shutdown:
        return remoteShutdown(ctx);
    case SCHEDOP_watchdog:
        return watchdog(ctx);
    case SCHEDOP_pin_override:
        return -XEN_EPERM; // hardware domain only
    default:
        reportUnknownOnce("sched_op", __HYPERVISOR_sched_op, ctx.arg(0));
        return -XEN_ENOSYS;
    }
}

} // namespace basalt::xen
