#include "test/unit/builder/elf_test_image.h"
#include "vmm/builder/kernel_image.h"

#include <catch2/catch.hpp>

#include <unistd.h>

using namespace basalt;
using namespace basalt::test;

namespace {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kRam = 64 * kMiB;
constexpr uint64_t kHole = 0xF0000000;

const std::vector<uint8_t> kCode = {0xFA, 0xF4, 0xEB, 0xFD}; // cli; hlt; jmp $-1

std::string parseError(const std::vector<uint8_t>& file, EntryMode mode,
                       std::optional<uint64_t> loadAddress = std::nullopt) {
    auto image = parseKernelImage(file, mode, loadAddress);
    return image ? std::string() : image.error().message;
}

std::string fitError(const KernelImage& image, uint64_t ram = kRam, uint64_t hole = kHole) {
    auto status = checkImageFits(image, ram, hole);
    return status ? std::string() : status.error().message;
}

KernelImage flatImage(EntryMode mode, uint64_t gpa, uint64_t size) {
    KernelImage image;
    image.mode = mode;
    image.entry = gpa;
    image.segments.push_back(Segment{gpa, {}, size});
    return image;
}

} // namespace

TEST_CASE("ELF32 image for protected mode", "[kernel_image]") {
    auto file = makeElf32(
        0x100000, {{0x100000, kCode, 0x2000}, {0x200000, {1, 2, 3}, 0}, {0, {9, 9}, 0, PT_NOTE}});
    auto image = parseKernelImage(file, EntryMode::Protected, std::nullopt);
    REQUIRE(image.ok());
    CHECK(image->entry == 0x100000);
    CHECK(image->mode == EntryMode::Protected);
    REQUIRE(image->segments.size() == 2);
    CHECK(image->segments[0] == Segment{0x100000, kCode, 0x2000});
    CHECK(image->segments[1] == Segment{0x200000, {1, 2, 3}, 3});
    CHECK(fitError(*image).empty());
}

TEST_CASE("ELF64 image for long mode", "[kernel_image]") {
    auto file = makeElf64(0x100002, {{0x100000, kCode, 0x1000}});
    auto image = parseKernelImage(file, EntryMode::Long, std::nullopt);
    REQUIRE(image.ok());
    CHECK(image->entry == 0x100002);
    REQUIRE(image->segments.size() == 1);
    CHECK(image->segments[0].memSize == 0x1000);
    CHECK(image->segments[0].bytes == kCode);
}

TEST_CASE("ELF32 image for real mode", "[kernel_image]") {
    auto file = makeElf32(0x8000, {{0x8000, kCode, 0}});
    auto image = parseKernelImage(file, EntryMode::Real, std::nullopt);
    REQUIRE(image.ok());
    CHECK(image->entry == 0x8000);
    CHECK(fitError(*image).empty());
}

TEST_CASE("flat images", "[kernel_image]") {
    SECTION("default addresses") {
        auto real = parseKernelImage(kCode, EntryMode::Real, std::nullopt);
        REQUIRE(real.ok());
        CHECK(real->entry == 0x7C00);
        CHECK(real->segments.at(0) == Segment{0x7C00, kCode, kCode.size()});
        for (EntryMode mode : {EntryMode::Protected, EntryMode::Long}) {
            auto image = parseKernelImage(kCode, mode, std::nullopt);
            REQUIRE(image.ok());
            CHECK(image->entry == 0x100000);
            CHECK(image->segments.at(0).gpa == 0x100000);
        }
    }
    SECTION("explicit load address") {
        auto image = parseKernelImage(kCode, EntryMode::Protected, 0x300000);
        REQUIRE(image.ok());
        CHECK(image->entry == 0x300000);
        CHECK(image->segments.at(0).gpa == 0x300000);
    }
    SECTION("empty") {
        CHECK(parseError({}, EntryMode::Protected) == "image is empty");
    }
    SECTION("address overflow") {
        CHECK_THAT(parseError(kCode, EntryMode::Long, ~uint64_t{0} - 1),
                   Catch::Contains("runs past the end of the address space"));
    }
    SECTION("short file that is not ELF") {
        auto image =
            parseKernelImage(std::vector<uint8_t>{0x7F, 'E'}, EntryMode::Real, std::nullopt);
        CHECK(image.ok());
    }
}

