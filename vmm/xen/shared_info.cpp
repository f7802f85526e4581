#include "vmm/xen/shared_info.h"

#include "npt/phys_map.h"

#include <cstddef>
#include <cstring>

#include <xen/foreign/x86_32.h>

namespace basalt::xen {

namespace {

using SharedInfo64 = shared_info_t;
using SharedInfo32 = shared_info_x86_32_t;
using VcpuInfo64 = vcpu_info_t;
using VcpuInfo32 = vcpu_info_x86_32_t;

static_assert(sizeof(VcpuInfo64) == SharedInfo::kVcpuInfoBytes);
static_assert(sizeof(VcpuInfo32) == SharedInfo::kVcpuInfoBytes);
static_assert(offsetof(VcpuInfo64, time) == offsetof(VcpuInfo32, time));
static_assert(offsetof(VcpuInfo64, evtchn_pending_sel) == 8);
static_assert(offsetof(VcpuInfo32, evtchn_pending_sel) == 4);
static_assert(offsetof(SharedInfo64, evtchn_pending) == offsetof(SharedInfo32, evtchn_pending));
static_assert(sizeof(SharedInfo64) <= 4096 && sizeof(SharedInfo32) <= 4096);
static_assert(sizeof(SharedInfo64::evtchn_pending) * 8 == SharedInfo::kMaxPorts64);
static_assert(sizeof(SharedInfo32::evtchn_pending) * 8 == SharedInfo::kMaxPorts32);

constexpr uint64_t kPageSize = 4096;
constexpr uint32_t kUpcallPendingOffset = offsetof(VcpuInfo64, evtchn_upcall_pending);
constexpr uint32_t kUpcallMaskOffset = offsetof(VcpuInfo64, evtchn_upcall_mask);
static_assert(kUpcallPendingOffset == offsetof(VcpuInfo32, evtchn_upcall_pending));
static_assert(kUpcallMaskOffset == offsetof(VcpuInfo32, evtchn_upcall_mask));

// Bit operations work on 32-bit words whatever the layout: bit b of a
// little-endian 64-bit word is bit b % 32 of its 32-bit half, and 4-byte
// alignment is all a 32-bit guest guarantees for a registered vcpu_info.
std::atomic_ref<uint32_t> wordOf(uint8_t* base, uint32_t bit) {
    return std::atomic_ref<uint32_t>(reinterpret_cast<uint32_t*>(base)[bit / 32]);
}

bool testAndSet(uint8_t* base, uint32_t bit) {
    uint32_t mask = 1u << (bit % 32);
    return wordOf(base, bit).fetch_or(mask) & mask;
}

bool testAndClear(uint8_t* base, uint32_t bit) {
    uint32_t mask = 1u << (bit % 32);
    return wordOf(base, bit).fetch_and(~mask) & mask;
}

bool test(uint8_t* base, uint32_t bit) {
    return wordOf(base, bit).load() & (1u << (bit % 32));
}

std::atomic_ref<uint8_t> byteAt(uint8_t* p) {
    return std::atomic_ref<uint8_t>(*p);
}

} // namespace

SharedInfo::SharedInfo(uint32_t vcpuCount, npt::PhysMap& physMap, HostPages pages)
    : vcpuCount_(vcpuCount), physMap_(physMap), pages_(std::move(pages)), vcpuInfo_(vcpuCount),
      registered_(vcpuCount), dummies_(vcpuCount) {
    for (uint32_t v = 0; v < vcpuCount; ++v) {
        uint8_t* info = v < kLegacyVcpus ? page() + v * kVcpuInfoBytes
                                         : reinterpret_cast<uint8_t*>(dummies_[v].data());
        vcpuInfo_[v].store(info);
    }
}

SharedInfo::~SharedInfo() = default;

Result<std::unique_ptr<SharedInfo>> SharedInfo::create(uint32_t vcpuCount, npt::PhysMap& physMap) {
    auto pages = HostPages::create("basalt-shared-info", 1);
    if (!pages)
        return pages.error();
    return std::unique_ptr<SharedInfo>(
        new SharedInfo(vcpuCount, physMap, std::move(pages).value()));
}

uint8_t* SharedInfo::pendingBase() const {
    return page() + offsetof(SharedInfo64, evtchn_pending);
}

uint8_t* SharedInfo::maskBase() const {
    return page() +
           (is64Bit() ? offsetof(SharedInfo64, evtchn_mask) : offsetof(SharedInfo32, evtchn_mask));
}

bool SharedInfo::testAndSetPending(uint32_t port) {
    return port < maxPorts() ? testAndSet(pendingBase(), port) : true;
}

bool SharedInfo::testAndClearPending(uint32_t port) {
    return port < maxPorts() ? testAndClear(pendingBase(), port) : false;
}

bool SharedInfo::isPending(uint32_t port) const {
    return port < maxPorts() && test(pendingBase(), port);
}

bool SharedInfo::isMasked(uint32_t port) const {
    return port >= maxPorts() || test(maskBase(), port);
}

bool SharedInfo::testAndSetMask(uint32_t port) {
    return port < maxPorts() ? testAndSet(maskBase(), port) : true;
}

void SharedInfo::setMask(uint32_t port) {
    (void)testAndSetMask(port);
}

void SharedInfo::clearMask(uint32_t port) {
    if (port < maxPorts())
        (void)testAndClear(maskBase(), port);
}

uint8_t* SharedInfo::vcpuInfo(uint32_t vcpu) const {
    return vcpu < vcpuCount_ ? vcpuInfo_[vcpu].load(std::memory_order_acquire) : nullptr;
}

bool SharedInfo::testAndSetPendingSelector(uint32_t vcpu, uint32_t word) {
    uint8_t* info = vcpuInfo(vcpu);
    if (!info || word >= bitsPerWord())
        return true;
    uint32_t offset = is64Bit() ? offsetof(VcpuInfo64, evtchn_pending_sel)
                                : offsetof(VcpuInfo32, evtchn_pending_sel);
    return testAndSet(info + offset, word);
}

bool SharedInfo::testAndSetUpcallPending(uint32_t vcpu) {
    uint8_t* info = vcpuInfo(vcpu);
    return info ? byteAt(info + kUpcallPendingOffset).exchange(1) != 0 : true;
}

void SharedInfo::clearUpcallPending(uint32_t vcpu) {
    if (uint8_t* info = vcpuInfo(vcpu))
        byteAt(info + kUpcallPendingOffset).store(0);
}

bool SharedInfo::isUpcallPending(uint32_t vcpu) const {
    uint8_t* info = vcpuInfo(vcpu);
    return info ? byteAt(info + kUpcallPendingOffset).load() != 0 : true;
}

bool SharedInfo::isUpcallMasked(uint32_t vcpu) const {
    uint8_t* info = vcpuInfo(vcpu);
    return info ? byteAt(info + kUpcallMaskOffset).load() != 0 : true;
}

int SharedInfo::registerVcpuInfo(uint32_t vcpu, uint64_t gfn, uint32_t offset) {
    if (offset > kPageSize - kVcpuInfoBytes)
        return -XEN_ENXIO;
    uint32_t align = is64Bit() ? alignof(VcpuInfo64) : alignof(VcpuInfo32);
    if (offset & (align - 1))
        return -XEN_ENXIO;
    if (vcpu >= vcpuCount_)
        return -XEN_EINVAL;
    std::lock_guard lock(registerMutex_);
    if (registered_[vcpu].load())
        return -XEN_EINVAL;
    if (gfn > (UINT64_MAX >> 12))
        return -XEN_EINVAL;
    auto page = physMap_.ramPagePointer(gfn << 12);
    if (!page)
        return -XEN_EINVAL;
    uint8_t* fresh = *page + offset;
    uint8_t* old = vcpuInfo_[vcpu].load();
    if (vcpu >= kLegacyVcpus) {
        // The dummy never was the guest's: start clean, upcalls masked.
        std::memset(fresh, 0, kVcpuInfoBytes);
        byteAt(fresh + kUpcallMaskOffset).store(1);
    } else {
        std::memmove(fresh, old, kVcpuInfoBytes);
    }
    vcpuInfo_[vcpu].store(fresh, std::memory_order_release);
    registered_[vcpu].store(true);
    // Everything pending: the guest gets a spurious scan, never a lost event.
    uint32_t selOffset = is64Bit() ? offsetof(VcpuInfo64, evtchn_pending_sel)
                                   : offsetof(VcpuInfo32, evtchn_pending_sel);
    std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(fresh + selOffset)).store(~0u);
    if (is64Bit())
        std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(fresh + selOffset + 4)).store(~0u);
    byteAt(fresh + kUpcallPendingOffset).store(1);
    return 0;
}

