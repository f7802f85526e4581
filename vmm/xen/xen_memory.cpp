#include "vmm/xen/xen_memory.h"

#include "base/log.h"
#include "npt/phys_map.h"

#include <cinttypes>
#include <ctime>

namespace basalt::xen {

BASALT_LOG_CATEGORY(XenMem, "xen-mem");

namespace {

constexpr uint64_t kPageShift = 12;
constexpr uint64_t kMaxGpfn = npt::kGuestPhysLimit >> kPageShift;
constexpr uint64_t kNsPerSec = 1000000000ull;
constexpr uint64_t kHzPerKhz = 1000;

Pvclock makePvclock(uint64_t tscHz, int64_t offset, uint64_t systemNs) {
    return Pvclock(tscHz, offset, hostHasInvariantTsc(), readHostTsc(), systemNs);
}

} // namespace

XenMemory::XenMemory(npt::PhysMap& physMap, std::unique_ptr<SharedInfo> sharedInfo,
                     std::unique_ptr<GrantTable> grantTable)
    : physMap_(physMap), sharedInfo_(std::move(sharedInfo)), grantTable_(std::move(grantTable)),
      grantHost_(*grantTable_, physMap), pvclock_(makePvclock(measureTscHz(), 0, 0)) {}

Result<std::unique_ptr<XenMemory>> XenMemory::create(const Config& config, npt::PhysMap& physMap,
                                                     uint64_t systemNs) {
    auto shared = SharedInfo::create(config.vcpuCount, physMap);
    if (!shared)
        return shared.error();
    auto grants = GrantTable::create(config.maxGrantFrames);
    if (!grants)
        return grants.error();
    std::unique_ptr<XenMemory> memory(
        new XenMemory(physMap, std::move(shared).value(), std::move(grants).value()));
    memory->pvclock_ = makePvclock(memory->pvclock_.tscHz(), 0, systemNs);
    memory->e820_ = defaultE820(physMap);
    memory->totPages_ = physMap.ramPagesMapped();
    memory->maxPages_ = memory->totPages_;
    // The wallclock Xen publishes is the time of day at system time 0.
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t wallNs = static_cast<uint64_t>(now.tv_sec) * kNsPerSec + now.tv_nsec - systemNs;
    memory->sharedInfo_->setWallclock(wallNs / kNsPerSec,
                                      static_cast<uint32_t>(wallNs % kNsPerSec));
    memory->refreshAllTime();
    return memory;
}

void XenMemory::setTsc(uint64_t tscKhz, int64_t guestTscOffset, uint64_t systemNs) {
    {
        std::lock_guard lock(timeMutex_);
        uint64_t hz = tscKhz ? tscKhz * kHzPerKhz : pvclock_.tscHz();
        pvclock_ = makePvclock(hz, guestTscOffset, systemNs);
    }
    refreshAllTime();
}

void XenMemory::refreshTime(uint32_t vcpu) {
    std::lock_guard lock(timeMutex_);
    if (uint8_t* info = sharedInfo_->vcpuInfo(vcpu))
        Pvclock::publish(info + SharedInfo::kTimeOffset, pvclock_.now());
}

void XenMemory::refreshAllTime() {
    for (uint32_t v = 0; v < sharedInfo_->vcpuCount(); ++v)
        refreshTime(v);
}

uint64_t XenMemory::pvclockNs() const {
    std::lock_guard lock(timeMutex_);
    return pvclock_.now().system_time;
}

int XenMemory::registerVcpuInfo(uint32_t vcpu, uint64_t gfn, uint32_t offset) {
    int rc = sharedInfo_->registerVcpuInfo(vcpu, gfn, offset);
    if (rc == 0)
        refreshTime(vcpu);
    return rc;
}

void XenMemory::setE820(std::vector<E820Entry> map) {
    std::lock_guard lock(e820Mutex_);
    e820_ = std::move(map);
}

std::vector<E820Entry> XenMemory::e820() const {
    std::lock_guard lock(e820Mutex_);
    return e820_;
}

std::vector<E820Entry> XenMemory::defaultE820(const npt::PhysMap& physMap) {
    std::vector<E820Entry> map;
    for (const npt::RegionInfo& region : physMap.regions()) {
        if (region.kind != npt::RegionKind::Ram)
            continue;
        if (!map.empty() && map.back().addr + map.back().size == region.gpa)
            map.back().size += region.size;
        else
            map.push_back({region.gpa, region.size, kE820Ram});
    }
    return map;
}

uint64_t XenMemory::totPages() const {
    std::lock_guard lock(p2mMutex_);
    return totPages_;
}

uint64_t XenMemory::maxGpfn() const {
    uint64_t end = physMap_.maxMappedEnd();
    return end ? (end >> kPageShift) - 1 : 0;
}

std::optional<uint64_t> XenMemory::sharedInfoGfn() const {
    std::lock_guard lock(p2mMutex_);
    return sharedInfoGfn_;
}

void XenMemory::forgetOverlayLocked(uint64_t gpfn) {
    if (sharedInfoGfn_ == gpfn)
        sharedInfoGfn_.reset();
    for (uint32_t i = 0; i < grantTable_->maxFrames(); ++i)
        if (grantTable_->frameGfn(i) == gpfn)
            grantTable_->setFrameGfn(i, GrantTable::kNoGfn);
}

int XenMemory::vacateLocked(uint64_t gpfn) {
    uint64_t gpa = gpfn << kPageShift;
    auto present = physMap_.pageAt(gpa);
    if (!present)
        return 0; // a hole already
    if (present->kind == npt::RegionKind::Rom)
        return -XEN_EPERM; // firmware images are not the guest's to replace
    if (!physMap_.unmapPage(gpa))
        return -XEN_ENOMEM;
    if (present->kind == npt::RegionKind::Ram) {
        // Normal memory is freed, as Xen does, so it cannot leak.
        (void)physMap_.discardRamPage(present->fdOffset);
        --totPages_;
    } else {
        forgetOverlayLocked(gpfn); // special pages are only unhooked
    }
    return 0;
}

int XenMemory::addToPhysmap(uint32_t space, uint64_t idx, uint64_t gpfn) {
    if (gpfn >= kMaxGpfn)
        return -XEN_EINVAL;
    std::lock_guard lock(p2mMutex_);
    npt::PageSource source;
    std::optional<uint64_t> oldGfn;
    const char* name = "ram";
    switch (space) {
    case XENMAPSPACE_shared_info:
        if (idx != 0)
            return -XEN_EINVAL;
        source = sharedInfo_->pageSource();
        oldGfn = sharedInfoGfn_;
        name = "shared-info";
        break;
    case XENMAPSPACE_grant_table: {
        // v1 has no status frames: XENMAPIDX_grant_table_status makes idx
        // huge, so it fails like any frame past the maximum (-EINVAL).
        if (idx > UINT32_MAX)
            return -XEN_EINVAL;
        auto frame = grantTable_->frameForMapping(static_cast<uint32_t>(idx));
        if (!frame)
            return -XEN_EINVAL;
        source = *frame;
        if (uint64_t at = grantTable_->frameGfn(static_cast<uint32_t>(idx));
            at != GrantTable::kNoGfn)
            oldGfn = at;
        name = "grant-frame";
        break;
    }
    case XENMAPSPACE_gmfn: {
        if (idx >= kMaxGpfn)
            return -XEN_EINVAL;
        auto page = physMap_.pageAt(idx << kPageShift);
        if (!page || page->kind != npt::RegionKind::Ram)
            return -XEN_EINVAL;
        source = *page;
        oldGfn = idx;
        break;
    }
    default:
        return -XEN_EINVAL;
    }

    if (oldGfn == gpfn)
        return 0; // already there
    if (int rc = vacateLocked(gpfn); rc != 0)
        return rc;
    if (oldGfn) {
        (void)physMap_.unmapPage(*oldGfn << kPageShift);
        if (space != XENMAPSPACE_gmfn)
            forgetOverlayLocked(*oldGfn);
    }
    auto mapped = physMap_.mapPage(gpfn << kPageShift, source, name);
    if (!mapped) {
        LOG_RATELIMITED(XenMem, Warn, "add_to_physmap at gpfn %#" PRIx64 ": %s", gpfn,
                        mapped.error().message.c_str());
        if (space == XENMAPSPACE_gmfn) {
            (void)physMap_.discardRamPage(source.fdOffset); // it has nowhere to be
            --totPages_;
        }
        return -XEN_EINVAL;
    }
    if (space == XENMAPSPACE_shared_info)
        sharedInfoGfn_ = gpfn;
    else if (space == XENMAPSPACE_grant_table)
        grantTable_->setFrameGfn(static_cast<uint32_t>(idx), gpfn);
    return 0;
}

int XenMemory::removeFromPhysmap(uint64_t gpfn) {
    if (gpfn >= kMaxGpfn)
        return -XEN_ENOENT;
    std::lock_guard lock(p2mMutex_);
    uint64_t gpa = gpfn << kPageShift;
    auto present = physMap_.pageAt(gpa);
    if (!present)
        return -XEN_ENOENT;
    if (present->kind == npt::RegionKind::Rom)
        return -XEN_EPERM;
    if (!physMap_.unmapPage(gpa))
        return -XEN_ENOMEM;
    // Xen keeps a removed RAM page owned by the domain (it still counts in
    // tot_pages) though no gpfn reaches it; populate_physmap at its home
    // gpfn gives it back.
    if (present->kind != npt::RegionKind::Ram)
        forgetOverlayLocked(gpfn);
    return 0;
}

bool XenMemory::populate(uint64_t gpfn, uint32_t order) {
    uint64_t count = uint64_t{1} << order;
    if (gpfn >= kMaxGpfn || count > kMaxGpfn - gpfn)
        return false;
    std::lock_guard lock(p2mMutex_);
    if (totPages_ + count > maxPages_)
        return false; // over the domain's allocation
    // All or nothing: check every page first.
    std::vector<uint64_t> homes;
    for (uint64_t i = 0; i < count; ++i) {
        uint64_t gpa = (gpfn + i) << kPageShift;
        auto home = physMap_.ramHomeOffset(gpa);
        if (!home || physMap_.pageAt(gpa).ok() || physMap_.ramOffsetMapped(*home))
            return false; // only a gpfn whose own RAM page is free can be populated
        homes.push_back(*home);
    }
    for (uint64_t i = 0; i < count; ++i) {
        // Fresh memory reads as zero, as a newly allocated Xen page is scrubbed.
        (void)physMap_.discardRamPage(homes[i]);
        if (!physMap_.mapPage((gpfn + i) << kPageShift, physMap_.ramPage(homes[i]), "ram"))
            return false;
        ++totPages_;
    }
    return true;
}

bool XenMemory::decrease(uint64_t gpfn, uint32_t order) {
    uint64_t count = uint64_t{1} << order;
    if (gpfn >= kMaxGpfn || count > kMaxGpfn - gpfn)
        return false;
    std::lock_guard lock(p2mMutex_);
    for (uint64_t i = 0; i < count; ++i) {
        uint64_t gpa = (gpfn + i) << kPageShift;
        auto present = physMap_.pageAt(gpa);
        if (!present || present->kind != npt::RegionKind::Ram)
            return false; // Xen: guest_remove_page fails, the loop stops
        if (!physMap_.unmapPage(gpa))
            return false;
        (void)physMap_.discardRamPage(present->fdOffset);
        --totPages_;
    }
    return true;
}

} // namespace basalt::xen
