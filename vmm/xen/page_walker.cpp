#include "vmm/xen/page_walker.h"

#include "base/x86.h"

#include "base/format.h"
#include "npt/guest_memory.h"

#include <cinttypes>

namespace basalt::xen {

namespace {

using namespace x86;

constexpr uint64_t kAddressMask = 0x000FFFFFFFFFF000ull; // bits 51:12
constexpr uint64_t kPageMask = 0xFFF;

Error notMapped(uint64_t linear) {
    return makeError(EFAULT,
                     formatString("guest linear address %#" PRIx64 " is not mapped", linear));
}

// Walks `levels` levels of 64-bit entries (PAE: 3, 4-level: 4, 5-level: 5).
Result<uint64_t> walk64(const npt::GuestMemory& memory, uint64_t table, uint64_t linear, int levels,
                        bool needWrite) {
    for (int level = levels; level >= 1; --level) {
        unsigned shift = 12 + 9 * (level - 1);
        // PAE's top level has 4 entries indexed by bits 31:30.
        uint64_t index = (linear >> shift) & (levels == 3 && level == 3 ? 0x3 : 0x1FF);
        auto entry = memory.readObject<uint64_t>((table & kAddressMask) + index * 8);
        if (!entry.ok() || !(*entry & kPtePresent))
            return notMapped(linear);
        bool paePdpte = levels == 3 && level == 3; // PAE PDPTEs have no R/W bit
        if (needWrite && !paePdpte && !(*entry & kPteWritable))
            return makeError(
                EFAULT, formatString("guest linear address %#" PRIx64 " is read-only", linear));
        bool large = (*entry & kPteLargePage) && (level == 2 || (level == 3 && levels >= 4));
        if (large || level == 1) {
            uint64_t offsetMask = (1ull << shift) - 1;
            return (*entry & kAddressMask & ~offsetMask) | (linear & offsetMask);
        }
        table = *entry;
    }
    return notMapped(linear);
}

Result<uint64_t> walk32(const npt::GuestMemory& memory, const PagingState& p, uint64_t linear,
                        bool needWrite) {
    uint32_t address = static_cast<uint32_t>(linear);
    auto pde = memory.readObject<uint32_t>((p.cr3 & 0xFFFFF000) + (address >> 22) * 4);
    if (!pde.ok() || !(*pde & kPtePresent))
        return notMapped(linear);
    if (needWrite && !(*pde & kPteWritable))
        return makeError(EFAULT, "guest linear address is read-only");
    if ((*pde & kPteLargePage) && (p.cr4 & kCr4Pse)) {
        // 4 MiB page; bits 20:13 hold physical address bits 39:32 (PSE-36).
        uint64_t base = (*pde & 0xFFC00000u) | (static_cast<uint64_t>((*pde >> 13) & 0xFF) << 32);
        return base | (address & 0x3FFFFF);
    }
    auto pte = memory.readObject<uint32_t>((*pde & 0xFFFFF000) + ((address >> 12) & 0x3FF) * 4);
    if (!pte.ok() || !(*pte & kPtePresent))
        return notMapped(linear);
    if (needWrite && !(*pte & kPteWritable))
        return makeError(EFAULT, "guest linear address is read-only");
    return (*pte & 0xFFFFF000) | (address & kPageMask);
}

} // namespace

Result<uint64_t> translateLinear(const npt::GuestMemory& memory, const PagingState& paging,
                                 uint64_t linear, AccessKind access) {
    if (!(paging.cr0 & kCr0Pg))
        return linear & 0xFFFFFFFF; // paging off: linear addresses are 32-bit physical
    // Supervisor writes ignore R/W unless CR0.WP is set.
    bool needWrite = access == AccessKind::Write && (paging.cr0 & kCr0Wp);
    if (paging.efer & kEferLma)
        return walk64(memory, paging.cr3, linear, (paging.cr4 & kCr4La57) ? 5 : 4, needWrite);
    if (paging.cr4 & kCr4Pae)
        return walk64(memory, paging.cr3 & ~0x1Full, linear & 0xFFFFFFFF, 3, needWrite);
    return walk32(memory, paging, linear, needWrite);
}

} // namespace basalt::xen