void SharedInfo::latchLayout(bool longMode) {
    is64_.store(longMode);
    uint64_t sec;
    uint32_t nsec;
    {
        std::lock_guard lock(wallclockMutex_);
        sec = wcSec_;
        nsec = wcNsec_;
    }
    setWallclock(sec, nsec);
}

void SharedInfo::setWallclock(uint64_t sec, uint32_t nsec) {
    std::lock_guard lock(wallclockMutex_);
    wcSec_ = sec;
    wcNsec_ = nsec;
    bool is64 = is64Bit();
    uint8_t* p = page();
    auto field = [p](size_t offset) {
        return std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(p + offset));
    };
    size_t versionOffset =
        is64 ? offsetof(SharedInfo64, wc_version) : offsetof(SharedInfo32, wc_version);
    auto version = field(versionOffset);
    // Odd while the fields change; readers retry until it is even and unchanged.
    uint32_t odd = (version.load() + 1) | 1;
    version.store(odd);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (is64) {
        field(offsetof(SharedInfo64, wc_sec)).store(static_cast<uint32_t>(sec));
        field(offsetof(SharedInfo64, wc_nsec)).store(nsec);
        field(offsetof(SharedInfo64, wc_sec_hi)).store(static_cast<uint32_t>(sec >> 32));
    } else {
        field(offsetof(SharedInfo32, wc_sec)).store(static_cast<uint32_t>(sec));
        field(offsetof(SharedInfo32, wc_nsec)).store(nsec);
        field(offsetof(SharedInfo32, arch.wc_sec_hi)).store(static_cast<uint32_t>(sec >> 32));
    }
    std::atomic_thread_fence(std::memory_order_seq_cst);
    version.store(odd + 1);
}

} // namespace basalt::xen
