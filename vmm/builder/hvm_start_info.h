#pragma once
// Builds the struct hvm_start_info (xen/arch-x86/hvm/start_info.h, version 1)
// that a firmware override or hvmloader finds through EBX, with a memory map
// of the guest's RAM. It goes on the first page after the loaded image, as
// Xen's toolstack places it after the kernel.

#include "base/result.h"
#include "vmm/builder/kernel_image.h"

#include <cstdint>
#include <span>
#include <vector>

namespace basalt {

struct RamRange {
    uint64_t gpa = 0;
    uint64_t size = 0;
};

struct StartInfoImage {
    uint64_t gpa = 0; // what EBX gets
    std::vector<uint8_t> bytes;
};

// `ram` lists the guest's RAM in guest-physical order; the structure must fit
// below `lowRamEnd` and is refused (ENOSPC) otherwise.
Result<StartInfoImage> buildHvmStartInfo(const KernelImage& image, std::span<const RamRange> ram,
                                         uint64_t lowRamEnd);

} // namespace basalt
