#pragma once
// The memory side of the Xen platform, one per domain: shared_info and
// pvclock, the grant table, the E820 the guest reads, and the guest-physical
// changes the memory_op hypercall makes (which page sits at which gpfn, and
// how many pages the domain owns, as Xen's p2m and tot_pages).
//
// Which page a gpfn holds: guest RAM (a page of PhysMap's RAM memfd; each
// has a "home" gpfn from the boot layout), or a Xen-owned overlay (shared_info,
// grant frames: HostPages). Placing an overlay or moving a RAM page onto a
// RAM gpfn frees the RAM page that was there (Xen frees it too): it leaves
// the guest and tot_pages, and its host memory is returned. Placing one on
// an overlay only unhooks the overlay. Example (Linux): add_to_physmap
// (shared_info, gpfn 0x1234) splits RAM around 0x1234, frees its page and
// maps shared_info there; current_reservation drops by one.

#include "base/result.h"
#include "vmm/xen/grant_host.h"
#include "vmm/xen/grant_table.h"
#include "vmm/xen/pvclock.h"
#include "vmm/xen/shared_info.h"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace basalt::npt {
class PhysMap;
}

namespace basalt::xen {

// Xen's e820entry (xen/arch/x86/include/asm/e820.h): not in the public
// headers, yet it is the XENMEM_memory_map ABI: 20 packed bytes.
struct __attribute__((packed)) E820Entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
};
static_assert(sizeof(E820Entry) == 20);
inline constexpr uint32_t kE820Ram = 1;
inline constexpr uint32_t kE820Reserved = 2;

class XenMemory {
public:
    struct Config {
        uint32_t vcpuCount = 1;
        uint32_t maxGrantFrames = 32; // libxl's usual max_grant_frames
    };

    // `systemNs`: Xen system time now (XenPlatform::systemTimeNs()).
    static Result<std::unique_ptr<XenMemory>> create(const Config& config, npt::PhysMap& physMap,
                                                     uint64_t systemNs);

    SharedInfo& sharedInfo() { return *sharedInfo_; }
    GrantTable& grantTable() { return *grantTable_; }
    GrantHost& grantHost() { return grantHost_; }

    // --- time
    // The guest TSC: host TSC frequency (KVM_GET_TSC_KHZ) and guest TSC -
    // host TSC. Re-anchors pvclock at `systemNs` and republishes every vCPU.
    void setTsc(uint64_t tscKhz, int64_t guestTscOffset, uint64_t systemNs);
    // Rewrites `vcpu`'s vcpu_time_info (version protocol). Any thread.
    void refreshTime(uint32_t vcpu);
    void refreshAllTime();
    // Xen system time from pvclock, as the guest computes it.
    uint64_t pvclockNs() const;
    // VCPUOP_register_vcpu_info, then its time (see SharedInfo).
    int registerVcpuInfo(uint32_t vcpu, uint64_t gfn, uint32_t offset);

    // --- E820 (XENMEM_memory_map)
    void setE820(std::vector<E820Entry> map);
    std::vector<E820Entry> e820() const;
    // What PhysMap's layout implies: its RAM regions at boot.
    static std::vector<E820Entry> defaultE820(const npt::PhysMap& physMap);

    // --- p2m changes; each returns 0 or a negative Xen errno.
    // XENMAPSPACE_shared_info / grant_table / gmfn, one page.
    int addToPhysmap(uint32_t space, uint64_t idx, uint64_t gpfn);
    int removeFromPhysmap(uint64_t gpfn);
    // One extent of 2^order pages at gpfn; false when it cannot be done
    // (the memop stops there, as Xen's loops do).
    bool populate(uint64_t gpfn, uint32_t order);
    bool decrease(uint64_t gpfn, uint32_t order);

    uint64_t totPages() const;
    uint64_t maxPages() const { return maxPages_; }
    uint64_t maxGpfn() const;
    std::optional<uint64_t> sharedInfoGfn() const;

    static constexpr uint32_t kMaxOrder = 9; // Xen's default domU memop-max-order

private:
    XenMemory(npt::PhysMap& physMap, std::unique_ptr<SharedInfo> sharedInfo,
              std::unique_ptr<GrantTable> grantTable);
    // Clears what is at `gpfn` for a new page; lock held.
    int vacateLocked(uint64_t gpfn);
    void forgetOverlayLocked(uint64_t gpfn);

    npt::PhysMap& physMap_;
    std::unique_ptr<SharedInfo> sharedInfo_;
    std::unique_ptr<GrantTable> grantTable_;
    GrantHost grantHost_;

    mutable std::mutex timeMutex_;
    Pvclock pvclock_;

    mutable std::mutex e820Mutex_;
    std::vector<E820Entry> e820_;

    mutable std::mutex p2mMutex_;
    std::optional<uint64_t> sharedInfoGfn_;
    uint64_t totPages_ = 0;
    uint64_t maxPages_ = 0;
};

} // namespace basalt::xen