TEST_CASE("real mode limits", "[kernel_image]") {
    CHECK(parseError(kCode, EntryMode::Real, 0xFFFFC).empty());
    CHECK(parseError(kCode, EntryMode::Real, 0xFFFFD) ==
          "segment at 0xffffd (4 bytes) does not fit below 1 MiB, which real mode requires");
    CHECK(parseError(kCode, EntryMode::Real, 0x100000) ==
          "entry point 0x100000 is not below 1 MiB, which real mode requires");
    auto bss = makeElf32(0x8000, {{0x8000, kCode, 0x100000}});
    CHECK_THAT(parseError(bss, EntryMode::Real), Catch::Contains("does not fit below 1 MiB"));
}

TEST_CASE("ELF class must match the entry mode", "[kernel_image]") {
    auto elf32 = makeElf32(0x100000, {{0x100000, kCode, 0}});
    auto elf64 = makeElf64(0x100000, {{0x100000, kCode, 0}});
    CHECK(parseError(elf32, EntryMode::Long) ==
          "image is ELF32 but entry mode 'long' needs an ELF64 image");
    CHECK(parseError(elf64, EntryMode::Protected) ==
          "image is ELF64 but entry mode 'protected' needs an ELF32 image");
    CHECK(parseError(elf64, EntryMode::Real) ==
          "image is ELF64 but entry mode 'real' needs an ELF32 image");
}

