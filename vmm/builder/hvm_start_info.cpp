#include "vmm/builder/hvm_start_info.h"

#include "base/format.h"

#include <algorithm>
#include <cinttypes>
#include <cstring>

#include <xen/xen.h>
// xen.h first.
#include <xen/arch-x86/hvm/start_info.h>

namespace basalt {

namespace {

constexpr uint64_t kPageSize = 4096;
constexpr uint32_t kStartInfoVersion = 1; // has the memory map fields
constexpr size_t kMaxRamRanges = 128;

uint64_t alignUp(uint64_t value, uint64_t alignment) {
    return (value + alignment - 1) & ~(alignment - 1);
}

} // namespace

Result<StartInfoImage> buildHvmStartInfo(const KernelImage& image, std::span<const RamRange> ram,
                                         uint64_t lowRamEnd) {
    if (ram.size() > kMaxRamRanges)
        return makeError(EINVAL, "too many RAM ranges for hvm_start_info");
    uint64_t imageEnd = 0;
    for (const auto& segment : image.segments)
        imageEnd = std::max(imageEnd, segment.gpa + segment.memSize);

    const size_t memmapOffset = alignUp(sizeof(hvm_start_info), alignof(hvm_memmap_table_entry));
    const size_t cmdlineOffset = memmapOffset + ram.size() * sizeof(hvm_memmap_table_entry);
    const size_t totalBytes = cmdlineOffset + 1; // an empty command line

    StartInfoImage out;
    out.gpa = alignUp(imageEnd, kPageSize);
    if (out.gpa + totalBytes > lowRamEnd)
        return makeError(ENOSPC,
                         formatString("no room for hvm_start_info after the image (it "
                                      "ends at %#" PRIx64 ", RAM below 4 GiB at %#" PRIx64 ")",
                                      imageEnd, lowRamEnd));
    out.bytes.assign(totalBytes, 0);

    hvm_start_info info{};
    info.magic = XEN_HVM_START_MAGIC_VALUE;
    info.version = kStartInfoVersion;
    info.cmdline_paddr = out.gpa + cmdlineOffset;
    info.memmap_paddr = out.gpa + memmapOffset;
    info.memmap_entries = static_cast<uint32_t>(ram.size());
    std::memcpy(out.bytes.data(), &info, sizeof info);
    for (size_t i = 0; i < ram.size(); ++i) {
        hvm_memmap_table_entry entry{};
        entry.addr = ram[i].gpa;
        entry.size = ram[i].size;
        entry.type = XEN_HVM_MEMMAP_TYPE_RAM;
        std::memcpy(out.bytes.data() + memmapOffset + i * sizeof entry, &entry, sizeof entry);
    }
    return out;
}

} // namespace basalt
