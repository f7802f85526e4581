// Fuzz target: domain spec blobs (untrusted: they head saved and migrated
// domain streams). Beyond "no crash", anything the parser accepts must pass
// validateSpec and survive a build/parse round trip unchanged.

#include "test/fuzz/fuzz_seeds.h"
#include "vmm/builder/domain_spec.h"

#include <cstdint>
#include <cstdlib>

using basalt::fuzz::require;

namespace {

// Invariant violations abort, which both libFuzzer and the replay driver report.

basalt::DomainSpec seedSpec() {
    basalt::DomainSpec spec;
    spec.name = "fuzz";
    spec.memoryBytes = 64ull << 20;
    spec.vcpus = 2;
    spec.kernel.path = "/guests/hello.elf";
    return spec;
}

} // namespace

namespace basalt::fuzz {

std::vector<std::vector<uint8_t>> seeds() {
    std::vector<DomainSpec> specs(5, seedSpec());
    specs[1].kernel.entryMode = EntryMode::Real;
    specs[1].kernel.loadAddress = 0x7C00;
    specs[1].memoryBytes = 1ull << 20;
    specs[2].name = "web01";
    specs[2].memoryBytes = 6ull << 30;
    specs[2].vcpus = 8;
    specs[2].mmioHoleStart = 0xE0000000;
    specs[2].kernel.entryMode = EntryMode::Long;
    specs[2].kernel.loadAddress = 0x200000;
    specs[2].consoleLogPath = "/var/log/basalt/web01.log";
    specs[2].testExitPort = 0xF4;
    specs[2].testDirtyPort = 0x100;

    // The device model and its IDE disks.
    specs[3].deviceModel = DeviceModelSpec{};
    specs[3].deviceModel->vga = VgaKind::Std;
    specs[3].deviceModel->videoRamMiB = 16;
    specs[3].deviceModel->serial = SerialKind::File;
    specs[3].deviceModel->serialPath = "/var/log/basalt/serial.log";
    specs[3].deviceModel->vnc = "127.0.0.1:0";
    specs[3].deviceModel->platformDeviceId = 2;
    specs[3].disks.push_back(
        {0, "/srv/a.img", DiskFormat::Qcow2, "hda", DiskAccess::ReadWrite, DiskDevType::Disk});
    specs[3].disks.push_back(
        {3, "", DiskFormat::Raw, "hdc", DiskAccess::ReadOnly, DiskDevType::Cdrom});

    // Booted through hvmloader: a firmware node instead of the kernel.
    specs[4].kernel = KernelSpec{};
    specs[4].firmware = FirmwareSpec{};
    specs[4].firmware->bios = BiosKind::Ovmf;
    specs[4].firmware->biosPath = kDefaultOvmfPath;
    specs[4].firmware->bootOrder = "dc";
    specs[4].firmware->smbios = {
        {"bios-vendor", "Acme"}, {"oem-1", "first"}, {"system-serial-number", "SN 1"}};
    specs[4].deviceModel = DeviceModelSpec{};
    specs[4].uuid = DomainUuid{0x5f, 0x3b, 0x9a, 0x2e, 0x6c, 0x1d, 0x4e, 0x8a,
                               0x9b, 0x7f, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f};

    std::vector<std::vector<uint8_t>> out;
    for (const DomainSpec& spec : specs) {
        auto blob = buildSpecBlob(spec);
        require(blob.ok());
        out.push_back(*blob);
    }
    return out;
}

} // namespace basalt::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto spec = basalt::parseSpecBlob({data, size});
    if (!spec)
        return 0;
    require(basalt::validateSpec(*spec).ok());
    auto blob = basalt::buildSpecBlob(*spec);
    require(blob.ok());
    auto again = basalt::parseSpecBlob(*blob);
    require(again.ok() && *again == *spec);
    return 0;
}
