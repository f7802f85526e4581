#pragma once
// The struct hvm_info_table (xen/hvm/hvm_info_table.h) Xen's domain builder
// writes at HVM_INFO_PADDR (0x9F800) for hvmloader: vCPU count and online
// map, and where RAM ends below and above the MMIO hole.

#include "base/result.h"

#include <cstdint>
#include <vector>

namespace basalt::firmware {

// xg_dom_x86.c's layout: 8 special pages end at pfn 0xFF000, and the ioreq
// server pages (8) sit below them; hvmloader allocates its tables below
// reserved_mem_pgstart, never touching those pages.
inline constexpr uint64_t kSpecialPagesEndPfn = 0xFF000;
inline constexpr uint64_t kSpecialPageCount = 8;
inline constexpr uint64_t kIoreqServerPageCount = 8;
inline constexpr uint64_t kReservedMemStartPfn =
    kSpecialPagesEndPfn - kSpecialPageCount - kIoreqServerPageCount;

struct HvmInfoLayout {
    uint32_t vcpus = 1;
    uint64_t lowRamEnd = 0;  // bytes: RAM [0, lowRamEnd) below the MMIO hole
    uint64_t highRamEnd = 0; // bytes: RAM [4 GiB, highRamEnd) above it; 0 if none
};

struct HvmInfoImage {
    uint64_t gpa = 0; // HVM_INFO_PADDR
    std::vector<uint8_t> bytes;
};

// EINVAL for a vCPU count hvmloader cannot describe (0 or above HVM_MAX_VCPUS)
// or RAM ends that are not page aligned.
Result<HvmInfoImage> buildHvmInfoTable(const HvmInfoLayout& layout);

} // namespace basalt::firmware
