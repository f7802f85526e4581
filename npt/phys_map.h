#pragma once
// PhysMap: the guest-physical map of one guest. It owns the host memory behind
// guest RAM and ROMs, the hypervisor memslots that expose it to the guest and
// the dirty logs. Code reaches guest data through GuestMemory, which resolves
// addresses here; RegionInfo::hva is only for handing memory to the hypervisor
// or the device model, never for reading guest data directly.
//
// Layout (Xen HVM's; see npt/layout.h), for R bytes of RAM and a hole at H:
//   [0, 0xA0000)            RAM "ram-base"   memfd offset == gpa
//   [0xA0000, 0xC0000)      VGA hole         not RAM (the device model's)
//   [0xC0000, L)            RAM "ram-low"    memfd offset == gpa, L = min(R, H)
//   [H, 4 GiB)              MMIO hole
//   [4 GiB, 4 GiB + R - L)  RAM "ram-high"   memfd offset L (== H when present)
// All RAM is one memfd of L + (R - L) bytes so the device model can map it
// (ramFd(), RegionInfo::fdOffset). Its VGA-hole bytes are never used (Xen's
// builder leaves that range unpopulated too), so the guest has R - 128 KiB.
//
// Thread safety: vCPU threads look regions up (through GuestMemory) all the
// time; layout changes (ROMs, dirty-logging switches) are rare. A
// std::shared_mutex is taken shared for lookups and accesses (held across the
// memcpy, so a mapping cannot go away under a reader) and exclusive for layout
// changes.
//
// The backend must outlive the PhysMap: the destructor removes its memslots.

#include "base/mapped_region.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "npt/dirty_bitmap.h"
#include "npt/layout.h"
#include "npt/memslot_backend.h"
#include "npt/page.h"

#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

namespace basalt::npt {

// Never reused within one PhysMap, so a stale id fails with ENOENT.
using RegionId = uint32_t;

// Ram: guest RAM (pages of ramFd()); Rom: read-only images; Overlay: a
// hypervisor-owned page (shared_info, grant frames) the guest placed in its
// physical map with XENMEM_add_to_physmap.
enum class RegionKind { Ram, Rom, Overlay };

// One 4 KiB host page as it can appear in the guest-physical map.
struct PageSource {
    RegionKind kind = RegionKind::Ram;
    int fd = -1;           // ramFd() for RAM, the owner's memfd for an overlay
    uint64_t fdOffset = 0; // of the page in `fd`
    uint8_t* hva = nullptr;
};

struct RegionInfo {
    RegionId id = 0;
    std::string name;
    RegionKind kind = RegionKind::Ram;
    uint64_t gpa = 0;
    uint64_t size = 0;      // bytes, page aligned
    uint8_t* hva = nullptr; // host mapping of the whole region, owned by PhysMap
    int fd = -1;            // memfd behind the region (ramFd() for RAM), owned by PhysMap
    uint64_t fdOffset = 0;  // offset of `gpa` in `fd`
    bool readOnly = false;  // for the guest
    bool dirtyLogging = false;
    uint32_t slot = 0; // backend memslot
};

class PhysMap {
public:
    static Result<std::unique_ptr<PhysMap>> create(MemslotBackend& backend, uint64_t ramBytes,
                                                   uint64_t mmioHoleStart = kDefaultMmioHoleStart);
    ~PhysMap();

    PhysMap(const PhysMap&) = delete;
    PhysMap& operator=(const PhysMap&) = delete;

    int ramFd() const { return ramFd_.get(); }
    uint64_t ramBytes() const { return ramBytes_; }
    uint64_t mmioHoleStart() const { return mmioHoleStart_; }
    // End of RAM below the hole (L above).
    uint64_t lowRamEnd() const { return lowRamEnd_; }
    // End of RAM above 4 GiB; kHighRamBase when there is none.
    uint64_t highRamEnd() const { return kHighRamBase + (ramBytes_ - lowRamEnd_); }

