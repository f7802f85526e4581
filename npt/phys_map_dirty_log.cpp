// PhysMap's dirty logging: switching the hypervisor's log per region and
// answering region and window queries from the accumulated bitmaps (see
// npt/dirty_bitmap.h for why they accumulate).

#include "base/format.h"
#include "npt/npt_log.h"
#include "npt/phys_map.h"

#include <algorithm>
#include <cinttypes>
#include <mutex>

namespace basalt::npt {

Status PhysMap::setDirtyLogging(RegionId id, bool on) {
    // Exclusive: the slot changes and the bitmap is resized.
    std::unique_lock lock(mutex_);
    Region* region = findByIdLocked(id);
    if (!region)
        return hostError(ENOENT, formatString("no region with id %u for dirty logging", id));
    if (on && region->readOnly)
        return hostError(EINVAL, "region '" + region->name +
                                     "' is read-only for the guest, so it has no dirty log");
    if (on == region->logDirty)
        return {};
    BASALT_TRY(setSlotLocked(*region, on));
    region->logDirty = on;
    region->dirty.reset(on ? region->pages() : 0);
    return {};
}

Status PhysMap::pullDirtyLogLocked(Region& region) {
    std::vector<uint64_t> bitmap(region.dirty.words());
    Status fetched = backend_.fetchAndClearDirtyLog(region.slot, bitmap);
    if (!fetched)
        return hostError(fetched.error().code, "fetching the dirty log of region '" + region.name +
                                                   "': " + fetched.error().message);
    region.dirty.merge(bitmap);
    return {};
}

void PhysMap::markHostWriteLocked(Region& region, uint64_t offset, uint64_t len) {
    if (!region.logDirty || len == 0)
        return;
    uint64_t first = offset >> kPageShift;
    uint64_t last = (offset + len - 1) >> kPageShift;
    region.dirty.markRange(first, last - first + 1);
}

Result<std::vector<uint64_t>> PhysMap::fetchDirtyBitmap(RegionId id) {
    // Shared: bitmap words are updated atomically (DirtyBitmap).
    std::shared_lock lock(mutex_);
    Region* region = findByIdLocked(id);
    if (!region)
        return hostError(ENOENT, formatString("no region with id %u to fetch a dirty log of", id));
    if (!region->logDirty)
        return hostError(EINVAL, "dirty logging is off for region '" + region->name + "'");
    BASALT_TRY(pullDirtyLogLocked(*region));
    return region->dirty.takeAll();
}

// The window comes from guest-controlled values (the dirty-log test device), so
// argument errors are rate-limited.
Result<std::vector<uint64_t>> PhysMap::fetchDirtyPages(uint64_t gpa, uint64_t pages) {
    std::vector<uint64_t> pfns;
    if (pages == 0)
        return pfns;
    if (!isPageAligned(gpa))
        return guestError(
            EINVAL,
            formatString("dirty-page window start 0x%" PRIx64 " is not 4 KiB aligned", gpa));
    if (pages > bytesToPages(UINT64_MAX - gpa) + 1)
        return guestError(EINVAL, formatString("dirty-page window at 0x%" PRIx64 " of %" PRIu64
                                               " pages wraps past the top of the address space",
                                               gpa, pages));
    // Inclusive end: a window may reach the very last page.
    uint64_t last = gpa + (pages - 1) * kPageSize + kPageMask;

    std::shared_lock lock(mutex_);
    std::vector<Region*> touched;
    for (auto it = firstEndingAfterLocked(gpa); it != regions_.end() && it->second->gpa <= last;
         ++it) {
        Region* region = it->second.get();
        if (region->readOnly)
            continue;
        if (!region->logDirty)
            return guestError(EINVAL, formatString("dirty-page window at 0x%" PRIx64 " of %" PRIu64
                                                   " pages touches region '%s', which has dirty "
                                                   "logging off",
                                                   gpa, pages, region->name.c_str()));
        touched.push_back(region);
    }
    // Pull every log before taking any bits, so a failed pull consumes nothing.
    for (Region* region : touched)
        BASALT_TRY(pullDirtyLogLocked(*region));
    for (Region* region : touched) {
        uint64_t from = std::max(gpa, region->gpa);
        uint64_t to = std::min(last, region->end() - 1);
        uint64_t firstPage = bytesToPages(from - region->gpa);
        uint64_t count = bytesToPages(to - from) + 1;
        region->dirty.takeRange(firstPage, count, bytesToPages(region->gpa), pfns);
    }
    return pfns;
}

} // namespace basalt::npt

namespace basalt::npt {

Status PhysMap::markDirty(uint64_t gpa, uint64_t pages) {
    if (!isPageAligned(gpa) || gpa >= kGuestPhysLimit ||
        pages > bytesToPages(kGuestPhysLimit - gpa))
        return hostError(EINVAL, formatString("cannot mark %" PRIu64 " pages at 0x%" PRIx64
                                              " dirty: not a guest-physical range",
                                              pages, gpa));
    uint64_t end = gpa + pages * kPageSize;
    std::shared_lock lock(mutex_);
    for (auto it = firstEndingAfterLocked(gpa); it != regions_.end() && it->second->gpa < end;
         ++it) {
        Region& region = *it->second;
        uint64_t from = std::max(gpa, region.gpa);
        uint64_t to = std::min(end, region.end());
        markHostWriteLocked(region, from - region.gpa, to - from);
    }
    return {};
}

} // namespace basalt::npt
