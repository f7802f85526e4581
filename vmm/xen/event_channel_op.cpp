// event_channel_op: the 2-level event channel ABI (event_channels.h). Every
// argument struct has the same layout for 32- and 64-bit guests. The FIFO
// ABI is not offered: its ops answer -ENOSYS and Linux stays on 2-level.

#include "vmm/xen/handlers.h"
#include "vmm/xen/xen_events.h"
#include "vmm/xen/xen_headers.h"
#include "vmm/xen/xen_platform.h"

namespace basalt::xen {

namespace {

// Reads the argument struct, runs `op` on it and, if it succeeded and
// `writeBack`, copies it back; Xen's copy_from_guest/-EFAULT pattern.
template <typename T, typename Op> int64_t withArg(HypercallContext& ctx, bool writeBack, Op&& op) {
    auto arg = ctx.readGuest<T>(ctx.arg(1));
    if (!arg.ok())
        return -XEN_EFAULT;
    int64_t rc = op(*arg);
    if (rc == 0 && writeBack && !ctx.writeGuest(ctx.arg(1), *arg).ok())
        return -XEN_EFAULT;
    return rc;
}

// Ops that return a port on success store it in `port` and answer 0.
int64_t portResult(int rc, evtchn_port_t& port) {
    if (rc < 0)
        return rc;
    port = static_cast<evtchn_port_t>(rc);
    return 0;
}

} // namespace

int64_t hypercallEventChannelOp(HypercallContext& ctx) {
    XenEvents& ev = ctx.xen().events();
    EventChannels& ch = ev.channels();
    ev.upcall().recheck();
    switch (ctx.arg(0)) {
    case EVTCHNOP_alloc_unbound:
        return withArg<evtchn_alloc_unbound_t>(ctx, true, [&](auto& a) {
            return portResult(ch.allocUnbound(a.dom, a.remote_dom), a.port);
        });
    case EVTCHNOP_bind_interdomain:
        return withArg<evtchn_bind_interdomain_t>(ctx, true, [&](auto& a) {
            return portResult(ch.bindInterdomain(a.remote_dom, a.remote_port), a.local_port);
        });
    case EVTCHNOP_bind_virq:
        return withArg<evtchn_bind_virq_t>(
            ctx, true, [&](auto& a) { return portResult(ch.bindVirq(a.virq, a.vcpu), a.port); });
    case EVTCHNOP_bind_ipi:
        return withArg<evtchn_bind_ipi_t>(
            ctx, true, [&](auto& a) { return portResult(ch.bindIpi(a.vcpu), a.port); });
    case EVTCHNOP_bind_pirq:
        // No physical IRQs are passed through to an HVM guest here; Xen
        // answers a pirq the domain does not own the same way.
        return withArg<evtchn_bind_pirq_t>(ctx, false, [](auto&) { return -XEN_EINVAL; });
    case EVTCHNOP_bind_vcpu:
        return withArg<evtchn_bind_vcpu_t>(ctx, false,
                                           [&](auto& a) { return ch.bindVcpu(a.port, a.vcpu); });
    case EVTCHNOP_close:
        return withArg<evtchn_close_t>(ctx, false, [&](auto& a) { return ch.close(a.port); });
    case EVTCHNOP_send:
        return withArg<evtchn_send_t>(ctx, false, [&](auto& a) { return ch.send(a.port); });
    case EVTCHNOP_status:
        return withArg<evtchn_status_t>(ctx, true, [&](auto& a) { return ch.status(a); });
    case EVTCHNOP_unmask:
        return withArg<evtchn_unmask_t>(ctx, false, [&](auto& a) { return ch.unmask(a.port); });
    case EVTCHNOP_reset:
        return withArg<evtchn_reset_t>(ctx, false, [&](auto& a) { return ch.reset(a.dom); });
    case EVTCHNOP_init_control:
    case EVTCHNOP_expand_array:
    case EVTCHNOP_set_priority:
        return -XEN_ENOSYS; // FIFO ABI: not offered; the guest keeps 2-level
    default:
        reportUnknownOnce("event_channel_op", __HYPERVISOR_event_channel_op, ctx.arg(0));
        return -XEN_ENOSYS;
    }
}

} // namespace basalt::xen
