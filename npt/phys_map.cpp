#include "npt/phys_map.h"

#include "base/format.h"
#include "npt/npt_log.h"

#include <cinttypes>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <sys/mman.h>
#include <unistd.h>
#include <utility>

namespace basalt::npt {
namespace {

// KVM can back a guest 2 MiB page with a host huge page only when gpa and hva
// agree modulo 2 MiB, so RAM is mapped at a 2 MiB-aligned address.
constexpr uint64_t kHugePageSize = uint64_t{2} << 20;

constexpr char kRamMemfdName[] = "basalt-ram";
constexpr char kRomMemfdName[] = "basalt-rom";
constexpr char kDeviceMemfdName[] = "basalt-device-memory";
constexpr char kRamBaseName[] = "ram-base";
constexpr char kRamLowName[] = "ram-low";
constexpr char kRamHighName[] = "ram-high";

// The RAM memfd goes to the device model. Sealing its size stops that process
// from truncating RAM under the VMM, which would turn VMM accesses into SIGBUS.
constexpr int kMemfdSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

Status validateLayout(uint64_t ramBytes, uint64_t holeStart) {
    if (!isPageAligned(ramBytes))
        return hostError(
            EINVAL,
            formatString("guest RAM size %" PRIu64 " bytes is not a multiple of 4 KiB", ramBytes));
    if (ramBytes < kMinRamBytes)
        return hostError(EINVAL, formatString("guest RAM size %" PRIu64
                                              " bytes is below the minimum of 1 MiB",
                                              ramBytes));
    if (ramBytes > kMaxRamBytes)
        return hostError(EINVAL, formatString("guest RAM size %" PRIu64
                                              " bytes is above the maximum of 1 TiB",
                                              ramBytes));
    if (!isPageAligned(holeStart))
        return hostError(
            EINVAL, formatString("MMIO hole start 0x%" PRIx64 " is not 4 KiB aligned", holeStart));
    if (holeStart < kMinMmioHoleStart || holeStart > kHighRamBase)
        return hostError(
            EINVAL,
            formatString("MMIO hole start 0x%" PRIx64 " is outside [1 MiB, 4 GiB]", holeStart));
    return {};
}

Result<UniqueFd> createSealedMemfd(const char* name, uint64_t size) {
    UniqueFd fd(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd) {
        int err = errno;
        return hostErrno(err, formatString("memfd_create of %s", name));
    }
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) < 0) {
        int err = errno;
        return hostErrno(err, formatString("ftruncate of %s to %" PRIu64 " bytes", name, size));
    }
    if (::fcntl(fd.get(), F_ADD_SEALS, kMemfdSeals) < 0) {
        int err = errno;
        return hostErrno(err, formatString("sealing %s", name));
    }
    return fd;
}

