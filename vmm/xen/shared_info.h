#pragma once
// The domain's shared_info page and the per-vCPU vcpu_info structures in it
// (xen/xen.h), as Xen keeps them for an HVM guest.
//
// The page is host memory (its own memfd page) that exists from domain
// creation; the guest makes it visible with XENMEM_add_to_physmap
// (XENMAPSPACE_shared_info), which maps it as an overlay at a gpfn of its
// choosing. Its layout is the 64-bit one (xen_ulong_t = 8 bytes, 64*64 = 4096
// 2-level event ports) or the 32-bit one (4 bytes, 32*32 = 1024 ports),
// latched like Xen's hvm_latch_shinfo_size(): from the guest's mode when it
// maps shared_info or sets HVM_PARAM_CALLBACK_IRQ.
//
// vcpu_info: vCPUs 0..31 start in shared_info's vcpu_info[] array. Any vCPU
// may move its vcpu_info into a guest RAM page with VCPUOP_register_vcpu_info
// (registerVcpuInfo below). A vCPU >= 32 that never registered one has a
// private dummy, as in Xen: events still work, the guest just cannot see them.
//
// Event bits are atomic read-modify-writes on the guest-visible words (the
// guest updates the same words with locked instructions), so callers on any
// thread may use them without a lock. Worked example of a 2-level delivery
// (event_2l.c), for port 70 of a 64-bit guest, bound to vCPU 1:
//     if (!si.testAndSetPending(70)          // word 1 bit 6 of evtchn_pending
//         && !si.isMasked(70)                // word 1 bit 6 of evtchn_mask
//         && !si.testAndSetPendingSelector(1, 70 / si.bitsPerWord())
//         && !si.testAndSetUpcallPending(1)) // vcpu_info[1].evtchn_upcall_pending
//         raise the upcall interrupt for vCPU 1;
// Unmask (EVTCHNOP_unmask) is clearMask(port) followed by the same selector
// and upcall steps if isPending(port).

#include "base/result.h"
#include "vmm/xen/host_pages.h"
#include "vmm/xen/xen_headers.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace basalt::npt {
class PhysMap;
}

namespace basalt::xen {

class SharedInfo {
public:
    static constexpr uint32_t kLegacyVcpus = XEN_LEGACY_MAX_VCPUS; // vcpu_info[] in the page
    static constexpr uint32_t kVcpuInfoBytes = 64;                 // both layouts
    static constexpr uint32_t kMaxPorts64 = 64 * 64;
    static constexpr uint32_t kMaxPorts32 = 32 * 32;

    // `physMap` resolves the guest RAM pages vcpu_info may move to; it must
    // outlive the SharedInfo.
    static Result<std::unique_ptr<SharedInfo>> create(uint32_t vcpuCount, npt::PhysMap& physMap);
    ~SharedInfo();

    // The page itself: the overlay source XENMAPSPACE_shared_info maps, and
    // its host mapping.
    npt::PageSource pageSource() const { return pages_.page(0); }
    uint8_t* page() const { return pages_.data(); }

    // hvm_latch_shinfo_size(): the guest's mode picks the layout, and the
    // wallclock is rewritten in it. Bits already set are not converted (Xen
    // does not either).
    void latchLayout(bool longMode);
    bool is64Bit() const { return is64_.load(); }
    // 2-level ports the layout can name: 4096 (64-bit) or 1024 (32-bit).
    uint32_t maxPorts() const { return is64Bit() ? kMaxPorts64 : kMaxPorts32; }
    // Bits per evtchn_pending/evtchn_mask/evtchn_pending_sel word: 64 or 32.
    uint32_t bitsPerWord() const { return is64Bit() ? 64 : 32; }
    uint32_t vcpuCount() const { return vcpuCount_; }

    // --- event bitmaps; a port >= maxPorts() reads as clear/masked and is
    // never set. Every "testAnd..." returns the bit's previous value.
    bool testAndSetPending(uint32_t port);
    bool testAndClearPending(uint32_t port);
    bool isPending(uint32_t port) const;
    bool isMasked(uint32_t port) const;
    bool testAndSetMask(uint32_t port);
    void setMask(uint32_t port);
    void clearMask(uint32_t port);