    // Maps `contents` read-only for the guest at page-aligned `gpa`, rounded up
    // to whole pages (the tail reads as zero). Fails with EEXIST if it overlaps
    // another region, EINVAL for bad arguments, ENOSPC without a free memslot.
    Result<RegionId> addRom(uint64_t gpa, std::span<const uint8_t> contents, std::string name);
    // Unmaps a ROM. RAM cannot be removed (EPERM).
    Status removeRegion(RegionId id);

    // --- Device-model memory (VRAM, option ROM blocks QEMU populates beyond
    // guest RAM, XENMEM_populate_physmap from dom0). A zero-filled,
    // guest-writable memfd region of kind Overlay: the device model maps it
    // through pageAt(), and it is not guest RAM (ramPagesMapped() ignores it).
    // EEXIST if it overlaps anything, EINVAL for bad arguments.
    Result<RegionId> addDeviceRam(uint64_t gpa, uint64_t size, std::string name);
    // Moves a whole Overlay region to page-aligned `newGpa` (the guest moved
    // the BAR that shows it); contents and backing stay. EEXIST if the new
    // place overlaps another region, EPERM for RAM and ROM.
    Status moveRegion(RegionId id, uint64_t newGpa);

    // --- Page-granular changes (the Xen memory ops: add_to_physmap,
    // populate_physmap, decrease_reservation). The guest-physical map is the
    // guest's p2m: each page-aligned gpa holds one page or nothing. Removing a
    // page from the middle of a RAM region splits the region (its memslot is
    // replaced by up to two); a page mapped on its own gets its own memslot.
    // While a split runs, a vCPU touching the region may see a hole (KVM
    // memslots cannot shrink in place); callers pause vCPUs if that matters.

    // What the guest sees at page-aligned `gpa`; ENOENT in a hole.
    Result<PageSource> pageAt(uint64_t gpa) const;
    // Takes the page at `gpa` out of the guest map and returns it. ROM is
    // EPERM, a hole ENOENT, an unaligned gpa EINVAL. The host memory stays
    // valid (RAM pages remain in ramFd(), overlays belong to their owner).
    Result<PageSource> unmapPage(uint64_t gpa);
    // Maps `page` guest-writable at `gpa`, which must be a hole (EEXIST) below
    // kGuestPhysLimit (EINVAL). ENOSPC without a free memslot.
    Result<RegionId> mapPage(uint64_t gpa, const PageSource& page, std::string name);
    // Where `gpa`'s page lives in ramFd() in the boot layout (its "home"), so a
    // decreased page can be populated again; ENOENT if gpa was never RAM.
    Result<uint64_t> ramHomeOffset(uint64_t gpa) const;
    // The RAM page at ramFd() offset `fdOffset` as a PageSource.
    PageSource ramPage(uint64_t fdOffset) const;
    // True if the RAM page at ramFd() offset `fdOffset` is mapped anywhere.
    bool ramOffsetMapped(uint64_t fdOffset) const;
    // Gives a RAM page's host memory back (its contents read as zero
    // afterwards). The caller has unmapped it from the guest.
    Status discardRamPage(uint64_t fdOffset);
    // Guest RAM pages currently mapped: the domain's populated memory.
    uint64_t ramPagesMapped() const;
    // One past the highest guest-physical address ever mapped.
    uint64_t maxMappedEnd() const;
    // A host pointer to the RAM page at page-aligned `gpa` for atomic access
    // to shared structures (vcpu_info, granted pages); EINVAL unless it is
    // RAM. Valid for the PhysMap's lifetime, even after the page moves or is
    // unmapped (it then no longer reaches the guest there).
    Result<uint8_t*> ramPagePointer(uint64_t gpa) const;

    // Sorted by gpa.
    std::vector<RegionInfo> regions() const;
    Result<RegionInfo> region(RegionId id) const;
    // The region holding `gpa`; ENOENT in a hole.
    Result<RegionInfo> regionAt(uint64_t gpa) const;

