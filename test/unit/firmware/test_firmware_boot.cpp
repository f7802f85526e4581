#include "firmware/firmware_boot.h"
#include "firmware/hvm_info_table.h"
#include "firmware/hvmloader_keys.h"
#include "vmm/builder/domain_spec.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <numeric>

#include <xen/xen.h>
// xen.h first.
#include <xen/arch-x86/hvm/start_info.h>
#include <xen/hvm/hvm_info_table.h>

using namespace basalt;
using namespace basalt::firmware;

namespace {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kPage = 4096;

template <typename T> T readAt(const std::vector<uint8_t>& bytes, size_t offset) {
    REQUIRE(offset + sizeof(T) <= bytes.size());
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof value);
    return value;
}

FirmwareImage sampleImage() {
    FirmwareImage image;
    image.loader.mode = EntryMode::Protected;
    image.loader.entry = 0x100000;
    image.loader.segments.push_back({0x100000, std::vector<uint8_t>(0x1800, 0xAA), 0x2345});
    image.modules.push_back({"firmware", std::vector<uint8_t>(0x3001, 0x55)});
    return image;
}

DomainSpec firmwareSpec() {
    DomainSpec spec;
    spec.name = "fw";
    spec.memoryBytes = 64 * kMiB;
    spec.vcpus = 2;
    spec.firmware = FirmwareSpec{};
    spec.firmware->bootOrder = "dc";
    return spec;
}

} // namespace

TEST_CASE("hvm_info_table: fields and checksum", "[firmware]") {
    auto table = buildHvmInfoTable({3, 64 * kMiB, 0});
    REQUIRE(table.ok());
    CHECK(table->gpa == HVM_INFO_PADDR);
    REQUIRE(table->bytes.size() == sizeof(hvm_info_table));
    auto info = readAt<hvm_info_table>(table->bytes, 0);
    CHECK(std::memcmp(info.signature, "HVM INFO", 8) == 0);
    CHECK(info.length == sizeof(hvm_info_table));
    CHECK(info.nr_vcpus == 3);
    CHECK(info.vcpu_online[0] == 0x7);
    CHECK(info.low_mem_pgend == (64 * kMiB) / kPage);
    CHECK(info.high_mem_pgend == 0);
    CHECK(info.reserved_mem_pgstart == 0xFEFF0);
    uint8_t sum = std::accumulate(table->bytes.begin(), table->bytes.end(), uint8_t{0},
                                  [](uint8_t a, uint8_t b) { return uint8_t(a + b); });
    CHECK(sum == 0);

    auto high = buildHvmInfoTable({1, 0xF0000000, (4ull << 30) + 16 * kMiB});
    REQUIRE(high.ok());
    CHECK(readAt<hvm_info_table>(high->bytes, 0).high_mem_pgend ==
          ((4ull << 30) + 16 * kMiB) / kPage);
}

TEST_CASE("hvm_info_table: refuses what hvmloader cannot describe", "[firmware]") {
    CHECK_FALSE(buildHvmInfoTable({0, 64 * kMiB, 0}).ok());
    CHECK_FALSE(buildHvmInfoTable({HVM_MAX_VCPUS + 1, 64 * kMiB, 0}).ok());
    CHECK_FALSE(buildHvmInfoTable({1, 64 * kMiB + 1, 0}).ok());
    CHECK_FALSE(buildHvmInfoTable({1, 64 * kMiB, 1ull << 30}).ok()); // high RAM below 4 GiB
}

TEST_CASE("placeFirmware: module after hvmloader, then hvm_start_info", "[firmware]") {
    const FirmwareImage image = sampleImage();
    const std::vector<RamRange> ram = {{0, 0x9F000}, {0x100000, 63 * kMiB}};
    auto placed = placeFirmware(image, ram, 64 * kMiB);
    REQUIRE(placed.ok());
    REQUIRE(placed->pieces.size() == 2);
    const Piece& module = placed->pieces[0];
    CHECK(module.gpa == 0x103000); // page after 0x100000 + 0x2345
    CHECK(module.bytes == image.modules[0].bytes);
    const Piece& start = placed->pieces[1];
    CHECK(start.gpa == 0x107000); // page after the 0x3001-byte module
    CHECK(placed->startInfoGpa == start.gpa);

    auto info = readAt<hvm_start_info>(start.bytes, 0);
    CHECK(info.magic == XEN_HVM_START_MAGIC_VALUE);
    CHECK(info.version == 1);
    CHECK(info.nr_modules == 1);
    CHECK(info.memmap_entries == 2);
    auto entry = readAt<hvm_modlist_entry>(start.bytes, info.modlist_paddr - start.gpa);
    CHECK(entry.paddr == module.gpa);
    CHECK(entry.size == 0x3001);
    const char* name =
        reinterpret_cast<const char*>(start.bytes.data() + (entry.cmdline_paddr - start.gpa));
    CHECK(std::string(name) == "firmware");
    CHECK(start.bytes[info.cmdline_paddr - start.gpa] == 0); // empty command line
    auto second = readAt<hvm_memmap_table_entry>(start.bytes, info.memmap_paddr - start.gpa +
                                                                  sizeof(hvm_memmap_table_entry));
    CHECK(second.addr == 0x100000);
    CHECK(second.size == 63 * kMiB);
    CHECK(second.type == XEN_HVM_MEMMAP_TYPE_RAM);
}

