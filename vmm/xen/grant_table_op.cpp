// grant_table_op: the guest's own grant table, version 1 (common/grant_table.c
// for an HVM domU). Mapping and copying other domains' grants is a host-side
// service here (grant_host.h); a domU asking for it gets -ENOSYS.

#include "vmm/xen/handlers.h"
#include "vmm/xen/xen_headers.h"
#include "vmm/xen/xen_memory.h"
#include "vmm/xen/xen_platform.h"

#include <climits>
#include <cstddef>

namespace basalt::xen {

namespace {

// Xen's internal encoding (grant_table.c): bits above 12 carry a
// continuation and are refused on entry for these ops.
constexpr unsigned kContinuationShift = 12;
constexpr uint64_t kCmdMask = (1u << kContinuationShift) - 1;
constexpr uint32_t kMaxVersion = 1; // v2 is not offered

// The 32-bit (compat) gnttab_setup_table: its frame_list handle is 4 bytes;
// not in xen/foreign/x86_32.h.
struct __attribute__((packed)) SetupTable32 {
    uint16_t dom;
    uint16_t pad;
    uint32_t nr_frames;
    int16_t status;
    uint16_t pad2;
    uint32_t frame_list;
};
static_assert(sizeof(SetupTable32) == 16);
static_assert(offsetof(SetupTable32, status) == offsetof(gnttab_setup_table_t, status));
static_assert(sizeof(gnttab_setup_table_t) == 24);
static_assert(sizeof(gnttab_query_size_t) == 16); // the same in both modes
static_assert(sizeof(gnttab_get_version_t) == 8);

// GNTST_* for another domain: dom0 exists but XSM refuses; others do not exist.
int16_t domainStatus(HypercallContext& ctx, domid_t dom) {
    if (isSelf(ctx, dom))
        return GNTST_okay;
    return dom == 0 ? GNTST_permission_denied : GNTST_bad_domain;
}

int64_t setupTable(HypercallContext& ctx, uint64_t count) {
    if (ctx.longMode() ? count != 1 : count > 1)
        return -XEN_EINVAL;
    uint64_t uop = ctx.arg(1);
    domid_t dom;
    uint32_t nrFrames;
    uint64_t frameList;
    if (ctx.longMode()) {
        auto op = ctx.readGuest<gnttab_setup_table_t>(uop);
        if (!op)
            return -XEN_EFAULT;
        dom = op->dom;
        nrFrames = op->nr_frames;
        frameList = reinterpret_cast<uint64_t>(op->frame_list.p);
    } else {
        auto op = ctx.readGuest<SetupTable32>(uop);
        if (!op)
            return -XEN_EFAULT;
        dom = op->dom;
        nrFrames = op->nr_frames;
        frameList = op->frame_list;
    }
    GrantTable& table = ctx.xen().xenMemory()->grantTable();
    int16_t status = domainStatus(ctx, dom);
    if (status == GNTST_okay && (nrFrames > table.maxFrames() || !table.grow(nrFrames)))
        status = GNTST_general_error;
    if (status == GNTST_okay) {
        uint64_t word = ctx.longMode() ? 8 : 4;
        for (uint32_t i = 0; i < nrFrames; ++i) {
            // An unmapped frame reads as INVALID_GFN, cut to the guest's word.
            uint64_t gfn = table.frameGfn(i);
            if (!ctx.copyToGuest(frameList + i * word, {reinterpret_cast<uint8_t*>(&gfn), word})
                     .ok())
                status = GNTST_bad_virt_addr;
        }
    }
    return ctx.writeGuest<int16_t>(uop + offsetof(gnttab_setup_table_t, status), status).ok()
               ? 0
               : -XEN_EFAULT;
}

int64_t querySize(HypercallContext& ctx, uint64_t count) {
    if (count != 1)
        return -XEN_EINVAL;
    auto op = ctx.readGuest<gnttab_query_size_t>(ctx.arg(1));
    if (!op)
        return -XEN_EFAULT;
    GrantTable& table = ctx.xen().xenMemory()->grantTable();
    op->status = domainStatus(ctx, op->dom);
    if (op->status == GNTST_okay) {
        op->nr_frames = table.nrFrames();
        op->max_nr_frames = table.maxFrames();
    }
    return ctx.writeGuest(ctx.arg(1), *op).ok() ? 0 : -XEN_EFAULT;
}

int64_t setVersion(HypercallContext& ctx) {
    auto op = ctx.readGuest<gnttab_set_version_t>(ctx.arg(1));
    if (!op)
        return -XEN_EFAULT;
    int64_t rc = 0;
    if (op->version != 1 && op->version != 2)
        rc = -XEN_EINVAL;
    else if (op->version > kMaxVersion)
        rc = -XEN_ENOSYS; // as Xen with max_grant_version=1
    // The table's version is written back whatever the outcome.
    op->version = ctx.xen().xenMemory()->grantTable().version();
    if (!ctx.writeGuest(ctx.arg(1), *op).ok())
        return -XEN_EFAULT;
    return rc;
}

int64_t getVersion(HypercallContext& ctx) {
    auto op = ctx.readGuest<gnttab_get_version_t>(ctx.arg(1));
    if (!op)
        return -XEN_EFAULT;
    if (!isSelf(ctx, op->dom))
        return op->dom == 0 ? -XEN_EPERM : -XEN_ESRCH;
    op->version = ctx.xen().xenMemory()->grantTable().version();
    return ctx.writeGuest(ctx.arg(1) + offsetof(gnttab_get_version_t, version), op->version).ok()
               ? 0
               : -XEN_EFAULT;
}

} // namespace

int64_t hypercallGrantTableOp(HypercallContext& ctx) {
    uint64_t cmd = ctx.arg(0);
    uint64_t count = ctx.arg(2);
    if (static_cast<int32_t>(count) < 0)
        return -XEN_EINVAL;
    if ((cmd & kCmdMask) != GNTTABOP_cache_flush && (cmd & ~kCmdMask))
        return -XEN_EINVAL;
    if (!ctx.xen().xenMemory())
        return -XEN_ENOMEM;
    switch (cmd & kCmdMask) {
    case GNTTABOP_setup_table:
        return setupTable(ctx, count);
    case GNTTABOP_query_size:
        return querySize(ctx, count);
    case GNTTABOP_set_version:
        return setVersion(ctx);
    case GNTTABOP_get_version:
        return getVersion(ctx);
    default:
        reportUnknownOnce("grant_table_op", __HYPERVISOR_grant_table_op, cmd & kCmdMask);
        return -XEN_ENOSYS;
    }
}

} // namespace basalt::xen
