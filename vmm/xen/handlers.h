#pragma once
// One handler per hypercall family, each in its own file (vmm/xen/<family>.cpp),
// listed in hypercall_table.cpp.

#include "vmm/xen/hypercall.h"

namespace basalt::xen {

int64_t hypercallMemoryOp(HypercallContext& ctx);       // memory_op.cpp
int64_t hypercallMulticall(HypercallContext& ctx);      // multicall.cpp
int64_t hypercallXenVersion(HypercallContext& ctx);     // xen_version.cpp
int64_t hypercallConsoleIo(HypercallContext& ctx);      // console_io.cpp
int64_t hypercallGrantTableOp(HypercallContext& ctx);   // grant_table_op.cpp
int64_t hypercallVcpuOp(HypercallContext& ctx);         // vcpu_op.cpp
int64_t hypercallSchedOp(HypercallContext& ctx);        // sched_op.cpp
int64_t hypercallEventChannelOp(HypercallContext& ctx); // event_channel_op.cpp
int64_t hypercallPhysdevOp(HypercallContext& ctx);      // physdev_op.cpp
int64_t hypercallHvmOp(HypercallContext& ctx);          // hvm_op.cpp

// True if `domid` names the calling domain (DOMID_SELF or its own id).
bool isSelf(HypercallContext& ctx, uint16_t domid);

} // namespace basalt::xen
