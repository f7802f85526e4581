// ELF executables -> KernelImage. Headers are copied out of the file with
// memcpy (the file has no alignment guarantee) and every offset, size and
// address sum is checked before it is used.

#include "vmm/builder/elf_loader.h"

#include "vmm/builder/describe.h"

#include <cstring>
#include <elf.h>
#include <limits>

namespace basalt {
namespace {

struct Elf32 {
    using Ehdr = Elf32_Ehdr;
    using Phdr = Elf32_Phdr;
    static constexpr uint16_t kMachine = EM_386;
    static constexpr const char* kName = "ELF32";
    // Physical addresses of a 32-bit image end at 4 GiB.
    static constexpr uint64_t kAddressLimit = uint64_t{1} << 32;
};

struct Elf64 {
    using Ehdr = Elf64_Ehdr;
    using Phdr = Elf64_Phdr;
    static constexpr uint16_t kMachine = EM_X86_64;
    static constexpr const char* kName = "ELF64";
    static constexpr uint64_t kAddressLimit = std::numeric_limits<uint64_t>::max();
};

Error elfError(std::string message) {
    return makeError(ENOEXEC, std::move(message));
}

// [offset, offset + size) inside a buffer of `total` bytes, without overflow.
bool rangeInside(uint64_t offset, uint64_t size, uint64_t total) {
    return offset <= total && size <= total - offset;
}

bool overlaps(uint64_t aStart, uint64_t aEnd, uint64_t bStart, uint64_t bEnd) {
    return aStart < bEnd && bStart < aEnd;
}

template <typename Class>
Result<Segment> readSegment(std::span<const uint8_t> file, const typename Class::Phdr& ph,
                            size_t index) {
    const std::string what = "ELF program header " + std::to_string(index);
    const uint64_t offset = ph.p_offset;
    const uint64_t fileSize = ph.p_filesz;
    const uint64_t memSize = ph.p_memsz;
    const uint64_t paddr = ph.p_paddr;
    if (fileSize > memSize)
        return elfError(what + " has p_filesz " + hexString(fileSize) + " larger than p_memsz " +
                        hexString(memSize));
    if (!rangeInside(offset, fileSize, file.size()))
        return elfError(what + " points at file bytes " + hexString(offset) + "+" +
                        hexString(fileSize) + ", past the end of the " +
                        std::to_string(file.size()) + "-byte file");
    if (memSize > kMaxKernelMemBytes)
        return elfError(what + " is " + hexString(memSize) + " bytes in memory; at most " +
                        sizeString(kMaxKernelMemBytes) + " is supported");
    if (paddr > Class::kAddressLimit - memSize)
        return elfError(what + " at " + hexString(paddr) + " with size " + hexString(memSize) +
                        " runs past the end of the " + Class::kName + " address space");
    Segment segment;
    segment.gpa = paddr;
    segment.memSize = memSize;
    segment.bytes.assign(file.begin() + static_cast<ptrdiff_t>(offset),
                         file.begin() + static_cast<ptrdiff_t>(offset + fileSize));
    return segment;
}

template <typename Class>
Result<KernelImage> parseElfClass(std::span<const uint8_t> file, EntryMode mode) {
    using Ehdr = typename Class::Ehdr;
    using Phdr = typename Class::Phdr;
    if (file.size() < sizeof(Ehdr))
        return elfError(std::string("image is truncated: ") + std::to_string(file.size()) +
                        " bytes is smaller than an " + Class::kName + " header");
    Ehdr eh;
    std::memcpy(&eh, file.data(), sizeof(eh));
    if (eh.e_type != ET_EXEC)
        return elfError("image is not an ELF executable (e_type " + std::to_string(eh.e_type) +
                        "); only ET_EXEC images can be loaded");
    if (eh.e_machine != Class::kMachine)
        return elfError("image is for ELF machine " + std::to_string(eh.e_machine) + ", not " +
                        (Class::kMachine == EM_386 ? "EM_386" : "EM_X86_64"));
    if (eh.e_version != EV_CURRENT)
        return elfError("image has ELF version " + std::to_string(eh.e_version) + ", not 1");
    if (eh.e_phnum == 0 || eh.e_phnum == PN_XNUM)
        return elfError("image has " + std::string(eh.e_phnum == 0 ? "no" : "extended-count") +
                        " ELF program headers; it cannot be loaded");
    if (eh.e_phentsize != sizeof(Phdr))
        return elfError("ELF program headers are " + std::to_string(eh.e_phentsize) +
                        " bytes, not " + std::to_string(sizeof(Phdr)));
    const uint64_t tableBytes = uint64_t{eh.e_phnum} * sizeof(Phdr);
    if (!rangeInside(eh.e_phoff, tableBytes, file.size()))
        return elfError("ELF program header table (offset " + hexString(eh.e_phoff) + ", " +
                        std::to_string(eh.e_phnum) + " entries) lies outside the " +
                        std::to_string(file.size()) + "-byte file");

    KernelImage image;
    image.mode = mode;
    image.entry = eh.e_entry;
    uint64_t totalMem = 0;
    uint64_t totalFile = 0;
    for (size_t i = 0; i < eh.e_phnum; ++i) {
        Phdr ph;
        std::memcpy(&ph, file.data() + eh.e_phoff + i * sizeof(Phdr), sizeof(ph));
        if (ph.p_type != PT_LOAD)
            continue;
        auto segment = readSegment<Class>(file, ph, i);
        if (!segment)
            return segment.error();
        if (segment->memSize == 0)
            continue; // nothing to load
        if (image.segments.size() == kMaxKernelSegments)
            return elfError("image has more than " + std::to_string(kMaxKernelSegments) +
                            " loadable ELF segments");
        // Both totals stay far below 2^64: each term is capped above.
        totalMem += segment->memSize;
        totalFile += segment->bytes.size();
        if (totalMem > kMaxKernelMemBytes || totalFile > kMaxKernelFileBytes)
            return elfError("the loadable ELF segments are too large: at most " +
                            sizeString(kMaxKernelMemBytes) + " in memory and " +
                            sizeString(kMaxKernelFileBytes) + " from the file in total");
        const uint64_t end = segment->gpa + segment->memSize;
        for (const Segment& other : image.segments)
            if (overlaps(segment->gpa, end, other.gpa, other.gpa + other.memSize))
                return elfError("ELF program header " + std::to_string(i) + " (" +
                                rangeString(segment->gpa, end) + ") overlaps another segment (" +
                                rangeString(other.gpa, other.gpa + other.memSize) + ")");
        image.segments.push_back(std::move(*segment));
    }
    if (image.segments.empty())
        return elfError("image has no loadable (PT_LOAD) ELF segments");
    bool entryLoaded = false;
    for (const Segment& s : image.segments)
        entryLoaded |= image.entry >= s.gpa && image.entry - s.gpa < s.memSize;
    if (!entryLoaded)
        return elfError("ELF entry point " + hexString(image.entry) +
                        " is not inside any loaded segment");
    return image;
}

} // namespace

bool hasElfMagic(std::span<const uint8_t> file) {
    return file.size() >= SELFMAG && std::memcmp(file.data(), ELFMAG, SELFMAG) == 0;
}

Result<KernelImage> parseElfImage(std::span<const uint8_t> file, EntryMode mode) {
    if (file.size() < EI_NIDENT)
        return elfError("image is truncated: it starts with the ELF magic but is only " +
                        std::to_string(file.size()) + " bytes");
    const unsigned char elfClass = file[EI_CLASS];
    if (elfClass != ELFCLASS32 && elfClass != ELFCLASS64)
        return elfError("image has an invalid ELF class " + std::to_string(elfClass));
    const bool wants64 = mode == EntryMode::Long;
    if ((elfClass == ELFCLASS64) != wants64)
        return elfError(std::string("image is ") + (elfClass == ELFCLASS64 ? "ELF64" : "ELF32") +
                        " but entry mode '" + std::string(entryModeName(mode)) + "' needs an " +
                        (wants64 ? "ELF64" : "ELF32") + " image");
    if (file[EI_DATA] != ELFDATA2LSB)
        return elfError("image is not a little-endian ELF image");
    if (file[EI_VERSION] != EV_CURRENT)
        return elfError("image has ELF identification version " + std::to_string(file[EI_VERSION]) +
                        ", not 1");
    return wants64 ? parseElfClass<Elf64>(file, mode) : parseElfClass<Elf32>(file, mode);
}

} // namespace basalt
