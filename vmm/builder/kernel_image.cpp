// parseKernelImage (flat binaries here, ELF in elf_loader.cpp), loadKernelFile
// and checkImageFits.

#include "vmm/builder/kernel_image.h"

#include "base/log.h"
#include "vmm/builder/describe.h"
#include "vmm/builder/elf_loader.h"
#include "vmm/builder/read_file.h"

#include <limits>

namespace basalt {

BASALT_DECLARE_LOG_CATEGORY(Builder);

namespace {

Error imageError(std::string message) {
    return makeError(ENOEXEC, std::move(message));
}

uint64_t defaultLoadAddress(EntryMode mode) {
    return mode == EntryMode::Real ? boot::kRealModeLoadAddress : boot::kProtectedLoadAddress;
}

Result<KernelImage> parseFlat(std::span<const uint8_t> file, EntryMode mode,
                              std::optional<uint64_t> loadAddress) {
    if (file.empty())
        return imageError("image is empty");
    if (file.size() > kMaxKernelFileBytes)
        return imageError("image is " + std::to_string(file.size()) + " bytes; at most " +
                          sizeString(kMaxKernelFileBytes) + " is accepted");
    const uint64_t gpa = loadAddress.value_or(defaultLoadAddress(mode));
    if (gpa > std::numeric_limits<uint64_t>::max() - file.size())
        return imageError("flat image of " + std::to_string(file.size()) +
                          " bytes at load address " + hexString(gpa) +
                          " runs past the end of the address space");
    KernelImage image;
    image.mode = mode;
    image.entry = gpa;
    image.segments.push_back(Segment{gpa, std::vector<uint8_t>(file.begin(), file.end()),
                                     static_cast<uint64_t>(file.size())});
    return image;
}

// Real mode reaches only the first MiB: CS:IP is derived from the entry.
Status checkRealModeLimits(const KernelImage& image) {
    if (image.entry >= boot::kRealModeLimit)
        return imageError("entry point " + hexString(image.entry) +
                          " is not below 1 MiB, which real mode requires");
    for (const Segment& s : image.segments)
        if (s.gpa >= boot::kRealModeLimit || s.memSize > boot::kRealModeLimit - s.gpa)
            return imageError("segment at " + hexString(s.gpa) + " (" + std::to_string(s.memSize) +
                              " bytes) does not fit below 1 MiB, which real mode requires");
    return {};
}

struct ReservedArea {
    uint64_t start;
    uint64_t end; // exclusive
    const char* what;
};

std::optional<ReservedArea> vmmReservedArea(EntryMode mode) {
    switch (mode) {
    case EntryMode::Real:
        return std::nullopt;
    case EntryMode::Protected:
        return ReservedArea{boot::kGdtAddress, boot::kGdtEnd,
                            "the GDT the VMM writes for protected mode"};
    case EntryMode::Long:
        return ReservedArea{boot::kGdtAddress, boot::kPageTablesEnd,
                            "the GDT and page tables the VMM writes for long mode"};
    }
    return std::nullopt;
}

bool overlaps(uint64_t aStart, uint64_t aEnd, uint64_t bStart, uint64_t bEnd) {
    return aStart < bEnd && bStart < aEnd;
}

} // namespace

Result<KernelImage> parseKernelImage(std::span<const uint8_t> file, EntryMode mode,
                                     std::optional<uint64_t> loadAddress) {
    if (!isValidEntryMode(mode))
        return makeError(EINVAL, "invalid kernel entry mode");
    const bool elf = hasElfMagic(file);
    if (elf && loadAddress)
        return imageError("a load address was given but the image is ELF, "
                          "which carries its own load addresses");
    auto image = elf ? parseElfImage(file, mode) : parseFlat(file, mode, loadAddress);
    if (image && mode == EntryMode::Real)
        BASALT_TRY(checkRealModeLimits(*image));
    return image;
}

Result<KernelImage> loadKernelFile(const std::string& path, EntryMode mode,
                                   std::optional<uint64_t> loadAddress) {
    auto file = readFileBounded(path, kMaxKernelFileBytes, "kernel");
    if (!file)
        return file.error();
    auto image = parseKernelImage(*file, mode, loadAddress);
    if (!image)
        return makeError(image.error().code, "kernel '" + path + "': " + image.error().message);
    LOG(Builder, Debug, "kernel '%s': %zu segment(s), entry %s", path.c_str(),
        image->segments.size(), hexString(image->entry).c_str());
    return image;
}

Status checkImageFits(const KernelImage& image, uint64_t ramBytes, uint64_t mmioHoleStart) {
    const uint64_t ramEnd = ramBytes < mmioHoleStart ? ramBytes : mmioHoleStart;
    const std::optional<ReservedArea> reserved = vmmReservedArea(image.mode);
    for (const Segment& s : image.segments) {
        if (s.memSize < s.bytes.size())
            return makeError(EINVAL, "kernel segment at " + hexString(s.gpa) +
                                         " has more bytes than its memory size");
        if (s.memSize == 0)
            continue;
        if (s.gpa >= ramEnd || s.memSize > ramEnd - s.gpa)
            return makeError(ENOSPC, "kernel segment " + hexString(s.gpa) + "+" +
                                         hexString(s.memSize) + " does not fit in the " +
                                         sizeString(ramEnd) + " of RAM below " + hexString(ramEnd));
        const uint64_t end = s.gpa + s.memSize;
        if (overlaps(s.gpa, end, boot::kVgaHoleStart, boot::kVgaHoleEnd))
            return makeError(EINVAL, "kernel segment " + rangeString(s.gpa, end) +
                                         " overlaps the VGA hole " +
                                         rangeString(boot::kVgaHoleStart, boot::kVgaHoleEnd) +
                                         ", which is not RAM");
        if (reserved && overlaps(s.gpa, end, reserved->start, reserved->end))
            return makeError(EINVAL, "kernel segment " + rangeString(s.gpa, end) + " overlaps " +
                                         reserved->what + " at " +
                                         rangeString(reserved->start, reserved->end));
    }
    return {};
}

} // namespace basalt
