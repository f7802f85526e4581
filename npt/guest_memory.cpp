#include "npt/guest_memory.h"

#include "base/format.h"
#include "npt/npt_log.h"

#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <mutex>
#include <utility>

namespace basalt::npt {
namespace {

const char* verbOf(bool isWrite) {
    return isWrite ? "write" : "read";
}

} // namespace

Status GuestMemory::checkLocked(uint64_t gpa, uint64_t len, Access access) const {
    // Host loads come from the domain builder's configuration, not the guest.
    auto fail = [access](int code, std::string message) {
        return access == Access::HostWrite ? hostError(code, std::move(message))
                                           : guestError(code, std::move(message));
    };
    const char* verb = verbOf(access != Access::GuestRead);
    if (len - 1 > UINT64_MAX - gpa)
        return fail(EFAULT, formatString("guest-physical %s at 0x%" PRIx64 " of %" PRIu64
                                         " bytes wraps past the top of the address space",
                                         verb, gpa, len));
    uint64_t last = gpa + (len - 1);
    uint64_t pos = gpa;
    for (;;) {
        const PhysMap::Region* region = map_.findLocked(pos);
        if (!region)
            return fail(EFAULT,
                        formatString("guest-physical %s at 0x%" PRIx64 " of %" PRIu64
                                     " bytes reaches 0x%" PRIx64 ", which is not RAM or ROM",
                                     verb, gpa, len, pos));
        if (access == Access::GuestWrite && region->readOnly)
            return fail(EACCES, formatString("guest-physical write at 0x%" PRIx64 " of %" PRIu64
                                             " bytes reaches read-only region '%s' at 0x%" PRIx64,
                                             gpa, len, region->name.c_str(), region->gpa));
        if (last < region->end())
            return {};
        pos = region->end();
    }
}

template <typename Fn>
void GuestMemory::forEachChunkLocked(uint64_t gpa, uint64_t len, Fn&& fn) const {
    uint64_t done = 0;
    while (done < len) {
        PhysMap::Region* region = map_.findLocked(gpa + done);
        uint64_t offset = gpa + done - region->gpa;
        uint64_t chunk = std::min(len - done, region->size - offset);
        fn(*region, offset, done, chunk);
        done += chunk;
    }
}

Status GuestMemory::read(uint64_t gpa, std::span<uint8_t> out) const {
    if (out.empty())
        return {};
    std::shared_lock lock(map_.mutex_);
    BASALT_TRY(checkLocked(gpa, out.size(), Access::GuestRead));
    forEachChunkLocked(
        gpa, out.size(),
        [&](PhysMap::Region& region, uint64_t offset, uint64_t done, uint64_t chunk) {
            std::memcpy(out.data() + done, region.hva + offset, chunk);
        });
    return {};
}

Status GuestMemory::writeBytes(uint64_t gpa, std::span<const uint8_t> in, Access access) {
    if (in.empty())
        return {};
    std::shared_lock lock(map_.mutex_);
    BASALT_TRY(checkLocked(gpa, in.size(), access));
    forEachChunkLocked(
        gpa, in.size(),
        [&](PhysMap::Region& region, uint64_t offset, uint64_t done, uint64_t chunk) {
            std::memcpy(region.hva + offset, in.data() + done, chunk);
            PhysMap::markHostWriteLocked(region, offset, chunk);
        });
    return {};
}

Status GuestMemory::write(uint64_t gpa, std::span<const uint8_t> in) {
    return writeBytes(gpa, in, Access::GuestWrite);
}

Status GuestMemory::loadImage(uint64_t gpa, std::span<const uint8_t> image) {
    return writeBytes(gpa, image, Access::HostWrite);
}

Status GuestMemory::fill(uint64_t gpa, uint8_t byte, uint64_t len) {
    if (len == 0)
        return {};
    std::shared_lock lock(map_.mutex_);
    BASALT_TRY(checkLocked(gpa, len, Access::GuestWrite));
    forEachChunkLocked(gpa, len,
                       [&](PhysMap::Region& region, uint64_t offset, uint64_t, uint64_t chunk) {
                           std::memset(region.hva + offset, byte, chunk);
                           PhysMap::markHostWriteLocked(region, offset, chunk);
                       });
    return {};
}

// Overlapping ranges are copied piece by piece in the direction memmove would
// use (backwards when the destination starts inside the source). That is
// correct because each guest-physical byte has exactly one host byte, so two
// pieces alias only where their guest-physical ranges overlap.
Status GuestMemory::copy(uint64_t dstGpa, uint64_t srcGpa, uint64_t len) {
    if (len == 0)
        return {};
    std::shared_lock lock(map_.mutex_);
    BASALT_TRY(checkLocked(srcGpa, len, Access::GuestRead));
    BASALT_TRY(checkLocked(dstGpa, len, Access::GuestWrite));

    auto movePiece = [&](uint64_t at, uint64_t chunk) {
        PhysMap::Region* src = map_.findLocked(srcGpa + at);
        PhysMap::Region* dst = map_.findLocked(dstGpa + at);
        uint64_t dstOffset = dstGpa + at - dst->gpa;
        std::memmove(dst->hva + dstOffset, src->hva + (srcGpa + at - src->gpa), chunk);
        PhysMap::markHostWriteLocked(*dst, dstOffset, chunk);
    };
    // Bytes from `at` to the end of whichever of the two regions ends first.
    auto roomAfter = [&](uint64_t at) {
        const PhysMap::Region* src = map_.findLocked(srcGpa + at);
        const PhysMap::Region* dst = map_.findLocked(dstGpa + at);
        return std::min(src->end() - (srcGpa + at), dst->end() - (dstGpa + at));
    };
    // Bytes before `end` back to the start of whichever region starts last.
    auto roomBefore = [&](uint64_t end) {
        const PhysMap::Region* src = map_.findLocked(srcGpa + end - 1);
        const PhysMap::Region* dst = map_.findLocked(dstGpa + end - 1);
        return std::min(srcGpa + end - src->gpa, dstGpa + end - dst->gpa);
    };

    bool backwards = dstGpa > srcGpa && dstGpa - srcGpa < len;
    if (!backwards) {
        for (uint64_t at = 0; at < len;) {
            uint64_t chunk = std::min(len - at, roomAfter(at));
            movePiece(at, chunk);
            at += chunk;
        }
    } else {
        for (uint64_t end = len; end > 0;) {
            uint64_t chunk = std::min(end, roomBefore(end));
            movePiece(end - chunk, chunk);
            end -= chunk;
        }
    }
    return {};
}

} // namespace basalt::npt