TEST_CASE("placeFirmware: no room below the end of low RAM", "[firmware]") {
    auto placed = placeFirmware(sampleImage(), {}, 0x104000);
    REQUIRE_FALSE(placed.ok());
    CHECK(placed.error().code == ENOSPC);
    auto noStartInfo = placeFirmware(sampleImage(), {}, 0x107000);
    REQUIRE_FALSE(noStartInfo.ok());
    CHECK(noStartInfo.error().code == ENOSPC);
}

TEST_CASE("firmwareMemoryMap: low RAM from 1 MiB, as libxl", "[firmware]") {
    const std::vector<RamRange> ram = {{0, 0xA0000}, {0xC0000, 0x3F34000}, {4ull << 30, 16 * kMiB}};
    auto map = firmwareMemoryMap(ram);
    REQUIRE(map.size() == 2);
    CHECK(map[0].gpa == 0x100000);
    CHECK(map[0].size == 0x3FF4000 - 0x100000);
    CHECK(map[1].gpa == 4ull << 30);
    CHECK(map[1].size == 16 * kMiB);
}

TEST_CASE("hvmloader keys as libxl writes them for qemu-xen", "[firmware]") {
    FirmwareSpec spec;
    auto keys = hvmloaderKeys(spec, boot::kDefaultMmioHoleStart);
    std::map<std::string, std::string> byPath(keys.begin(), keys.end());
    CHECK(byPath.at("hvmloader/bios") == "seabios");
    CHECK(byPath.at("hvmloader/allow-memory-relocate") == "0");
    CHECK(byPath.at("platform/device-model") == "qemu_xen");
    CHECK(byPath.at("platform/acpi") == "1");
    CHECK(byPath.count("platform/mmio_hole_size") == 0);

    spec.bios = BiosKind::Ovmf;
    auto ovmf = hvmloaderKeys(spec, 0xE0000000);
    std::map<std::string, std::string> ovmfByPath(ovmf.begin(), ovmf.end());
    CHECK(ovmfByPath.at("hvmloader/bios") == "ovmf");
    CHECK(ovmfByPath.at("platform/mmio_hole_size") == std::to_string(0x20000000));
}

TEST_CASE("loadFirmware: a missing file is named", "[firmware]") {
    FirmwareSpec spec;
    spec.loaderPath = "/nonexistent/hvmloader";
    auto missingLoader = loadFirmware(spec);
    REQUIRE_FALSE(missingLoader.ok());
    CHECK_THAT(missingLoader.error().message,
               Catch::Contains("hvmloader '/nonexistent/hvmloader'"));
}

TEST_CASE("spec: firmware node round trip and rules", "[firmware]") {
    DomainSpec spec = firmwareSpec();
    auto blob = buildSpecBlob(spec);
    REQUIRE(blob.ok());
    auto parsed = parseSpecBlob(*blob);
    REQUIRE(parsed.ok());
    CHECK(*parsed == spec);

    for (const char* bad : {"", "cdx", "cc", "acdnc"}) {
        DomainSpec order = firmwareSpec();
        order.firmware->bootOrder = bad;
        CHECK_FALSE(validateSpec(order).ok());
    }
    DomainSpec noBios = firmwareSpec();
    noBios.firmware->biosPath = "";
    CHECK_FALSE(validateSpec(noBios).ok());
    CHECK(biosKindFromName("ovmf") == BiosKind::Ovmf);
    CHECK_FALSE(biosKindFromName("uefi"));
}
