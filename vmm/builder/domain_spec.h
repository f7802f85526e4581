#pragma once
// DomainSpec: everything basalt-vmm needs to build one guest, and its wire form,
// a flattened device tree (DESIGN.md decision 9). basaltd writes the blob,
// basalt-vmm reads it; the same blob heads a saved or migrated domain's stream,
// so the reader treats it as untrusted input.
//
// Binding "basalt,domain-spec-v1"
// ===============================
// In the spirit of Xen's dom0less "xen,domain" nodes, but self-contained: the
// blob describes one domain and nothing about the host.
//
//   / {
//       compatible = "basalt,domain-spec-v1";       // required, exactly this
//
//       domain {
//           compatible = "basalt,domain";           // required
//           name = "web01";                         // required, string
//           uuid = "5f3b9a2e-6c1d-4e8a-9b7f-0a1b2c3d4e5f"; // optional: the domain
//                                                   // handle (domain_uuid.h), canonical
//                                                   // lower-case; absent: basalt-vmm
//                                                   // makes one per process
//           memory = <0x0 0x10000000>;              // required, u64 bytes (2 cells)
//           cpus = <2>;                             // required, u32
//           mmio-hole-start = <0x0 0xf0000000>;     // optional u64, default 0xF0000000
//
//           kernel {                                // one of kernel or firmware
//               compatible = "basalt,kernel";       // required
//               path = "/srv/guests/hello.elf";     // required, string (host path)
//               entry-mode = "protected";           // required: "real"|"protected"|"long"
//               load-address = <0x0 0x100000>;      // optional u64, flat binaries only
//               boot-protocol = "hvm-start-info";   // optional: "direct" (default) or
//                                                   // "hvm-start-info" (firmware_override)
//           };
//
//           firmware {                              // one of kernel or firmware:
//               compatible = "basalt,hvmloader";    // hvmloader boots SeaBIOS or OVMF
//               path = "/usr/lib/xen-4.17/boot/hvmloader"; // required, ELF32
//               bios = "seabios";                   // required: "seabios" or "ovmf"
//               bios-path = "/usr/share/seabios/bios-256k.bin"; // required: hvmloader's
//                                                   // "firmware" module
//               boot-order = "cd";                  // optional: QEMU's -boot order=,
//                                                   // letters a c d n (default "cd")
//               smbios {                            // optional: SMBIOS strings
//                   compatible = "basalt,smbios-strings"; // (smbios_strings.h)
//                   bios-vendor = "Acme";           // each property is one
//                   system-serial-number = "XYZ";   // bios-strings/<name> key
//                   oem-1 = "first OEM string";     // oem-1, oem-2, ... in order
//               };
//           };
//
//           console {                               // optional
//               compatible = "basalt,console";      // required
//               log-path = "/var/log/basalt/web01.log"; // required, string
//           };
//
//           device-model {                          // optional: QEMU serves the
//               compatible = "basalt,qemu";         // legacy devices (required)
//               vga = "stdvga";                     // optional: "cirrus" (default),
//                                                   // "stdvga" or "none"
//               videoram = <16>;                    // optional u32 MiB; default and
//                                                   // minimum as libxl (cirrus 8,
//                                                   // stdvga 16), at most 16
//               serial = "pty";                     // optional: "none" (default),
//                                                   // "pty" or "file:/abs/path"
//               vnc = "unix:/run/basalt/web01.vnc"; // optional: "unix:/abs/path" or
//                                                   // "HOST:DISPLAY" (e.g. 127.0.0.1:0)
//               vnc-password = "secret";            // optional, needs vnc: VNC clients
//                                                   // must authenticate (basalt-vnc-auth;
//                                                   // RFB uses its first 8 bytes)
//               platform-device-id = <1>;           // optional u32: 1 (default) or 2
//               usb-tablet = <1>;                   // optional u32: 1 (default) or 0
//               xen-platform-pci = <1>;             // optional u32: 1 (default) or 0
//           };
//
//           disk@0 {                                // optional, 0 to 15; IDE only
//               compatible = "basalt,vbd";          // for now, so at most 4 of them
//               target = "/srv/web01.img";          // string; optional only for an
//                                                   // empty cdrom
//               format = "raw";                     // required: "raw" or "qcow2"
//               vdev = "hda";                       // required: "hda".."hdd", unique
//               access = "rw";                      // required: "rw" or "ro"
//               devtype = "disk";                   // required: "disk" or "cdrom";
//                                                   // a cdrom is "ro", a disk "rw"
//           };
//       };
//
//       test {                                      // optional, test guests only
//           compatible = "basalt,test";             // required
//           exit-port = <0xf4>;                     // optional u32 holding a u16 port
//           dirty-port = <0xf0>;                    // optional u32; uses port..port+15
//       };
//   };
//
// Rules the reader enforces
// - Cells are big-endian. A u32 property is exactly 4 bytes, a u64 exactly 8
//   (two cells, most significant first). A string is one NUL-terminated string
//   with no NUL inside (no string lists).
// - Every node listed above carries the compatible shown; anything else is an
//   error. Unknown nodes and unknown properties are errors too: a v1 reader must
//   not silently ignore a disk or a key it does not understand. A later version
//   either adds them to v1 (readers older than that reject such blobs, which is
//   the point) or bumps the root compatible.
// - No duplicate nodes or properties, no memory reservations, depth at most 4.
// - disk@N: N is decimal without leading zeros, below kMaxDiskNodes; disks
//   need a device-model node (QEMU's IDE serves them).
//
// Room reserved for later issues (children of /domain, not accepted yet):
//   platform { <key> = "<value>"; ... };         // xe platform:... keys
//   disk@N   backend-type (PV backends), more vdev kinds (xvd*, sd*)
//   vif@N    { compatible = "basalt,vif"; mac; bridge; ... };