    // Switches the hypervisor's dirty log for a writable region. Turning it on
    // starts with every page clean; turning it off drops what was logged.
    Status setDirtyLogging(RegionId id, bool on);
    // Fetch-and-clear of the region's whole log (the hypervisor's plus what was
    // accumulated): bit i of word i / 64 = page i of the region.
    Result<std::vector<uint64_t>> fetchDirtyBitmap(RegionId id);
    // Marks [gpa, gpa + pages * 4 KiB) dirty in every dirty-logging region
    // it touches, as if the host had written it (XEN_DMOP_modified_memory:
    // the device model wrote guest memory behind KVM's back). EINVAL if the
    // range wraps or leaves guest-physical space.
    Status markDirty(uint64_t gpa, uint64_t pages);
    // Dirty page frame numbers (gpa >> 12) in [gpa, gpa + pages * 4 KiB), sorted.
    // Clears only the window's pages: each region the window touches has its
    // hypervisor log pulled into its accumulated bitmap, and pages outside the
    // window stay there for a later call. Holes and read-only regions
    // contribute nothing; a writable region without dirty logging is EINVAL.
    Result<std::vector<uint64_t>> fetchDirtyPages(uint64_t gpa, uint64_t pages);

private:
    friend class GuestMemory;

    struct Region {
        RegionId id = 0;
        std::string name;
        RegionKind kind = RegionKind::Ram;
        uint64_t gpa = 0;
        uint64_t size = 0;
        uint8_t* hva = nullptr;
        int fd = -1;
        uint64_t fdOffset = 0;
        bool readOnly = false;
        uint32_t slot = 0;
        bool logDirty = false;
        DirtyBitmap dirty; // sized only while logDirty
        // A ROM owns its memory; RAM regions point into ramMapping_.
        UniqueFd ownFd;
        MappedRegion ownMapping;

        uint64_t end() const { return gpa + size; }
        uint64_t pages() const { return bytesToPages(size); }
    };

    PhysMap(MemslotBackend& backend, uint64_t ramBytes, uint64_t mmioHoleStart);

    Status addRamRegion(std::string name, uint64_t gpa, uint64_t size, uint64_t fdOffset);
    // Allocates a slot, calls the backend and inserts `region`; exclusive lock held.
    static Result<std::unique_ptr<Region>> makeOwnedRegion(const char* memfdName, const char* what,
                                                           std::string name, RegionKind kind,
                                                           uint64_t gpa, uint64_t size);
    Result<RegionId> insertLocked(std::unique_ptr<Region> region);
    Status setSlotLocked(const Region& region, bool logDirty);
    Result<uint32_t> allocateSlotLocked(const std::string& forWhat);
    // Replaces `region` by the pieces of it outside [gpa, gpa + 4 KiB);
    // exclusive lock held. Restores it on failure.
    Status splitAroundLocked(Region& region, uint64_t gpa);
    // The region containing `gpa`, or nullptr; lock held.
    Region* findLocked(uint64_t gpa) const;
    Region* findByIdLocked(RegionId id) const;
    using RegionMap = std::map<uint64_t, std::unique_ptr<Region>>; // by gpa
    // The first region that ends after `gpa` (it may start after it); lock held.
    RegionMap::const_iterator firstEndingAfterLocked(uint64_t gpa) const;
    // Records a host write of [offset, offset + len) of `region`; shared lock held.
    static void markHostWriteLocked(Region& region, uint64_t offset, uint64_t len);
    // ORs the hypervisor's log of `region` into region.dirty; shared lock held.
    Status pullDirtyLogLocked(Region& region);
    static RegionInfo infoOf(const Region& region);

    MemslotBackend& backend_;
    const uint64_t ramBytes_;
    const uint64_t mmioHoleStart_;
    const uint64_t lowRamEnd_;
    UniqueFd ramFd_;
    MappedRegion ramMapping_; // a 2 MiB-aligned reservation with the memfd mapped inside
    uint8_t* ramBase_ = nullptr;

    mutable std::shared_mutex mutex_;
    RegionMap regions_;
    std::vector<bool> slotUsed_;
    RegionId nextId_ = 1;
    uint64_t maxMappedEnd_ = 0;
};

} // namespace basalt::npt
