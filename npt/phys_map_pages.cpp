// PhysMap's page-granular changes: the guest-physical map as Xen's p2m, one
// page at a time (see phys_map.h). Example: hvmloader maps shared_info at
// gpfn 0xFDFFF (a hole) -> mapPage adds a one-page overlay region. Linux maps
// it at a RAM gpfn instead -> unmapPage splits "ram-low" [0xC0000, L) into
// [0xC0000, gpa) and [gpa + 4 KiB, L), then mapPage puts the overlay between.

#include "base/format.h"
#include "npt/npt_log.h"
#include "npt/phys_map.h"

#include <algorithm>
#include <cinttypes>
#include <fcntl.h>
#include <mutex>

namespace basalt::npt {

Result<PageSource> PhysMap::pageAt(uint64_t gpa) const {
    if (!isPageAligned(gpa))
        return makeError(EINVAL, formatString("gpa 0x%" PRIx64 " is not page aligned", gpa));
    std::shared_lock lock(mutex_);
    const Region* region = findLocked(gpa);
    if (!region)
        return makeError(ENOENT, formatString("no page at 0x%" PRIx64, gpa));
    uint64_t offset = gpa - region->gpa;
    return PageSource{region->kind, region->fd, region->fdOffset + offset, region->hva + offset};
}

Result<uint64_t> PhysMap::ramHomeOffset(uint64_t gpa) const {
    if (gpa < kVgaHoleStart || (gpa >= kVgaHoleEnd && gpa < lowRamEnd_))
        return gpa & ~kPageMask;
    if (gpa >= kHighRamBase && gpa < highRamEnd())
        return lowRamEnd_ + ((gpa - kHighRamBase) & ~kPageMask);
    return makeError(ENOENT, formatString("gpa 0x%" PRIx64 " was never RAM", gpa));
}

PageSource PhysMap::ramPage(uint64_t fdOffset) const {
    return PageSource{RegionKind::Ram, ramFd_.get(), fdOffset, ramBase_ + fdOffset};
}

Status PhysMap::discardRamPage(uint64_t fdOffset) {
    if (!isPageAligned(fdOffset) || fdOffset >= ramBytes_)
        return hostError(EINVAL,
                         formatString("RAM offset 0x%" PRIx64 " is not a page of RAM", fdOffset));
    // Hole punching keeps the mapping valid; the page reads as zero and its
    // host memory is freed, as Xen frees a decreased page.
    if (::fallocate(ramFd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                    static_cast<off_t>(fdOffset), static_cast<off_t>(kPageSize)) < 0) {
        int err = errno;
        return hostErrno(err, formatString("freeing RAM page at offset 0x%" PRIx64, fdOffset));
    }
    return {};
}

bool PhysMap::ramOffsetMapped(uint64_t fdOffset) const {
    std::shared_lock lock(mutex_);
    for (const auto& [gpa, region] : regions_)
        if (region->kind == RegionKind::Ram && fdOffset >= region->fdOffset &&
            fdOffset - region->fdOffset < region->size)
            return true;
    return false;
}

uint64_t PhysMap::ramPagesMapped() const {
    std::shared_lock lock(mutex_);
    uint64_t pages = 0;
    for (const auto& [gpa, region] : regions_)
        if (region->kind == RegionKind::Ram)
            pages += region->pages();
    return pages;
}

uint64_t PhysMap::maxMappedEnd() const {
    std::shared_lock lock(mutex_);
    return maxMappedEnd_;
}

Result<uint8_t*> PhysMap::ramPagePointer(uint64_t gpa) const {
    if (!isPageAligned(gpa))
        return makeError(EINVAL, formatString("gpa 0x%" PRIx64 " is not page aligned", gpa));
    std::shared_lock lock(mutex_);
    const Region* region = findLocked(gpa);
    if (!region || region->kind != RegionKind::Ram)
        return makeError(EINVAL, formatString("gpa 0x%" PRIx64 " is not guest RAM", gpa));
    return region->hva + (gpa - region->gpa);
}

Status PhysMap::splitAroundLocked(Region& region, uint64_t gpa) {
    // A guest can ask for many splits: running out of memslots is its
    // problem (rate-limited), checked before anything changes.
    size_t pieces = (gpa > region.gpa ? 1 : 0) + (gpa + kPageSize < region.end() ? 1 : 0);
    size_t freeSlots = std::count(slotUsed_.begin(), slotUsed_.end(), false);
    if (pieces > freeSlots + 1)
        return guestError(ENOSPC, formatString("no memslot left to split region '%s' at 0x%" PRIx64,
                                               region.name.c_str(), gpa));
    // KVM cannot shrink a memslot: drop it, then add the pieces.
    Status removed = backend_.removeSlot(region.slot);
    if (!removed)
        return hostError(removed.error().code, "removing the memslot of region '" + region.name +
                                                   "': " + removed.error().message);
    slotUsed_[region.slot] = false;
    auto original = std::move(regions_.at(region.gpa));
    regions_.erase(original->gpa);

    std::vector<RegionId> added;
    auto addPiece = [&](uint64_t start, uint64_t end) -> Status {
        if (start >= end)
            return {};
        auto piece = std::make_unique<Region>();
        uint64_t offset = start - original->gpa;
        piece->name = original->name;
        piece->kind = original->kind;
        piece->gpa = start;
        piece->size = end - start;
        piece->hva = original->hva + offset;
        piece->fd = original->fd;
        piece->fdOffset = original->fdOffset + offset;
        piece->readOnly = original->readOnly;
        Region* raw = piece.get();
        auto id = insertLocked(std::move(piece));
        if (!id)
            return id.error();
        added.push_back(*id);
        if (original->logDirty) {
            BASALT_TRY(setSlotLocked(*raw, true));
            raw->logDirty = true;
            // What the old slot logged is gone: report every page dirty.
            raw->dirty.reset(raw->pages());
            raw->dirty.markRange(0, raw->pages());
        }
        return {};
    };
    Status split = addPiece(original->gpa, gpa);
    if (split)
        split = addPiece(gpa + kPageSize, original->end());
    if (split)
        return {};

    // Put the original back so the guest keeps its memory.
    for (RegionId id : added) {
        Region* piece = findByIdLocked(id);
        (void)backend_.removeSlot(piece->slot);
        slotUsed_[piece->slot] = false;
        regions_.erase(piece->gpa);
    }
    auto slot = allocateSlotLocked(original->name);
    if (slot) {
        original->slot = *slot;
        if (setSlotLocked(*original, original->logDirty))
            regions_.emplace(original->gpa, std::move(original));
        else
            slotUsed_[*slot] = false;
    }
    return split;
}

Result<PageSource> PhysMap::unmapPage(uint64_t gpa) {
    if (!isPageAligned(gpa))
        return guestError(EINVAL, formatString("unmapping unaligned gpa 0x%" PRIx64, gpa));
    std::unique_lock lock(mutex_);
    Region* region = findLocked(gpa);
    if (!region)
        return makeError(ENOENT, formatString("no page at 0x%" PRIx64 " to unmap", gpa));
    if (region->kind == RegionKind::Rom)
        return guestError(
            EPERM, formatString("page 0x%" PRIx64 " is ROM '%s'", gpa, region->name.c_str()));
    uint64_t offset = gpa - region->gpa;
    PageSource page{region->kind, region->fd, region->fdOffset + offset, region->hva + offset};
    if (region->size == kPageSize) {
        Status removed = backend_.removeSlot(region->slot);
        if (!removed)
            return hostError(removed.error().code,
                             formatString("removing the memslot of page 0x%" PRIx64 ": %s", gpa,
                                          removed.error().message.c_str()));
        slotUsed_[region->slot] = false;
        regions_.erase(region->gpa);
        return page;
    }
    BASALT_TRY(splitAroundLocked(*region, gpa));
    return page;
}

Result<RegionId> PhysMap::mapPage(uint64_t gpa, const PageSource& page, std::string name) {
    if (!isPageAligned(gpa) || gpa >= kGuestPhysLimit || page.hva == nullptr ||
        page.kind == RegionKind::Rom)
        return guestError(EINVAL, formatString("cannot map a page at 0x%" PRIx64, gpa));
    auto region = std::make_unique<Region>();
    region->name = std::move(name);
    region->kind = page.kind;
    region->gpa = gpa;
    region->size = kPageSize;
    region->hva = page.hva;
    region->fd = page.fd;
    region->fdOffset = page.fdOffset;
    std::unique_lock lock(mutex_);
    if (findLocked(gpa))
        return makeError(EEXIST, formatString("page 0x%" PRIx64 " is already mapped", gpa));
    if (std::count(slotUsed_.begin(), slotUsed_.end(), false) == 0)
        return guestError(ENOSPC, formatString("no memslot left for a page at 0x%" PRIx64, gpa));
    return insertLocked(std::move(region));
}

} // namespace basalt::npt
