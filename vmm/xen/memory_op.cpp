// memory_op: the guest's physical map and memory accounting, as Xen 4.17's
// common/memory.c and arch/x86/mm.c answer an HVM domU (the p2m work itself
// is XenMemory's). Structures are read in the guest's word size: a 32-bit
// guest's xen_ulong_t, xen_pfn_t and handles are 4 bytes (compat layouts).

#include "vmm/xen/handlers.h"
#include "vmm/xen/xen_headers.h"
#include "vmm/xen/xen_memory.h"
#include "vmm/xen/xen_platform.h"

#include <algorithm>
#include <climits>
#include <cstddef>

namespace basalt::xen {

namespace {

// Xen's internal memop encoding (xen/include/xen/hypercall.h): the low bits
// of cmd are the subop, the rest a continuation's start extent.
constexpr unsigned kMemopExtentShift = 6;
constexpr uint64_t kMemopCmdMask = (1u << kMemopExtentShift) - 1;
constexpr unsigned kMaxNumaNode = 0xFF;        // XENMEMF_get_node() of "no node"
constexpr uint64_t kMaxExtentsPerCall = 65536; // no continuations: bound one call's work
constexpr uint64_t kPageShift = 12;
constexpr uint64_t kInvalidGfn = ~0ull;

// 32-bit (compat) layouts; xen/foreign/x86_32.h has only the core
// structures, not memory.h's, so they are written out here.
struct __attribute__((packed)) MemoryReservation32 {
    uint32_t extent_start;
    uint32_t nr_extents;
    uint32_t extent_order;
    uint32_t mem_flags;
    uint16_t domid;
    uint16_t pad;
};
static_assert(sizeof(MemoryReservation32) == 20);
static_assert(offsetof(MemoryReservation32, domid) == 16);

struct __attribute__((packed)) AddToPhysmap32 {
    uint16_t domid;
    uint16_t size;
    uint32_t space;
    uint32_t idx;
    uint32_t gpfn;
};
static_assert(sizeof(AddToPhysmap32) == 16);

struct __attribute__((packed)) AddToPhysmapBatch32 {
    uint16_t domid;
    uint16_t space;
    uint16_t size;
    uint16_t extra; // foreign_domid / res0
    uint32_t idxs;
    uint32_t gpfns;
    uint32_t errs;
};
static_assert(sizeof(AddToPhysmapBatch32) == 20);

struct __attribute__((packed)) RemoveFromPhysmap32 {
    uint16_t domid;
    uint16_t pad;
    uint32_t gpfn;
};
static_assert(sizeof(RemoveFromPhysmap32) == 8);

struct __attribute__((packed)) MemoryMap32 {
    uint32_t nr_entries;
    uint32_t buffer;
};
static_assert(sizeof(MemoryMap32) == 8);

static_assert(sizeof(xen_memory_reservation_t) == 32);
static_assert(sizeof(xen_add_to_physmap_t) == 24);
static_assert(sizeof(xen_add_to_physmap_batch_t) == 32);
static_assert(sizeof(xen_remove_from_physmap_t) == 16);
static_assert(sizeof(xen_memory_map_t) == 16);

// Word-size-neutral views of the structures.
struct Reservation {
    uint64_t extentStart, nrExtents;
    uint32_t order, memFlags;
    uint16_t domid;
};

struct Xatp {
    uint16_t domid, size;
    uint32_t space;
    uint64_t idx, gpfn;
};

struct XatpBatch {
    uint16_t domid, space, size, extra;
    uint64_t idxs, gpfns, errs;
};

uint64_t wordBytes(const HypercallContext& ctx) {
    return ctx.longMode() ? 8 : 4;
}

Result<uint64_t> readWord(const HypercallContext& ctx, uint64_t gva) {
    if (ctx.longMode())
        return ctx.readGuest<uint64_t>(gva);
    auto word = ctx.readGuest<uint32_t>(gva);
    if (!word)
        return word.error();
    return uint64_t{*word};
}

// An invalid gfn in the guest's word: all ones (a 32-bit guest's ~0 widens
// to 0xFFFFFFFF, which Xen's compat layer passes on as an ordinary gfn).
bool isInvalidGfn(const HypercallContext& ctx, uint64_t gfn) {
    return ctx.longMode() && gfn == kInvalidGfn;
}

// rcu_lock_domain_by_any_id() + XSM for a domU: itself; dom0 exists but is
// not its to touch (-EPERM); any other id does not exist (-ESRCH).
int checkDomain(HypercallContext& ctx, uint16_t domid) {
    if (isSelf(ctx, domid))
        return 0;
    return domid == 0 ? -XEN_EPERM : -XEN_ESRCH;
}

Result<Reservation> readReservation(const HypercallContext& ctx) {
    if (ctx.longMode()) {
        auto r = ctx.readGuest<xen_memory_reservation_t>(ctx.arg(1));
        if (!r)
            return r.error();
        return Reservation{reinterpret_cast<uint64_t>(r->extent_start.p), r->nr_extents,
                           r->extent_order, r->mem_flags, r->domid};
    }
    auto r = ctx.readGuest<MemoryReservation32>(ctx.arg(1));
    if (!r)
        return r.error();
    return Reservation{r->extent_start, r->nr_extents, r->extent_order, r->mem_flags, r->domid};
}

// XENMEMF flags Xen accepts for a domain without vNUMA on a one-node host.
bool memFlagsOk(uint32_t flags) {
    uint32_t bits = XENMEMF_get_address_bits(flags);
    if (bits != 0 && bits <= kPageShift)
        return false;
    if (flags & XENMEMF_vnode)
        return true; // no vNUMA: the node is ignored
    uint32_t node = XENMEMF_get_node(flags);
    return node == kMaxNumaNode || node == 0;
}

// increase/decrease_reservation and populate_physmap: returns the number of
// extents done (counting from the start extent), as Xen does; errors stop
// the loop rather than returning an errno.
int64_t reservationOp(HypercallContext& ctx, uint32_t op, uint64_t start) {
    auto r = readReservation(ctx);
    if (!r)
        return static_cast<int64_t>(start);
    if (r->nrExtents > (UINT_MAX >> kMemopExtentShift) || start >= r->nrExtents)
        return static_cast<int64_t>(start);
    if (checkDomain(ctx, r->domid) != 0 || !memFlagsOk(r->memFlags))
        return static_cast<int64_t>(start);
    if ((op == XENMEM_populate_physmap && (r->memFlags & XENMEMF_populate_on_demand)) ||
        r->order > XenMemory::kMaxOrder)
        return static_cast<int64_t>(start); // PoD on oneself is refused
    XenMemory& mem = *ctx.xen().xenMemory();
    uint64_t end = std::min(r->nrExtents, start + kMaxExtentsPerCall);
    uint64_t i = start;
    for (; i < end; ++i) {
        auto gfn = readWord(ctx, r->extentStart + i * wordBytes(ctx));
        if (!gfn)
            break;
        bool done = op == XENMEM_populate_physmap ? mem.populate(*gfn, r->order)
                                                  : mem.decrease(*gfn, r->order);
        if (!done)
            break;
    }
    return static_cast<int64_t>(i);
}

Result<Xatp> readXatp(const HypercallContext& ctx) {
    if (ctx.longMode()) {
        auto x = ctx.readGuest<xen_add_to_physmap_t>(ctx.arg(1));
        if (!x)
            return x.error();
        return Xatp{x->domid, x->size, x->space, x->idx, x->gpfn};
    }
    auto x = ctx.readGuest<AddToPhysmap32>(ctx.arg(1));
    if (!x)
        return x.error();
    return Xatp{x->domid, x->size, x->space, x->idx, x->gpfn};
}

// One page of any space, latching the shared_info layout on the way.
int addOne(HypercallContext& ctx, uint32_t space, uint64_t idx, uint64_t gpfn) {
    XenMemory& mem = *ctx.xen().xenMemory();
    if (space == XENMAPSPACE_shared_info)
        mem.sharedInfo().latchLayout(ctx.longMode());
    int rc = mem.addToPhysmap(space, idx, gpfn);
    if (rc == 0 && space == XENMAPSPACE_shared_info)
        mem.refreshAllTime();
    return rc;
}

int64_t addToPhysmap(HypercallContext& ctx, uint64_t start) {
    if (start > UINT16_MAX)
        return -XEN_EDOM;
    auto x = readXatp(ctx);
    if (!x)
        return -XEN_EFAULT;
    if (x->space == XENMAPSPACE_gmfn_foreign)
        return -XEN_ENOSYS; // only through add_to_physmap_batch
    if (int rc = checkDomain(ctx, x->domid); rc != 0)
        return rc;
    if (x->space == XENMAPSPACE_dev_mmio)
        return -XEN_EACCES; // the hardware domain's only
    if (isInvalidGfn(ctx, x->gpfn))
        return -XEN_EINVAL;
    if (x->space != XENMAPSPACE_gmfn_range)
        return addOne(ctx, x->space, x->idx, x->gpfn);
    if (x->size < start)
        return -XEN_EILSEQ;
    uint64_t limit = ctx.longMode() ? UINT64_MAX : UINT32_MAX;
    if (x->gpfn + x->size < x->gpfn || x->idx + x->size < x->idx || x->gpfn + x->size > limit ||
        x->idx + x->size > limit)
        return -XEN_EOVERFLOW;
    for (uint64_t i = start; i < x->size; ++i)
        if (int rc = addOne(ctx, XENMAPSPACE_gmfn, x->idx + i, x->gpfn + i); rc < 0)
            return rc;
    return 0;
}

Result<XatpBatch> readBatch(const HypercallContext& ctx) {
    if (ctx.longMode()) {
        auto b = ctx.readGuest<xen_add_to_physmap_batch_t>(ctx.arg(1));
        if (!b)
            return b.error();
        return XatpBatch{b->domid,
                         b->space,
                         b->size,
                         b->u.res0,
                         reinterpret_cast<uint64_t>(b->idxs.p),
                         reinterpret_cast<uint64_t>(b->gpfns.p),
                         reinterpret_cast<uint64_t>(b->errs.p)};
    }
    auto b = ctx.readGuest<AddToPhysmapBatch32>(ctx.arg(1));
    if (!b)
        return b.error();
    return XatpBatch{b->domid, b->space, b->size, b->extra, b->idxs, b->gpfns, b->errs};
}

int64_t addToPhysmapBatch(HypercallContext& ctx, uint64_t start) {
    if (start > UINT16_MAX)
        return -XEN_EDOM;
    auto b = readBatch(ctx);
    if (!b)
        return -XEN_EFAULT;
    if (b->space == XENMAPSPACE_gmfn_range)
        return -XEN_EOPNOTSUPP;
    if (int rc = checkDomain(ctx, b->domid); rc != 0)
        return rc;
    if (b->space == XENMAPSPACE_dev_mmio)
        return -XEN_EACCES;
    if (b->size < start)
        return -XEN_EILSEQ;
    if (b->size == start)
        return start ? -XEN_EILSEQ : 0;
    for (uint64_t i = start; i < b->size; ++i) {
        auto idx = readWord(ctx, b->idxs + i * wordBytes(ctx));
        auto gpfn = readWord(ctx, b->gpfns + i * wordBytes(ctx));
        if (!idx || !gpfn)
            return -XEN_EFAULT;
        if (isInvalidGfn(ctx, *gpfn))
            return -XEN_EINVAL;
        // A domU may not map other domains' memory (XSM): per entry.
        int32_t rc =
            b->space == XENMAPSPACE_gmfn_foreign ? -XEN_EPERM : addOne(ctx, b->space, *idx, *gpfn);
        if (!ctx.writeGuest<int32_t>(b->errs + i * sizeof(int32_t), rc).ok())
            return -XEN_EFAULT;
    }
    return 0;
}

int64_t removeFromPhysmap(HypercallContext& ctx, uint64_t start) {
    if (start)
        return -XEN_EINVAL;
    uint16_t domid;
    uint64_t gpfn;
    if (ctx.longMode()) {
        auto x = ctx.readGuest<xen_remove_from_physmap_t>(ctx.arg(1));
        if (!x)
            return -XEN_EFAULT;
        domid = x->domid;
        gpfn = x->gpfn;
    } else {
        auto x = ctx.readGuest<RemoveFromPhysmap32>(ctx.arg(1));
        if (!x)
            return -XEN_EFAULT;
        domid = x->domid;
        gpfn = x->gpfn;
    }
    if (int rc = checkDomain(ctx, domid); rc != 0)
        return rc;
    return ctx.xen().xenMemory()->removeFromPhysmap(gpfn);
}

// current_reservation, maximum_reservation, maximum_gpfn: arg is a domid_t.
int64_t domainStat(HypercallContext& ctx, uint32_t op, uint64_t start) {
    if (start)
        return -XEN_EINVAL;
    auto domid = ctx.readGuest<domid_t>(ctx.arg(1));
    if (!domid)
        return -XEN_EFAULT;
    if (int rc = checkDomain(ctx, *domid); rc != 0)
        return rc;
    XenMemory& mem = *ctx.xen().xenMemory();
    switch (op) {
    case XENMEM_current_reservation:
        return static_cast<int64_t>(mem.totPages());
    case XENMEM_maximum_reservation:
        return static_cast<int64_t>(mem.maxPages());
    default:
        return static_cast<int64_t>(mem.maxGpfn());
    }
}

int64_t memoryMap(HypercallContext& ctx) {
    uint32_t requested;
    uint64_t buffer;
    if (ctx.longMode()) {
        auto m = ctx.readGuest<xen_memory_map_t>(ctx.arg(1));
        if (!m)
            return -XEN_EFAULT;
        requested = m->nr_entries;
        buffer = reinterpret_cast<uint64_t>(m->buffer.p);
    } else {
        auto m = ctx.readGuest<MemoryMap32>(ctx.arg(1));
        if (!m)
            return -XEN_EFAULT;
        requested = m->nr_entries;
        buffer = m->buffer;
    }
    std::vector<E820Entry> map = ctx.xen().xenMemory()->e820();
    if (map.empty())
        return -XEN_ENOSYS; // no map set: Xen's "backwards compatibility" answer
    uint32_t count = std::min<uint32_t>(requested, static_cast<uint32_t>(map.size()));
    if (!ctx.copyToGuest(buffer,
                         {reinterpret_cast<const uint8_t*>(map.data()), count * sizeof(E820Entry)})
             .ok())
        return -XEN_EFAULT;
    // nr_entries is the first field in both layouts.
    return ctx.writeGuest<uint32_t>(ctx.arg(1), count).ok() ? 0 : -XEN_EFAULT;
}

// No vNUMA is configured: after its checks Xen answers -EOPNOTSUPP.
int64_t getVnumaInfo(HypercallContext& ctx, uint64_t start) {
    if (start)
        return -XEN_EINVAL;
    struct Head {
        uint16_t domid, pad;
    };
    auto head = ctx.readGuest<Head>(ctx.arg(1));
    if (!head)
        return -XEN_EFAULT;
    if (head->pad != 0)
        return -XEN_EINVAL;
    if (int rc = checkDomain(ctx, head->domid); rc != 0)
        return rc;
    return -XEN_EOPNOTSUPP;
}

} // namespace

int64_t hypercallMemoryOp(HypercallContext& ctx) {
    uint64_t cmd = ctx.arg(0);
    uint32_t op = static_cast<uint32_t>(cmd & kMemopCmdMask);
    uint64_t start = cmd >> kMemopExtentShift;
    if (!ctx.xen().xenMemory())
        return -XEN_ENOMEM;
    switch (op) {
    case XENMEM_decrease_reservation:
    case XENMEM_populate_physmap:
        return reservationOp(ctx, op, start);
    case XENMEM_maximum_ram_page:
        // Xen returns the host's highest frame; a guest only learns its own.
        return start ? -XEN_EINVAL : static_cast<int64_t>(ctx.xen().xenMemory()->maxGpfn());
    case XENMEM_current_reservation:
    case XENMEM_maximum_reservation:
    case XENMEM_maximum_gpfn:
        return domainStat(ctx, op, start);
    case XENMEM_add_to_physmap:
        return addToPhysmap(ctx, start);
    case XENMEM_add_to_physmap_batch:
        return addToPhysmapBatch(ctx, start);
    case XENMEM_remove_from_physmap:
        return removeFromPhysmap(ctx, start);
    case XENMEM_get_vnumainfo:
        return getVnumaInfo(ctx, start);
    case XENMEM_memory_map:
        // arch_memory_op matches the whole cmd: continuation bits make it unknown.
        if (start)
            return -XEN_ENOSYS;
        return memoryMap(ctx);
    default:
        reportUnknownOnce("memory_op", __HYPERVISOR_memory_op, op);
        return -XEN_ENOSYS;
    }
}

} // namespace basalt::xen