#include "base/result.h"
#include "vmm/builder/boot_layout.h"
#include "vmm/builder/domain_uuid.h"
#include "vmm/builder/entry_mode.h"
#include "vmm/builder/smbios_strings.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace basalt {

// Semantic limits (validateSpec). Callers also cap memory by what the host has
// and vCPUs by KVM_CAP_MAX_VCPUS.
constexpr uint64_t kMinDomainMemory = 1 * boot::kMiB;
constexpr uint64_t kMaxDomainMemory = 1 * boot::kTiB;
constexpr uint64_t kDomainMemoryGranule = 4 * boot::kKiB; // one page
constexpr uint32_t kMaxVcpus = 128;
constexpr size_t kMaxDomainNameLength = 64;
constexpr size_t kMaxHostPathLength = 4095; // PATH_MAX less the NUL
// The MMIO hole is 256 MiB to 3840 MiB below 4 GiB, like xl's mmio_hole.
constexpr uint64_t kMinMmioHoleStart = 0x10000000;
constexpr uint64_t kMaxMmioHoleStart = boot::kDefaultMmioHoleStart;
constexpr uint64_t kMmioHoleGranule = 1 * boot::kMiB;
// The test exit port decodes PORT..PORT+3, so a 32-bit `out` at PORT is
// claimed whole; the dirty-logging probe decodes PORT+0..PORT+15.
constexpr uint32_t kTestExitPortCount = 4;
constexpr uint32_t kTestDirtyPortCount = 16;

// Largest spec blob or file accepted.
constexpr size_t kMaxSpecBytes = 1 * boot::kMiB;

// How the kernel is handed control. HvmStartInfo is xl's firmware_override:
// an ELF32 loaded in hvmloader's place and entered in 32-bit protected mode
// with EBX pointing at a struct hvm_start_info (xen/arch-x86/hvm/start_info.h),
// as Xen's toolstack does; third-party Xen test kernels boot this way.
enum class BootProtocol : uint8_t { Direct, HvmStartInfo };

struct KernelSpec {
    std::string path;
    EntryMode entryMode = EntryMode::Protected;
    std::optional<uint64_t> loadAddress; // flat binaries only
    BootProtocol bootProtocol = BootProtocol::Direct;

    bool operator==(const KernelSpec&) const = default;
};

// The legacy devices QEMU emulates (devmodel/launcher/ turns them into its
// command line, as libxl's libxl__build_device_model_args_new does).
enum class VgaKind : uint8_t { Cirrus, Std, None };
enum class SerialKind : uint8_t { None, Pty, File };
enum class DiskFormat : uint8_t { Raw, Qcow2 };
enum class DiskAccess : uint8_t { ReadWrite, ReadOnly };
enum class DiskDevType : uint8_t { Disk, Cdrom };

// Video RAM bounds in MiB: libxl's qemu-xen minimums, and QEMU's cirrus-vga
// accepts only 4, 8 or 16.
constexpr uint32_t kMinCirrusVideoRamMiB = 8;
constexpr uint32_t kMinStdVgaVideoRamMiB = 16;
constexpr uint32_t kMaxVideoRamMiB = 16;
// The PCI device IDs Xen platform drivers bind to (XenServer's device_id).
constexpr uint32_t kPlatformDeviceIdXen = 1;
constexpr uint32_t kPlatformDeviceIdWindowsUpdate = 2;
// QEMU's piix3-ide has two channels of two units.
constexpr size_t kMaxIdeDisks = 4;
constexpr uint32_t kMaxDiskNodes = 16;
// A VNC password longer than this is refused (RFB uses only 8 bytes anyway).
constexpr size_t kMaxVncPasswordBytes = 1024;

