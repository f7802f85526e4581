// The {number, name, handler} table of every hypercall an HVM guest may make.
// Anything not listed answers -ENOSYS (and is logged once), as Xen does for
// hypercalls an HVM guest may not use (hvm/hypercall.c).

#include "vmm/kvm/vcpu.h"
#include "vmm/xen/handlers.h"
#include "vmm/xen/xen_headers.h"
#include "vmm/xen/xen_platform.h"

namespace basalt::xen {

namespace {

constexpr HypercallEntry kTable[] = {
    {__HYPERVISOR_memory_op, "memory_op", hypercallMemoryOp},
    {__HYPERVISOR_multicall, "multicall", hypercallMulticall},
    {__HYPERVISOR_xen_version, "xen_version", hypercallXenVersion},
    {__HYPERVISOR_console_io, "console_io", hypercallConsoleIo},
    {__HYPERVISOR_grant_table_op, "grant_table_op", hypercallGrantTableOp},
    {__HYPERVISOR_vcpu_op, "vcpu_op", hypercallVcpuOp},
    {__HYPERVISOR_sched_op, "sched_op", hypercallSchedOp},
    {__HYPERVISOR_event_channel_op, "event_channel_op", hypercallEventChannelOp},
    {__HYPERVISOR_physdev_op, "physdev_op", hypercallPhysdevOp},
    {__HYPERVISOR_hvm_op, "hvm_op", hypercallHvmOp},
};

} // namespace

std::span<const HypercallEntry> hypercallTable() {
    return kTable;
}

bool isSelf(HypercallContext& ctx, uint16_t domid) {
    return domid == DOMID_SELF || domid == ctx.xen().config().domid;
}

} // namespace basalt::xen