TEST_CASE("corrupt ELF images", "[kernel_image]") {
    using Eh = Elf32_Ehdr;
    using Ph = Elf32_Phdr;
    auto file = makeElf32(0x100000, {{0x100000, kCode, 0x1000}});
    REQUIRE(parseError(file, EntryMode::Protected).empty());

    SECTION("load address with ELF") {
        CHECK_THAT(parseError(file, EntryMode::Protected, 0x100000),
                   Catch::Contains("the image is ELF"));
    }
    SECTION("truncated identification") {
        file.resize(8);
        CHECK_THAT(parseError(file, EntryMode::Protected), Catch::Contains("truncated"));
    }
    SECTION("truncated header") {
        file.resize(sizeof(Eh) - 1);
        CHECK_THAT(parseError(file, EntryMode::Protected),
                   Catch::Contains("smaller than an ELF32 header"));
    }
    SECTION("bad class") {
        file[EI_CLASS] = 3;
        CHECK(parseError(file, EntryMode::Protected) == "image has an invalid ELF class 3");
    }
    SECTION("big endian") {
        file[EI_DATA] = ELFDATA2MSB;
        CHECK(parseError(file, EntryMode::Protected) == "image is not a little-endian ELF image");
    }
    SECTION("not executable") {
        patchEhdr<Eh>(file, [](Eh& eh) { eh.e_type = ET_DYN; });
        CHECK_THAT(parseError(file, EntryMode::Protected), Catch::Contains("only ET_EXEC"));
    }
    SECTION("wrong machine") {
        patchEhdr<Eh>(file, [](Eh& eh) { eh.e_machine = EM_ARM; });
        CHECK_THAT(parseError(file, EntryMode::Protected), Catch::Contains("not EM_386"));
    }
    SECTION("no program headers") {
        patchEhdr<Eh>(file, [](Eh& eh) { eh.e_phnum = 0; });
        CHECK_THAT(parseError(file, EntryMode::Protected),
                   Catch::Contains("no ELF program headers"));
    }
    SECTION("wrong program header size") {
        patchEhdr<Eh>(file, [](Eh& eh) { eh.e_phentsize = 16; });
        CHECK_THAT(parseError(file, EntryMode::Protected), Catch::Contains("not 32"));
    }
    SECTION("program headers out of the file") {
        patchEhdr<Eh>(file, [](Eh& eh) { eh.e_phoff = 0xFFFFFFF0; });
        CHECK_THAT(parseError(file, EntryMode::Protected), Catch::Contains("program header table"));
        patchEhdr<Eh>(file, [](Eh& eh) {
            eh.e_phoff = sizeof(Eh);
            eh.e_phnum = 100;
        });
        CHECK_THAT(parseError(file, EntryMode::Protected), Catch::Contains("program header table"));
    }
    SECTION("segment out of the file") {
        patchPhdr<Eh, Ph>(file, 0, [](Ph& ph) { ph.p_offset = 0x10000; });
        CHECK_THAT(parseError(file, EntryMode::Protected), Catch::Contains("past the end of the"));
    }
    SECTION("overflowing offset") {
        patchPhdr<Eh, Ph>(file, 0, [](Ph& ph) {
            ph.p_offset = 0xFFFFFFFF;
            ph.p_filesz = 2;
        });
        CHECK_THAT(parseError(file, EntryMode::Protected), Catch::Contains("past the end of the"));
    }
    SECTION("filesz larger than memsz") {
        patchPhdr<Eh, Ph>(file, 0, [](Ph& ph) { ph.p_memsz = 2; });
        CHECK_THAT(parseError(file, EntryMode::Protected),
                   Catch::Contains("p_filesz 0x4 larger than p_memsz 0x2"));
    }
    SECTION("address overflow") {
        patchPhdr<Eh, Ph>(file, 0, [](Ph& ph) { ph.p_paddr = 0xFFFFF000; });
        patchEhdr<Eh>(file, [](Eh& eh) { eh.e_entry = 0xFFFFF000; });
        CHECK(parseError(file, EntryMode::Protected).empty()); // ends exactly at 4 GiB
        patchPhdr<Eh, Ph>(file, 0, [](Ph& ph) { ph.p_paddr = 0xFFFFF800; });
        CHECK_THAT(parseError(file, EntryMode::Protected),
                   Catch::Contains("past the end of the ELF32 address space"));
    }
    SECTION("huge memsz") {
        patchPhdr<Eh, Ph>(file, 0, [](Ph& ph) { ph.p_memsz = 0x80000000; });
        CHECK_THAT(parseError(file, EntryMode::Protected), Catch::Contains("at most 1 GiB"));
    }
    SECTION("entry outside segments") {
        patchEhdr<Eh>(file, [](Eh& eh) { eh.e_entry = 0x101000; });
        CHECK(parseError(file, EntryMode::Protected) ==
              "ELF entry point 0x101000 is not inside any loaded segment");
    }
    SECTION("no loadable segments") {
        patchPhdr<Eh, Ph>(file, 0, [](Ph& ph) { ph.p_type = PT_NOTE; });
        CHECK(parseError(file, EntryMode::Protected) ==
              "image has no loadable (PT_LOAD) ELF segments");
    }
    SECTION("overlapping segments") {
        auto two = makeElf32(0x100000, {{0x100000, kCode, 0x1000}, {0x100800, kCode, 0}});
        CHECK_THAT(parseError(two, EntryMode::Protected), Catch::Contains("overlaps another"));
    }
}

TEST_CASE("corrupt ELF64 images", "[kernel_image]") {
    using Eh = Elf64_Ehdr;
    using Ph = Elf64_Phdr;
    auto file = makeElf64(0x100000, {{0x100000, kCode, 0x1000}});
    SECTION("overflowing offset") {
        patchPhdr<Eh, Ph>(file, 0, [](Ph& ph) {
            ph.p_offset = ~uint64_t{0} - 1;
            ph.p_filesz = 4;
        });
        CHECK_THAT(parseError(file, EntryMode::Long), Catch::Contains("past the end of the"));
    }
    SECTION("overflowing address") {
        patchPhdr<Eh, Ph>(file, 0, [](Ph& ph) { ph.p_paddr = ~uint64_t{0} - 0x10; });
        CHECK_THAT(parseError(file, EntryMode::Long),
                   Catch::Contains("past the end of the ELF64 address space"));
    }
    SECTION("overflowing program header offset") {
        patchEhdr<Eh>(file, [](Eh& eh) { eh.e_phoff = ~uint64_t{0} - 8; });
        CHECK_THAT(parseError(file, EntryMode::Long), Catch::Contains("program header table"));
    }
    SECTION("wrong machine") {
        patchEhdr<Eh>(file, [](Eh& eh) { eh.e_machine = EM_386; });
        CHECK_THAT(parseError(file, EntryMode::Long), Catch::Contains("not EM_X86_64"));
    }
}

