#pragma once
// KernelImage: a directly booted kernel (test guests, `basalt-vmm --kernel`)
// turned into guest-physical segments and an entry point, following the boot
// contract in test/guests/README.md.
//
//   auto image = loadKernelFile(spec.kernel.path, spec.kernel.entryMode,
//                               spec.kernel.loadAddress);
//   BASALT_TRY(checkImageFits(*image, spec.memoryBytes, spec.mmioHoleStart));
//   for (auto& s : image->segments) copy s.bytes to s.gpa, zero up to s.memSize;
//
// The file is untrusted: every ELF offset and size is checked against the file
// and for overflow before use.

#include "base/result.h"
#include "vmm/builder/boot_layout.h"
#include "vmm/builder/entry_mode.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace basalt {

// Largest kernel file read, and largest total memory its segments may claim
// (bss included); both far above any test guest, far below RAM limits.
constexpr size_t kMaxKernelFileBytes = 256 * boot::kMiB;
constexpr uint64_t kMaxKernelMemBytes = 1 * boot::kGiB;
// Real kernels have a handful of PT_LOAD headers.
constexpr size_t kMaxKernelSegments = 64;

struct Segment {
    uint64_t gpa = 0;
    std::vector<uint8_t> bytes; // copied to gpa
    uint64_t memSize = 0;       // >= bytes.size(); the rest is zeroed

    bool operator==(const Segment&) const = default;
};

struct KernelImage {
    std::vector<Segment> segments;         // non-empty, non-overlapping, memSize > 0
    uint64_t entry = 0;                    // inside one of the segments
    EntryMode mode = EntryMode::Protected; // the mode it was parsed for

    bool operator==(const KernelImage&) const = default;
};

// ELF (magic \x7fELF): ELFCLASS32 for real/protected, ELFCLASS64 for long,
// little-endian, EM_386/EM_X86_64, ET_EXEC; PT_LOAD segments go to p_paddr,
// the entry is e_entry. A load address is an error for ELF.
// Anything else is a flat binary loaded at loadAddress (default 0x7C00 for
// real, 0x100000 otherwise), entered at its first byte.
// Real mode: the entry and the whole image lie below 1 MiB.
Result<KernelImage> parseKernelImage(std::span<const uint8_t> file, EntryMode mode,
                                     std::optional<uint64_t> loadAddress);

// Reads at most kMaxKernelFileBytes and parses; errors name the file.
Result<KernelImage> loadKernelFile(const std::string& path, EntryMode mode,
                                   std::optional<uint64_t> loadAddress);

// Checks that every segment lies in RAM below the MMIO hole, outside the VGA
// hole (0xA0000-0xBFFFF) and outside what the VMM writes for image.mode
// (protected: the GDT at 0x500-0x51F; long: GDT and page tables 0x500-0x6FFF).
Status checkImageFits(const KernelImage& image, uint64_t ramBytes, uint64_t mmioHoleStart);

} // namespace basalt
