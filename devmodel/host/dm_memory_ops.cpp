#include "devmodel/host/dm_request.h"

#include "npt/page.h"
#include "npt/phys_map.h"
#include "vmm/ioreq/ioreq_servers.h"
#include "vmm/xen/xen_headers.h"

#include <xen/hvm/dm_op.h>

#include <sys/stat.h>

// Memory ops of the device-model host: foreign maps of guest pages and
// ioreq pages, and the memory QEMU manages (VRAM, ROMs, dirty tracking).

namespace basalt::devmodel {

namespace {
// Xen's track_dirty_vram limit: 1 GiB of frames.
constexpr uint64_t kMaxTrackedVramPages = (uint64_t{1} << 30) >> 12;
// XEN_DOMCTL_MEM_CACHEATTR_* and XEN_DOMCTL_DELETE_MEM_CACHEATTR (domctl.h).
constexpr uint32_t kCacheattrUc = 0, kCacheattrWc = 1, kCacheattrWt = 4, kCacheattrWp = 5,
                   kCacheattrWb = 6, kCacheattrUcMinus = 7, kCacheattrDelete = ~0u;
} // namespace

// --- foreign memory

void Dispatcher::fillSlot(Request& r, DmPfnSlot& slot, int fd, uint64_t offset) {
    if (fd != r.lastFd) {
        struct stat st;
        if (::fstat(fd, &st) < 0) {
            slot.error = EIO;
            return;
        }
        r.lastFd = fd;
        r.lastKey = {st.st_dev, st.st_ino};
    }
    const auto key = r.lastKey;
    auto it = backings_.find(key);
    if (it == backings_.end()) {
        if (r.fds.size() >= kDmMaxFdsPerReply) {
            slot.error = EMFILE; // no room for another fd in this reply: ask again
            return;
        }
        it = backings_.emplace(key, nextBacking_++).first;
        r.fds.push_back(fd);
    }
    slot.backing = it->second;
    slot.error = 0;
    slot.offset = offset;
}

int Dispatcher::mapPfns(Request& r) {
    DmMapPfnsRequest q;
    std::vector<uint64_t> pfns;
    if (!r.fixed(q, false) || q.pad || !r.array<DmMapPfnsRequest>(q.count, pfns))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (!validMapProt(q.prot))
        return EINVAL;
    if (q.count > kMaxReplyBody / sizeof(DmPfnSlot))
        return E2BIG;
    if (!s_.physMap)
        return ENOSYS;
    for (uint64_t pfn : pfns) {
        DmPfnSlot slot{};
        ioreq::PageRef ref;
        if (s_.ioreq && s_.ioreq->pageForGfn(pfn, ref) == 0) {
            fillSlot(r, slot, ref.fd, ref.offset);
        } else if (pfn >= kMaxGfn) {
            slot.error = EINVAL;
        } else if (auto page = s_.physMap->pageAt(pfn << npt::kPageShift); !page) {
            slot.error = ENOENT; // a hole: nothing to map, as Xen's p2m_invalid
        } else if (page->kind == npt::RegionKind::Rom && (q.prot & PROT_WRITE)) {
            slot.error = EACCES; // ROMs are read-only for the device model too
        } else {
            fillSlot(r, slot, page->fd, page->fdOffset);
        }
        r.put(slot);
    }
    return 0;
}

int Dispatcher::mapResource(Request& r) {
    DmMapResourceRequest q;
    if (int rc = r.fixedFor(s_.domid, q))
        return rc;
    if (!validMapProt(q.prot))
        return EINVAL;
    if (q.type != XENMEM_resource_ioreq_server)
        return EOPNOTSUPP;
    if (!s_.ioreq)
        return ENOSYS;
    // Frame 0 is the buffered page, frame 1 the ioreq page; nothing beyond.
    if (q.nrFrames == 0 || q.nrFrames > 2 || q.frame > 1 || q.frame + q.nrFrames > 2)
        return EINVAL;
    std::vector<DmPfnSlot> slots(q.nrFrames);
    for (uint64_t i = 0; i < q.nrFrames; ++i) {
        ioreq::PageRef ref;
        if (int rc = s_.ioreq->pageForResource(q.id, q.frame + i, ref))
            return rc;
        fillSlot(r, slots[i], ref.fd, ref.offset);
    }
    for (const auto& slot : slots)
        r.put(slot);
    return 0;
}

// --- memory the device model manages

// As Xen's hap_track_dirty_vram: one tracked range per domain. A call for a
// new range starts logging it and reports every page dirty; a call for the
// same range reports (and clears) what the guest wrote since; nr 0 forgets
// the range.
int Dispatcher::trackDirtyVram(Request& r) {
    DmTrackDirtyVramRequest q;
    if (int rc = r.fixedFor(s_.domid, q))
        return rc;
    if (!s_.physMap)
        return ENOSYS;
    if (q.nr > kMaxTrackedVramPages || q.firstPfn >= kMaxGfn || q.nr > kMaxGfn - q.firstPfn)
        return EINVAL;
    if (q.nr == 0) {
        vramNr_ = 0;
        return 0;
    }
    uint64_t gpa = q.firstPfn << npt::kPageShift;
    auto region = s_.physMap->regionAt(gpa);
    if (!region)
        return ENOENT;
    if (gpa + uint64_t{q.nr} * npt::kPageSize > region->gpa + region->size || region->readOnly)
        return EINVAL;
    std::vector<uint64_t> bitmap((uint64_t{q.nr} + 63) / 64, 0);
    if (q.firstPfn != vramFirst_ || q.nr != vramNr_) {
        if (Status st = s_.physMap->setDirtyLogging(region->id, true); !st)
            return st.error().code;
        // Forget what was logged before: the device model redraws it all.
        if (auto old = s_.physMap->fetchDirtyPages(gpa, q.nr); !old)
            return old.error().code;
        vramFirst_ = q.firstPfn;
        vramNr_ = q.nr;
        std::fill(bitmap.begin(), bitmap.end(), ~uint64_t{0});
    } else {
        auto dirty = s_.physMap->fetchDirtyPages(gpa, q.nr);
        if (!dirty)
            return dirty.error().code;
        for (uint64_t pfn : *dirty) {
            uint64_t bit = pfn - q.firstPfn;
            bitmap[bit / 64] |= uint64_t{1} << (bit % 64);
        }
    }
    if (q.nr % 64)
        bitmap.back() &= (uint64_t{1} << (q.nr % 64)) - 1;
    for (uint64_t w : bitmap)
        r.put(w);
    return 0;
}

int Dispatcher::modifiedMemory(Request& r) {
    DmModifiedMemoryRequest q;
    std::vector<DmExtent> extents;
    if (!r.fixed(q, false) || !r.array<DmModifiedMemoryRequest>(q.count, extents))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (!s_.physMap)
        return ENOSYS;
    for (const auto& e : extents)
        if (e.firstPfn >= kMaxGfn || e.nr > kMaxGfn - e.firstPfn)
            return EINVAL;
    for (const auto& e : extents)
        if (Status st = s_.physMap->markDirty(e.firstPfn << npt::kPageShift, e.nr); !st)
            return st.error().code;
    return 0;
}

// Xen's set_mem_type with allow_p2m_type_change: RAM may become ram_rw,
// ram_ro or mmio_dm, a hole only mmio_dm. What KVM's memslots express is
// supported: RAM staying read-write, holes (which already reach the device
// model) becoming mmio_dm, ROMs staying read-only. Changing the guest's view
// of a RAM page is EOPNOTSUPP.
int Dispatcher::setMemType(Request& r) {
    DmSetMemTypeRequest q;
    if (int rc = r.fixedFor(s_.domid, q))
        return rc;
    if (!s_.physMap)
        return ENOSYS;
    uint64_t maxGfn = s_.physMap->maxMappedEnd() >> npt::kPageShift; // one past
    if (q.nr == 0 || q.firstPfn >= maxGfn || q.nr > maxGfn - q.firstPfn)
        return EINVAL;
    // HVMMEM_ioreq_server needs a server mapped for that type, which this
    // wire never does: Xen answers EINVAL then.
    if (q.type == HVMMEM_unused || q.type >= HVMMEM_ioreq_server)
        return EINVAL;
    for (uint64_t i = 0; i < q.nr; ++i) {
        auto page = s_.physMap->pageAt((q.firstPfn + i) << npt::kPageShift);
        if (!page) {
            if (q.type != HVMMEM_mmio_dm)
                return EINVAL;
            continue;
        }
        bool rom = page->kind == npt::RegionKind::Rom;
        if ((q.type == HVMMEM_ram_rw && rom) || (q.type == HVMMEM_ram_ro && !rom) ||
            q.type == HVMMEM_mmio_dm)
            return EOPNOTSUPP;
    }
    return 0;
}

int Dispatcher::relocateMemory(Request& r) {
    DmRelocateMemoryRequest q;
    if (int rc = r.fixedFor(s_.domid, q))
        return rc;
    if (!s_.physMap)
        return ENOSYS;
    if (q.size == 0 || q.srcGfn >= kMaxGfn || q.dstGfn >= kMaxGfn || q.size > kMaxGfn - q.srcGfn ||
        q.size > kMaxGfn - q.dstGfn)
        return EINVAL;
    // Only device-model memory moves (the VGA LFB when its BAR moves), and
    // only as a whole region.
    auto region = s_.physMap->regionAt(q.srcGfn << npt::kPageShift);
    if (!region)
        return ENOENT;
    if (region->kind != npt::RegionKind::Overlay || region->gpa != q.srcGfn << npt::kPageShift ||
        region->size != uint64_t{q.size} << npt::kPageShift)
        return EINVAL;
    if (Status st = s_.physMap->moveRegion(region->id, q.dstGfn << npt::kPageShift); !st)
        return st.error().code;
    if (s_.ioreq)
        s_.ioreq->broadcastInvalidate();
    return 0;
}

int Dispatcher::pinCacheattr(Request& r) {
    DmPinCacheattrRequest q;
    if (int rc = r.fixedFor(s_.domid, q))
        return rc;
    if (q.start > q.end || q.end >= kMaxGfn)
        return EINVAL;
    switch (q.type) {
    case kCacheattrUc:
    case kCacheattrWc:
    case kCacheattrWt:
    case kCacheattrWp:
    case kCacheattrWb:
    case kCacheattrUcMinus:
    case kCacheattrDelete:
        // KVM follows the guest's own PAT and MTRRs; there is nothing to pin.
        return 0;
    default:
        return EINVAL;
    }
}

int Dispatcher::populatePhysmap(Request& r) {
    DmPopulatePhysmapRequest q;
    std::vector<uint64_t> gpfns;
    if (!r.fixed(q, false) || !r.array<DmPopulatePhysmapRequest>(q.count, gpfns))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (!s_.physMap)
        return ENOSYS;
    // QEMU populates order-0 extents with no flags (xen_ram_alloc).
    if (q.extentOrder != 0 || q.memFlags != 0)
        return EINVAL;
    if (q.count > kMaxPopulatedPages - populatedPages_)
        return ENOMEM;
    std::vector<uint64_t> sorted = gpfns;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
        return EINVAL;
    for (uint64_t gpfn : sorted) {
        if (gpfn >= kMaxGfn)
            return EINVAL;
        if (s_.physMap->pageAt(gpfn << npt::kPageShift))
            return EEXIST;
    }
    // Contiguous runs become one region each (one memslot, not one per page).
    std::vector<npt::RegionId> made;
    for (size_t i = 0; i < sorted.size();) {
        size_t j = i + 1;
        while (j < sorted.size() && sorted[j] == sorted[j - 1] + 1)
            ++j;
        auto id = s_.physMap->addDeviceRam(sorted[i] << npt::kPageShift, (j - i) << npt::kPageShift,
                                           "device-model memory");
        if (!id) {
            for (auto undo : made)
                (void)s_.physMap->removeRegion(undo);
            return id.error().code;
        }
        made.push_back(*id);
        i = j;
    }
    populatedPages_ += q.count;
    return 0;
}

} // namespace basalt::devmodel