    // --- per-vCPU upcall state in that vCPU's current vcpu_info; a vCPU out
    // of range reads as set and does nothing.
    // Sets bit `word` of evtchn_pending_sel (word < bitsPerWord()).
    bool testAndSetPendingSelector(uint32_t vcpu, uint32_t word);
    bool testAndSetUpcallPending(uint32_t vcpu);
    void clearUpcallPending(uint32_t vcpu);
    bool isUpcallPending(uint32_t vcpu) const;
    // evtchn_upcall_mask: the guest's "interrupts off" for upcalls.
    bool isUpcallMasked(uint32_t vcpu) const;

    // VCPUOP_register_vcpu_info: moves `vcpu`'s vcpu_info to `offset` in guest
    // frame `gfn`, as Xen's map_vcpu_info(): -ENXIO if it does not fit in the
    // page or `offset` is not aligned for the layout (8 bytes 64-bit, 4
    // bytes 32-bit), -EINVAL if the vCPU already registered one (Xen refuses
    // a second registration), -EINVAL if the frame is not guest RAM (an
    // overlay, ROM or hole), -EINVAL for an unknown vCPU. The old contents
    // are copied (a never-registered dummy starts zeroed with the upcall
    // masked) and then evtchn_pending_sel is set to all ones and
    // evtchn_upcall_pending to 1, so no event is lost. The caller checks
    // Xen's "self, or an offline vCPU" rule, and on 0 refreshes the vCPU's
    // time (XenPlatform::registerVcpuInfo does both) and kicks its upcall.
    // Returns 0 or a negative Xen errno.
    int registerVcpuInfo(uint32_t vcpu, uint64_t gfn, uint32_t offset);
    // The same for a guest-physical address (gfn = gpa >> 12).
    int registerVcpuInfo(uint32_t vcpu, uint64_t gpa) {
        return registerVcpuInfo(vcpu, gpa >> 12, static_cast<uint32_t>(gpa & 0xFFF));
    }
    // Host pointer to `vcpu`'s current vcpu_info (kVcpuInfoBytes, layout per
    // is64Bit()); nullptr for an unknown vCPU. Valid for the SharedInfo's
    // lifetime (guest RAM mappings never go away under a live PhysMap).
    uint8_t* vcpuInfo(uint32_t vcpu) const;
    // Xen's `v->vcpu_info == &dummy_vcpu_info`: a vCPU >= 32 that has not
    // registered a vcpu_info (VCPUOP_initialise refuses it with -EINVAL).
    bool hasDummyVcpuInfo(uint32_t vcpu) const {
        return vcpu < vcpuCount_ && vcpu >= kLegacyVcpus && !registered_[vcpu].load();
    }

    // The wallclock at system time 0: seconds/nanoseconds since the epoch.
    // Written with the wc_version odd/even protocol.
    void setWallclock(uint64_t sec, uint32_t nsec);

    // Offset of vcpu_time_info inside vcpu_info, the same in both layouts.
    static constexpr uint32_t kTimeOffset = offsetof(vcpu_info_t, time);

private:
    SharedInfo(uint32_t vcpuCount, npt::PhysMap& physMap, HostPages pages);
    uint8_t* pendingBase() const;
    uint8_t* maskBase() const;

    const uint32_t vcpuCount_;
    npt::PhysMap& physMap_;
    HostPages pages_;
    std::atomic<bool> is64_{true};
    std::mutex wallclockMutex_;
    uint64_t wcSec_ = 0;
    uint32_t wcNsec_ = 0;
    std::mutex registerMutex_; // serialises vcpu_info moves
    std::vector<std::atomic<uint8_t*>> vcpuInfo_;
    std::vector<std::atomic<bool>> registered_;
    // vcpu_info of vCPUs >= kLegacyVcpus until they register one.
    std::vector<std::array<uint64_t, kVcpuInfoBytes / 8>> dummies_;
};

} // namespace basalt::xen