// Maps `fd` shared and read-write at a 2 MiB-aligned address inside a larger
// PROT_NONE reservation; unmapping the reservation unmaps both. The unused
// reservation around the mapping doubles as guard pages.
Result<MappedRegion> mapHugeAligned(int fd, uint64_t size, uint8_t*& base) {
    auto reservation = MappedRegion::map(size + kHugePageSize, PROT_NONE,
                                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (!reservation)
        return hostError(reservation.error().code,
                         "reserving guest RAM address space: " + reservation.error().message);
    auto start = reinterpret_cast<uintptr_t>(reservation->data());
    auto aligned = reinterpret_cast<uint8_t*>((start + kHugePageSize - 1) & ~(kHugePageSize - 1));
    void* addr = ::mmap(aligned, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    if (addr == MAP_FAILED) {
        int err = errno;
        return hostErrno(err, formatString("mmap of %" PRIu64 " bytes of guest RAM", size));
    }
    // Guest RAM has no business in a VMM core dump.
    ::madvise(aligned, size, MADV_DONTDUMP);
    base = aligned;
    return std::move(reservation).value();
}

} // namespace

PhysMap::PhysMap(MemslotBackend& backend, uint64_t ramBytes, uint64_t mmioHoleStart)
    : backend_(backend), ramBytes_(ramBytes), mmioHoleStart_(mmioHoleStart),
      lowRamEnd_(std::min(ramBytes, mmioHoleStart)), slotUsed_(backend.maxSlots(), false) {}

PhysMap::~PhysMap() {
    std::unique_lock lock(mutex_);
    for (auto& [gpa, region] : regions_) {
        Status removed = backend_.removeSlot(region->slot);
        if (!removed)
            LOG(Npt, Warn, "removing memslot %u of region '%s': %s", region->slot,
                region->name.c_str(), removed.error().message.c_str());
    }
}

Result<std::unique_ptr<PhysMap>> PhysMap::create(MemslotBackend& backend, uint64_t ramBytes,
                                                 uint64_t mmioHoleStart) {
    BASALT_TRY(validateLayout(ramBytes, mmioHoleStart));
    std::unique_ptr<PhysMap> map(new PhysMap(backend, ramBytes, mmioHoleStart));

    // Low RAM sits at memfd offset == gpa and high RAM right after it, so the
    // memfd is exactly ramBytes long.
    auto fd = createSealedMemfd(kRamMemfdName, ramBytes);
    if (!fd)
        return fd.error();
    map->ramFd_ = std::move(fd).value();
    auto mapping = mapHugeAligned(map->ramFd_.get(), ramBytes, map->ramBase_);
    if (!mapping)
        return mapping.error();
    map->ramMapping_ = std::move(mapping).value();
    // The VGA-hole bytes of the memfd are never RAM; make host bugs that touch
    // them fault instead of silently using them.
    if (::mprotect(map->ramBase_ + kVgaHoleStart, kVgaHoleEnd - kVgaHoleStart, PROT_NONE) < 0) {
        int err = errno;
        return hostErrno(err, "mprotect of the VGA hole in guest RAM");
    }

    uint64_t lowEnd = map->lowRamEnd_;
    BASALT_TRY(map->addRamRegion(kRamBaseName, 0, kVgaHoleStart, 0));
    BASALT_TRY(map->addRamRegion(kRamLowName, kVgaHoleEnd, lowEnd - kVgaHoleEnd, kVgaHoleEnd));
    if (ramBytes > lowEnd)
        BASALT_TRY(map->addRamRegion(kRamHighName, kHighRamBase, ramBytes - lowEnd, lowEnd));
    return map;
}

Status PhysMap::addRamRegion(std::string name, uint64_t gpa, uint64_t size, uint64_t fdOffset) {
    auto region = std::make_unique<Region>();
    region->name = std::move(name);
    region->kind = RegionKind::Ram;
    region->gpa = gpa;
    region->size = size;
    region->hva = ramBase_ + fdOffset;
    region->fd = ramFd_.get();
    region->fdOffset = fdOffset;
    std::unique_lock lock(mutex_);
    BASALT_TRY(insertLocked(std::move(region)));
    return {};
}

// A region with its own sealed memfd, mapped shared read-write for the host
// (ROMs and device-model memory; RAM is one memfd for all of it).
Result<std::unique_ptr<PhysMap::Region>> PhysMap::makeOwnedRegion(const char* memfdName,
                                                                  const char* what,
                                                                  std::string name, RegionKind kind,
                                                                  uint64_t gpa, uint64_t size) {
    auto region = std::make_unique<Region>();
    auto fd = createSealedMemfd(memfdName, size);
    if (!fd)
        return fd.error();
    region->ownFd = std::move(fd).value();
    auto mapping =
        MappedRegion::map(size, PROT_READ | PROT_WRITE, MAP_SHARED, region->ownFd.get(), 0);
    if (!mapping)
        return hostError(mapping.error().code, std::string("mapping ") + what + " '" + name +
                                                   "': " + mapping.error().message);
    region->ownMapping = std::move(mapping).value();
    region->name = std::move(name);
    region->kind = kind;
    region->gpa = gpa;
    region->size = size;
    region->hva = region->ownMapping.data();
    region->fd = region->ownFd.get();
    region->fdOffset = 0;
    return region;
}

Result<RegionId> PhysMap::addRom(uint64_t gpa, std::span<const uint8_t> contents,
                                 std::string name) {
    if (contents.empty())
        return hostError(
            EINVAL, formatString("ROM '%s' at 0x%" PRIx64 " has no contents", name.c_str(), gpa));
    if (!isPageAligned(gpa))
        return hostError(EINVAL, formatString("ROM '%s' address 0x%" PRIx64 " is not 4 KiB aligned",
                                              name.c_str(), gpa));
    if (gpa >= kGuestPhysLimit || contents.size() > kGuestPhysLimit - gpa ||
        pageAlignUp(contents.size()) > kGuestPhysLimit - gpa)
        return hostError(EINVAL, formatString("ROM '%s' at 0x%" PRIx64 " of %zu bytes ends beyond "
                                              "the 52-bit guest-physical address space",
                                              name.c_str(), gpa, contents.size()));
    uint64_t size = pageAlignUp(contents.size());

    auto made = makeOwnedRegion(kRomMemfdName, "ROM", std::move(name), RegionKind::Rom, gpa, size);
    if (!made)
        return made.error();
    std::unique_ptr<Region> region = std::move(made).value();
    std::memcpy(region->hva, contents.data(), contents.size());
    region->readOnly = true;

    std::unique_lock lock(mutex_);
    auto it = firstEndingAfterLocked(gpa);
    if (it != regions_.end() && it->second->gpa < gpa + size) {
        const Region& other = *it->second;
        return hostError(EEXIST,
                         formatString("ROM '%s' at [0x%" PRIx64 ", 0x%" PRIx64
                                      ") overlaps region '%s' at [0x%" PRIx64 ", 0x%" PRIx64 ")",
                                      region->name.c_str(), gpa, gpa + size, other.name.c_str(),
                                      other.gpa, other.end()));
    }
    return insertLocked(std::move(region));
}

Result<RegionId> PhysMap::addDeviceRam(uint64_t gpa, uint64_t size, std::string name) {
    if (size == 0 || !isPageAligned(gpa) || !isPageAligned(size) || gpa >= kGuestPhysLimit ||
        size > kGuestPhysLimit - gpa)
        return hostError(EINVAL, formatString("device memory '%s' at 0x%" PRIx64 " of 0x%" PRIx64
                                              " bytes is not a page-aligned guest range",
                                              name.c_str(), gpa, size));
    auto made = makeOwnedRegion(kDeviceMemfdName, "device memory", std::move(name),
                                RegionKind::Overlay, gpa, size);
    if (!made)
        return made.error();
    std::unique_ptr<Region> region = std::move(made).value();

    std::unique_lock lock(mutex_);
    auto it = firstEndingAfterLocked(gpa);
    if (it != regions_.end() && it->second->gpa < gpa + size)
        return hostError(EEXIST,
                         formatString("device memory '%s' at 0x%" PRIx64 " overlaps region '%s'",
                                      region->name.c_str(), gpa, it->second->name.c_str()));
    return insertLocked(std::move(region));
}

Status PhysMap::moveRegion(RegionId id, uint64_t newGpa) {
    std::unique_lock lock(mutex_);
    Region* region = findByIdLocked(id);
    if (!region)
        return hostError(ENOENT, formatString("no region with id %u to move", id));
    if (region->kind != RegionKind::Overlay)
        return hostError(EPERM, "only device-model memory moves; '" + region->name + "' is not");
    if (!isPageAligned(newGpa) || newGpa >= kGuestPhysLimit ||
        region->size > kGuestPhysLimit - newGpa)
        return hostError(
            EINVAL, formatString("cannot move '%s' to 0x%" PRIx64, region->name.c_str(), newGpa));
    if (newGpa == region->gpa)
        return {};
    for (auto it = firstEndingAfterLocked(newGpa);
         it != regions_.end() && it->second->gpa < newGpa + region->size; ++it)
        if (it->second.get() != region)
            return hostError(EEXIST,
                             formatString("moving '%s' to 0x%" PRIx64 " overlaps '%s'",
                                          region->name.c_str(), newGpa, it->second->name.c_str()));
    // KVM cannot move a memslot in place: delete it, then add it at the new place.
    auto node = regions_.extract(region->gpa);
    uint64_t oldGpa = region->gpa;
    if (Status removed = backend_.removeSlot(region->slot); !removed) {
        regions_.insert(std::move(node));
        return removed.error();
    }
    region->gpa = newGpa;
    if (Status set = setSlotLocked(*region, region->logDirty); !set) {
        region->gpa = oldGpa;
        if (!setSlotLocked(*region, region->logDirty))
            LOG(Npt, Error, "region '%s' lost its memslot", region->name.c_str());
        regions_.insert(std::move(node));
        return set.error();
    }
    node.key() = newGpa;
    regions_.insert(std::move(node));
    maxMappedEnd_ = std::max(maxMappedEnd_, newGpa + region->size);
    return {};
}

Status PhysMap::removeRegion(RegionId id) {
    std::unique_lock lock(mutex_);
    Region* region = findByIdLocked(id);
    if (!region)
        return hostError(ENOENT, formatString("no region with id %u to remove", id));
    if (region->kind == RegionKind::Ram)
        return hostError(EPERM, "RAM region '" + region->name + "' cannot be removed");
    Status removed = backend_.removeSlot(region->slot);
    if (!removed)
        return hostError(removed.error().code, "removing the memslot of region '" + region->name +
                                                   "': " + removed.error().message);
    slotUsed_[region->slot] = false;
    regions_.erase(region->gpa);
    return {};
}

Result<RegionId> PhysMap::insertLocked(std::unique_ptr<Region> region) {
    auto slot = allocateSlotLocked(region->name);
    if (!slot)
        return slot.error();
    region->slot = *slot;
    Status set = setSlotLocked(*region, false);
    if (!set) {
        slotUsed_[*slot] = false;
        return set.error();
    }
    region->id = nextId_++;
    RegionId id = region->id;
    maxMappedEnd_ = std::max(maxMappedEnd_, region->end());
    regions_.emplace(region->gpa, std::move(region));
    return id;
}

Status PhysMap::setSlotLocked(const Region& region, bool logDirty) {
    MemslotSpec spec;
    spec.slot = region.slot;
    spec.gpa = region.gpa;
    spec.size = region.size;
    spec.hva = region.hva;
    spec.readOnly = region.readOnly;
    spec.logDirty = logDirty;
    Status set = backend_.setSlot(spec);
    if (!set)
        return hostError(set.error().code,
                         formatString("setting memslot %u for region '%s' at 0x%" PRIx64 ": %s",
                                      region.slot, region.name.c_str(), region.gpa,
                                      set.error().message.c_str()));
    return {};
}

Result<uint32_t> PhysMap::allocateSlotLocked(const std::string& forWhat) {
    for (uint32_t slot = 0; slot < slotUsed_.size(); ++slot) {
        if (!slotUsed_[slot]) {
            slotUsed_[slot] = true;
            return slot;
        }
    }
    return hostError(ENOSPC,
                     formatString("no free memslot for region '%s': all %zu slots are in use",
                                  forWhat.c_str(), slotUsed_.size()));
}

PhysMap::Region* PhysMap::findLocked(uint64_t gpa) const {
    auto it = regions_.upper_bound(gpa);
    if (it == regions_.begin())
        return nullptr;
    --it;
    return gpa < it->second->end() ? it->second.get() : nullptr;
}

PhysMap::Region* PhysMap::findByIdLocked(RegionId id) const {
    for (const auto& [gpa, region] : regions_)
        if (region->id == id)
            return region.get();
    return nullptr;
}

PhysMap::RegionMap::const_iterator PhysMap::firstEndingAfterLocked(uint64_t gpa) const {
    auto it = regions_.upper_bound(gpa);
    if (it != regions_.begin() && gpa < std::prev(it)->second->end())
        return std::prev(it);
    return it;
}

RegionInfo PhysMap::infoOf(const Region& region) {
    RegionInfo info;
    info.id = region.id;
    info.name = region.name;
    info.kind = region.kind;
    info.gpa = region.gpa;
    info.size = region.size;
    info.hva = region.hva;
    info.fd = region.fd;
    info.fdOffset = region.fdOffset;
    info.readOnly = region.readOnly;
    info.dirtyLogging = region.logDirty;
    info.slot = region.slot;
    return info;
}

std::vector<RegionInfo> PhysMap::regions() const {
    std::shared_lock lock(mutex_);
    std::vector<RegionInfo> out;
    out.reserve(regions_.size());
    for (const auto& [gpa, region] : regions_)
        out.push_back(infoOf(*region));
    return out;
}

// Lookup misses are not logged: callers use them to ask, not only to fail.
Result<RegionInfo> PhysMap::region(RegionId id) const {
    std::shared_lock lock(mutex_);
    const Region* region = findByIdLocked(id);
    if (!region)
        return makeError(ENOENT, formatString("no region with id %u", id));
    return infoOf(*region);
}

Result<RegionInfo> PhysMap::regionAt(uint64_t gpa) const {
    std::shared_lock lock(mutex_);
    const Region* region = findLocked(gpa);
    if (!region)
        return makeError(ENOENT, formatString("no region at 0x%" PRIx64, gpa));
    return infoOf(*region);
}

} // namespace basalt::npt