struct DeviceModelSpec {
    VgaKind vga = VgaKind::Cirrus;
    uint32_t videoRamMiB = kMinCirrusVideoRamMiB;
    SerialKind serial = SerialKind::None;
    std::string serialPath;         // SerialKind::File only
    std::optional<std::string> vnc; // "unix:/path" or "HOST:DISPLAY"
    // xl's vncpasswd; empty: none (as xl). A secret: never logged.
    std::string vncPassword;
    uint32_t platformDeviceId = kPlatformDeviceIdXen;
    bool usbTablet = true;
    // xl's xen_platform_pci: without it QEMU runs `pc,accel=xen`, and PV
    // drivers find no platform device (they stay off, emulated devices stay).
    bool xenPlatformPci = true;

    bool operator==(const DeviceModelSpec&) const = default;
};

struct DiskSpec {
    uint32_t index = 0; // N of disk@N
    std::string target; // empty: an empty cdrom drive
    DiskFormat format = DiskFormat::Raw;
    std::string vdev; // "hda".."hdd"
    DiskAccess access = DiskAccess::ReadWrite;
    DiskDevType devType = DiskDevType::Disk;

    bool operator==(const DiskSpec&) const = default;
};

// Names used in the binding and in messages.
const char* vgaKindName(VgaKind kind);
const char* diskFormatName(DiskFormat format);
const char* diskDevTypeName(DiskDevType type);
// "hda" -> 0 ... "hdd" -> 3; nullopt for anything else.
std::optional<uint32_t> ideIndexFromVdev(const std::string& vdev);

// hvmloader and the firmware it loads (DESIGN.md decision 3, firmware/).
enum class BiosKind : uint8_t { SeaBios, Ovmf };
constexpr const char* kDefaultHvmloaderPath = "/usr/lib/xen-4.17/boot/hvmloader";
constexpr const char* kDefaultSeaBiosPath = "/usr/share/seabios/bios-256k.bin";
constexpr const char* kDefaultOvmfPath = "/usr/share/ovmf/OVMF.fd";
constexpr const char* kDefaultBootOrder = "cd"; // libxl's default
constexpr size_t kMaxBootOrderLength = 4;       // a, c, d, n once each

struct FirmwareSpec {
    std::string loaderPath = kDefaultHvmloaderPath;
    BiosKind bios = BiosKind::SeaBios;
    std::string biosPath = kDefaultSeaBiosPath;
    std::string bootOrder = kDefaultBootOrder;
    SmbiosStrings smbios; // bios-strings/* for hvmloader, in the order given

    bool operator==(const FirmwareSpec&) const = default;
};
const char* biosKindName(BiosKind kind);
std::optional<BiosKind> biosKindFromName(const std::string& name);

struct DomainSpec {
    std::string name;
    // Xen's domain handle (xl.cfg uuid=); unset: ensureDomainUuid makes one.
    std::optional<DomainUuid> uuid;
    uint64_t memoryBytes = 0;
    uint32_t vcpus = 1;
    uint64_t mmioHoleStart = boot::kDefaultMmioHoleStart;
    KernelSpec kernel; // unused (empty path) when firmware is set
    std::optional<FirmwareSpec> firmware;
    std::optional<std::string> consoleLogPath;
    std::optional<uint16_t> testExitPort;
    std::optional<uint16_t> testDirtyPort;
    std::optional<DeviceModelSpec> deviceModel;
    std::vector<DiskSpec> disks; // ascending index

    bool operator==(const DomainSpec&) const = default;
};

// Serialises a spec that passes validateSpec into a packed FDT blob.
Result<std::vector<uint8_t>> buildSpecBlob(const DomainSpec& spec);

// Parses an untrusted blob, then validates it (validateSpec). The blob may be
// followed by other data (a saved domain's stream); only the header's
// totalsize bytes are read. Errors name the node and property at fault.
Result<DomainSpec> parseSpecBlob(std::span<const uint8_t> blob);

// Semantic checks: sizes, counts, addresses and ports within limits.
Status validateSpec(const DomainSpec& spec);

// Gives a spec without a UUID a fresh random one, as xl does at creation;
// a spec that has one keeps it. Called once before the first build, so a
// restart of the domain keeps the same handle. Returns whether it made one.
Result<bool> ensureDomainUuid(DomainSpec& spec);

// Reads a spec file (at most kMaxSpecBytes, nothing after the blob) and parses it.
Result<DomainSpec> loadSpecFile(const std::string& path);

// RAM below the MMIO hole, where the VMM loads kernels and firmware.
constexpr uint64_t lowRamEnd(uint64_t memoryBytes, uint64_t mmioHoleStart) {
    return memoryBytes < mmioHoleStart ? memoryBytes : mmioHoleStart;
}

} // namespace basalt
