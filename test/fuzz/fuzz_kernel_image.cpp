// Fuzz target: kernel images (ELF32, ELF64, flat) in every entry mode. Beyond
// "no crash", every accepted image must satisfy KernelImage's invariants, and
// checkImageFits must cope with it for any RAM size.

#include "test/fuzz/fuzz_seeds.h"
#include "test/unit/builder/elf_test_image.h"
#include "vmm/builder/kernel_image.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

using basalt::fuzz::require;

namespace {

constexpr basalt::EntryMode kModes[] = {basalt::EntryMode::Real, basalt::EntryMode::Protected,
                                        basalt::EntryMode::Long};
// RAM sizes to check fits against: tiny, typical, and larger than the hole.
constexpr uint64_t kRamSizes[] = {1ull << 20, 64ull << 20, 8ull << 30};
constexpr uint64_t kMmioHoleStart = 0xF0000000;

void checkImage(const basalt::Result<basalt::KernelImage>& image, basalt::EntryMode mode) {
    if (!image)
        return;
    require(image->mode == mode);
    require(!image->segments.empty());
    bool entryLoaded = false;
    for (const basalt::Segment& s : image->segments) {
        require(s.memSize > 0 && s.memSize >= s.bytes.size());
        require(s.gpa + s.memSize > s.gpa); // no wrap-around
        entryLoaded |= image->entry >= s.gpa && image->entry - s.gpa < s.memSize;
        if (mode == basalt::EntryMode::Real)
            require(s.gpa + s.memSize <= basalt::boot::kRealModeLimit);
    }
    require(entryLoaded);
    for (uint64_t ram : kRamSizes)
        (void)basalt::checkImageFits(*image, ram, kMmioHoleStart).ok();
}

} // namespace

namespace basalt::fuzz {

std::vector<std::vector<uint8_t>> seeds() {
    using test::TestSegment;
    const std::vector<uint8_t> code = {0xFA, 0xF4, 0xEB, 0xFD}; // cli; hlt; jmp $-1
    return {
        code,
        test::makeElf32(0x100000, {{0x100000, code, 0x2000}, {0x200000, code, 0}}),
        test::makeElf32(0x8000, {{0x8000, code, 0}}),
        test::makeElf64(0x100000, {{0x100000, code, 0x1000}, {0, {1}, 0, PT_NOTE}}),
    };
}

} // namespace basalt::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> file(data, size);
    for (basalt::EntryMode mode : kModes)
        checkImage(basalt::parseKernelImage(file, mode, std::nullopt), mode);
    // A load address taken from the input reaches the flat loader's address
    // arithmetic (ELF inputs are rejected with it, which is checked too).
    if (size >= sizeof(uint64_t)) {
        uint64_t address;
        std::memcpy(&address, data, sizeof(address));
        for (basalt::EntryMode mode : kModes)
            checkImage(basalt::parseKernelImage(file, mode, address), mode);
    }
    return 0;
}