TEST_CASE("checkImageFits", "[kernel_image]") {
    CHECK(fitError(flatImage(EntryMode::Protected, 0x100000, 0x1000)).empty());
    CHECK(fitError(flatImage(EntryMode::Protected, 0x520, 0x100)).empty());
    CHECK(fitError(flatImage(EntryMode::Long, 0x7000, 0x1000)).empty());
    CHECK(fitError(flatImage(EntryMode::Real, 0x500, 0x100)).empty());

    SECTION("beyond RAM") {
        CHECK(fitError(flatImage(EntryMode::Protected, kRam - 0x800, 0x1000)) ==
              "kernel segment 0x3fff800+0x1000 does not fit in the 64 MiB of RAM below 0x4000000");
        CHECK_THAT(fitError(flatImage(EntryMode::Protected, ~uint64_t{0}, 2)),
                   Catch::Contains("does not fit"));
    }
    SECTION("in the MMIO hole") {
        const uint64_t bigRam = 8ull << 30;
        CHECK(fitError(flatImage(EntryMode::Long, 0xEFFFF000, 0x1000), bigRam).empty());
        CHECK_THAT(fitError(flatImage(EntryMode::Long, 0xEFFFF000, 0x2000), bigRam),
                   Catch::Contains("RAM below 0xf0000000"));
    }
    SECTION("VGA hole") {
        CHECK(fitError(flatImage(EntryMode::Real, 0x9F000, 0x2000)) ==
              "kernel segment 0x9f000-0xa0fff overlaps the VGA hole 0xa0000-0xbffff, "
              "which is not RAM");
        CHECK(fitError(flatImage(EntryMode::Real, 0x9F000, 0x1000)).empty());
        CHECK(fitError(flatImage(EntryMode::Real, 0xC0000, 0x1000)).empty());
    }
    SECTION("protected mode GDT") {
        CHECK(fitError(flatImage(EntryMode::Protected, 0x400, 0x101)) ==
              "kernel segment 0x400-0x500 overlaps the GDT the VMM writes for protected mode "
              "at 0x500-0x51f");
    }
    SECTION("long mode page tables") {
        CHECK_THAT(fitError(flatImage(EntryMode::Long, 0x6000, 0x2000)),
                   Catch::Contains("GDT and page tables the VMM writes for long mode at "
                                   "0x500-0x6fff"));
        CHECK(fitError(flatImage(EntryMode::Protected, 0x6000, 0x2000)).empty());
    }
}

TEST_CASE("loadKernelFile", "[kernel_image]") {
    SECTION("missing file") {
        auto image = loadKernelFile("/nonexistent/x", EntryMode::Protected, std::nullopt);
        REQUIRE_FALSE(image.ok());
        CHECK(image.error().message ==
              "cannot read kernel '/nonexistent/x': No such file or directory");
    }
    SECTION("reads and names the file in errors") {
        char name[] = "/tmp/basalt-kernel-XXXXXX";
        int fd = mkstemp(name);
        REQUIRE(fd >= 0);
        auto elf = makeElf64(0x100000, {{0x100000, kCode, 0}});
        REQUIRE(write(fd, elf.data(), elf.size()) == static_cast<ssize_t>(elf.size()));
        close(fd);
        auto image = loadKernelFile(name, EntryMode::Long, std::nullopt);
        CHECK(image.ok());
        auto wrong = loadKernelFile(name, EntryMode::Protected, std::nullopt);
        REQUIRE_FALSE(wrong.ok());
        CHECK(wrong.error().message == std::string("kernel '") + name +
                                           "': image is ELF64 but entry mode 'protected' needs "
                                           "an ELF32 image");
        unlink(name);
    }
}
