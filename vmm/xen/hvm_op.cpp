// hvm_op: HVM parameters, time, and the hints an HVM guest gives.

#include "vmm/xen/handlers.h"
#include "vmm/xen/xen_headers.h"
#include "vmm/xen/xen_platform.h"

namespace basalt::xen {

namespace {

int64_t setParam(HypercallContext& ctx) {
    auto p = ctx.readGuest<xen_hvm_param_t>(ctx.arg(1));
    if (!p.ok())
        return -XEN_EFAULT;
    if (!isSelf(ctx, p->domid))
        return -XEN_ESRCH; // no other domain is visible to this guest
    int rc = ctx.xen().params().guestSet(p->index, p->value);
    if (rc == 0 && p->index == HVM_PARAM_CALLBACK_IRQ) {
        // Xen latches the shared_info layout by the guest's mode here too.
        ctx.xen().latchSharedInfoLayout(ctx.longMode());
        ctx.xen().callbackIrqChanged(p->value);
    }
    return rc;
}

int64_t getParam(HypercallContext& ctx) {
    auto p = ctx.readGuest<xen_hvm_param_t>(ctx.arg(1));
    if (!p.ok())
        return -XEN_EFAULT;
    if (!isSelf(ctx, p->domid))
        return -XEN_ESRCH;
    uint64_t value = 0;
    if (int rc = ctx.xen().params().guestGet(p->index, value); rc != 0)
        return rc;
    p->value = value;
    return ctx.writeGuest(ctx.arg(1), *p).ok() ? 0 : -XEN_EFAULT;
}

int64_t pagetableDying(HypercallContext& ctx) {
    auto p = ctx.readGuest<xen_hvm_pagetable_dying_t>(ctx.arg(1));
    if (!p.ok())
        return -XEN_EFAULT;
    if (!isSelf(ctx, p->domid))
        return -XEN_ESRCH;
    return 0; // only shadow paging acts on it; KVM uses EPT/NPT
}

int64_t getTime(HypercallContext& ctx) {
    xen_hvm_get_time_t t{};
    t.now = ctx.xen().systemTimeNs();
    return ctx.writeGuest(ctx.arg(1), t).ok() ? 0 : -XEN_EFAULT;
}

} // namespace

int64_t hypercallHvmOp(HypercallContext& ctx) {
    switch (ctx.arg(0)) {
    case HVMOP_set_param:
        return setParam(ctx);
    case HVMOP_get_param:
        return getParam(ctx);
    case HVMOP_pagetable_dying:
        return pagetableDying(ctx);
    case HVMOP_get_time:
        return getTime(ctx);
    case HVMOP_set_evtchn_upcall_vector:
        return ctx.xen().setUpcallVector(ctx);
    default:
        reportUnknownOnce("hvm_op", __HYPERVISOR_hvm_op, ctx.arg(0));
        return -XEN_ENOSYS;
    }
}

} // namespace basalt::xen
