// validateSpec and loadSpecFile; the blob itself is written by
// spec_blob_writer.cpp and read by spec_blob_reader.cpp.

#include "vmm/builder/domain_spec.h"

#include "base/log.h"
#include "vmm/builder/describe.h"
#include "vmm/builder/read_file.h"

#include <libfdt.h>

#include <algorithm>
#include <cctype>
#include <string_view>

namespace basalt {

BASALT_LOG_CATEGORY(Builder, "builder");

namespace {

Error invalid(std::string message) {
    return makeError(EINVAL, std::move(message));
}

constexpr uint32_t kIoPortSpace = 0x10000;

std::string portString(uint32_t port) {
    return hexString(port);
}

Status validateName(const std::string& name) {
    if (name.empty())
        return invalid("the domain name is empty");
    if (name.size() > kMaxDomainNameLength)
        return invalid("the domain name is " + std::to_string(name.size()) +
                       " characters long; at most " + std::to_string(kMaxDomainNameLength) +
                       " are allowed");
    for (char c : name)
        if (c < 0x20 || c > 0x7E)
            return invalid("the domain name contains a character that is not printable ASCII");
    return {};
}

Status validatePath(const std::string& path, const char* what) {
    if (path.empty())
        return invalid(std::string("the ") + what + " path is empty");
    if (path.size() > kMaxHostPathLength)
        return invalid(std::string("the ") + what + " path is " + std::to_string(path.size()) +
                       " bytes long; at most " + std::to_string(kMaxHostPathLength) +
                       " are allowed");
    return {};
}

Status validateMemory(const DomainSpec& spec) {
    const uint64_t bytes = spec.memoryBytes;
    if (bytes < kMinDomainMemory)
        return invalid("memory size " + sizeString(bytes) +
                       " is too small: a guest needs at least " + sizeString(kMinDomainMemory));
    if (bytes > kMaxDomainMemory)
        return invalid("memory size " + sizeString(bytes) + " is too large: at most " +
                       sizeString(kMaxDomainMemory) + " is supported");
    if (bytes % kDomainMemoryGranule != 0)
        return invalid("memory size " + sizeString(bytes) + " is not a multiple of " +
                       sizeString(kDomainMemoryGranule));

    const uint64_t hole = spec.mmioHoleStart;
    if (hole < kMinMmioHoleStart || hole > kMaxMmioHoleStart || hole % kMmioHoleGranule != 0)
        return invalid("MMIO hole start " + hexString(hole) +
                       " is invalid: it must be a multiple of " + sizeString(kMmioHoleGranule) +
                       " from " + hexString(kMinMmioHoleStart) + " to " +
                       hexString(kMaxMmioHoleStart));
    return {};
}

Status validateVcpus(uint32_t vcpus) {
    if (vcpus == 0)
        return invalid("a guest needs at least 1 vCPU; the spec asks for 0");
    if (vcpus > kMaxVcpus)
        return invalid(std::to_string(vcpus) + " vCPUs is more than the maximum of " +
                       std::to_string(kMaxVcpus));
    return {};
}

Status validateKernel(const DomainSpec& spec) {
    const KernelSpec& kernel = spec.kernel;
    BASALT_TRY(validatePath(kernel.path, "kernel"));
    if (!isValidEntryMode(kernel.entryMode))
        return invalid("the kernel entry mode is invalid; it must be real, protected or long");
    if (kernel.bootProtocol == BootProtocol::HvmStartInfo &&
        (kernel.entryMode != EntryMode::Protected || kernel.loadAddress))
        return invalid("a firmware override (hvm-start-info boot) is an ELF entered in 32-bit "
                       "protected mode: it takes no other entry mode and no load address");
    if (kernel.bootProtocol != BootProtocol::Direct &&
        kernel.bootProtocol != BootProtocol::HvmStartInfo)
        return invalid("the kernel boot protocol is invalid");
    if (!kernel.loadAddress)
        return {};
    const uint64_t address = *kernel.loadAddress;
    const uint64_t ramEnd = lowRamEnd(spec.memoryBytes, spec.mmioHoleStart);
    if (address >= ramEnd)
        return invalid("kernel load address " + hexString(address) +
                       " is beyond the end of RAM below the MMIO hole (" + hexString(ramEnd) + ")");
    if (kernel.entryMode == EntryMode::Real && address >= boot::kRealModeLimit)
        return invalid("kernel load address " + hexString(address) +
                       " is not below 1 MiB, which real mode requires");
    return {};
}

// hvmloader's files, and a boot order QEMU's -boot order= accepts for the
// devices Basalt offers: a (floppy), c (disk), d (CD-ROM), n (network).
Status validateFirmware(const FirmwareSpec& firmware) {
    BASALT_TRY(validatePath(firmware.loaderPath, "hvmloader"));
    BASALT_TRY(validatePath(firmware.biosPath, "firmware module"));
    if (!biosKindFromName(biosKindName(firmware.bios)))
        return invalid("the firmware kind is invalid; it must be seabios or ovmf");
    const std::string& order = firmware.bootOrder;
    if (order.empty() || order.size() > kMaxBootOrderLength)
        return invalid("boot order '" + order.substr(0, kMaxBootOrderLength + 1) +
                       "' must be 1 to " + std::to_string(kMaxBootOrderLength) + " letters");
    for (size_t i = 0; i < order.size(); ++i) {
        if (std::string_view("acdn").find(order[i]) == std::string_view::npos)
            return invalid("boot order '" + order + "' may only hold the letters a, c, d and n");
        if (order.find(order[i]) != i)
            return invalid("boot order '" + order + "' names a device twice");
    }
    return validateSmbiosStrings(firmware.smbios);
}

// The console port and the test ports must not overlap: each is decoded by a
// different handler, and the dirty probe owns 16 consecutive ports.
Status validateTestPorts(const DomainSpec& spec) {
    if (spec.testExitPort) {
        const uint32_t exitFirst = *spec.testExitPort;
        const uint32_t exitEnd = exitFirst + kTestExitPortCount;
        if (exitEnd > kIoPortSpace)
            return invalid("test exit port " + portString(exitFirst) + " needs ports up to " +
                           portString(exitEnd - 1) + ", past the last I/O port 0xffff");
        if (boot::kConsolePort >= exitFirst && boot::kConsolePort < exitEnd)
            return invalid("test exit ports " + portString(exitFirst) + "-" +
                           portString(exitEnd - 1) + " include the console port " +
                           portString(boot::kConsolePort));
    }
    if (!spec.testDirtyPort)
        return {};
    const uint32_t first = *spec.testDirtyPort;
    const uint32_t end = first + kTestDirtyPortCount; // exclusive; cannot overflow uint32_t
    if (end > kIoPortSpace)
        return invalid("test dirty port " + portString(first) + " needs ports up to " +
                       portString(end - 1) + ", past the last I/O port 0xffff");
    auto inside = [&](uint32_t port) { return port >= first && port < end; };
    if (inside(boot::kConsolePort))
        return invalid("test dirty ports " + portString(first) + "-" + portString(end - 1) +
                       " include the console port " + portString(boot::kConsolePort));
    auto exitOverlaps = [&](uint32_t exitFirst) {
        return exitFirst < end && first < exitFirst + kTestExitPortCount;
    };
    if (spec.testExitPort && exitOverlaps(*spec.testExitPort))
        return invalid("test dirty ports " + portString(first) + "-" + portString(end - 1) +
                       " include the test exit port " + portString(*spec.testExitPort));
    return {};
}

Status validateAbsolutePath(const std::string& path, const char* what) {
    BASALT_TRY(validatePath(path, what));
    if (path.front() != '/')
        return invalid(std::string("the ") + what + " path '" + path +
                       "' is not absolute; QEMU opens it from its own working directory");
    return {};
}

// "unix:/abs/path" or "HOST:DISPLAY". QEMU splits -vnc at commas, so none
// may appear: a comma would let a spec smuggle in VNC options.
Status validateVnc(const std::string& vnc) {
    constexpr const char* kUnixPrefix = "unix:";
    constexpr uint32_t kVncBasePort = 5900;
    constexpr uint32_t kMaxDisplay = 0xFFFF - kVncBasePort;
    if (vnc.find(',') != std::string::npos)
        return invalid("the VNC address '" + vnc + "' contains a comma");
    if (vnc.rfind(kUnixPrefix, 0) == 0)
        return validateAbsolutePath(vnc.substr(std::string_view(kUnixPrefix).size()), "VNC socket");
    const size_t colon = vnc.rfind(':');
    const std::string host = colon == std::string::npos ? "" : vnc.substr(0, colon);
    const std::string display = colon == std::string::npos ? "" : vnc.substr(colon + 1);
    auto hostChar = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
               c == '[' || c == ']';
    };
    bool ok =
        !host.empty() && !display.empty() && display.size() <= 5 &&
        std::all_of(host.begin(), host.end(), hostChar) &&
        std::all_of(display.begin(), display.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (ok && std::stoul(display) > kMaxDisplay)
        ok = false;
    if (!ok)
        return invalid("the VNC address '" + vnc +
                       "' is not 'unix:/absolute/path' or 'HOST:DISPLAY' (e.g. 127.0.0.1:0)");
    return {};
}

Status validateDeviceModel(const DomainSpec& spec) {
    const DeviceModelSpec& dm = *spec.deviceModel;
    if (spec.memoryBytes % boot::kMiB != 0)
        return invalid("memory size " + sizeString(spec.memoryBytes) +
                       " is not a whole number of MiB, which QEMU's -m needs");
    const std::string videoRam = std::to_string(dm.videoRamMiB) + " MiB";
    switch (dm.vga) {
    case VgaKind::None:
        if (dm.videoRamMiB != 0)
            return invalid("videoram " + videoRam + " is given but vga is 'none'");
        break;
    case VgaKind::Cirrus:
        if (dm.videoRamMiB != kMinCirrusVideoRamMiB && dm.videoRamMiB != kMaxVideoRamMiB)
            return invalid("videoram " + videoRam + " is not valid for cirrus: it must be " +
                           std::to_string(kMinCirrusVideoRamMiB) + " or " +
                           std::to_string(kMaxVideoRamMiB) + " MiB");
        break;
    case VgaKind::Std:
        if (dm.videoRamMiB < kMinStdVgaVideoRamMiB || dm.videoRamMiB > kMaxVideoRamMiB)
            return invalid("videoram " + videoRam + " is not valid for stdvga: it must be " +
                           std::to_string(kMinStdVgaVideoRamMiB) + " MiB");
        break;
    default:
        return invalid("the VGA kind is invalid");
    }
    switch (dm.serial) {
    case SerialKind::None:
    case SerialKind::Pty:
        if (!dm.serialPath.empty())
            return invalid("a serial log path is given but the serial port is not 'file:'");
        break;
    case SerialKind::File:
        BASALT_TRY(validateAbsolutePath(dm.serialPath, "serial log"));
        break;
    default:
        return invalid("the serial kind is invalid");
    }
    if (dm.vnc)
        BASALT_TRY(validateVnc(*dm.vnc));
    // The password's text never goes into an error message.
    if (!dm.vncPassword.empty() && !dm.vnc)
        return invalid("a VNC password is given but VNC is off");
    if (dm.vncPassword.size() > kMaxVncPasswordBytes)
        return invalid("the VNC password is longer than " + std::to_string(kMaxVncPasswordBytes) +
                       " bytes");
    if (dm.vncPassword.find('\0') != std::string::npos)
        return invalid("the VNC password contains a NUL byte");
    if (dm.platformDeviceId != kPlatformDeviceIdXen &&
        dm.platformDeviceId != kPlatformDeviceIdWindowsUpdate)
        return invalid("platform device id " + std::to_string(dm.platformDeviceId) +
                       " is not 1 or 2");
    return {};
}

Status validateDisk(const DiskSpec& disk) {
    const std::string name = "disk@" + std::to_string(disk.index);
    if (disk.index >= kMaxDiskNodes)
        return invalid(name + ": at most " + std::to_string(kMaxDiskNodes) + " disks (0-" +
                       std::to_string(kMaxDiskNodes - 1) + ") are allowed");
    if (disk.format != DiskFormat::Raw && disk.format != DiskFormat::Qcow2)
        return invalid(name + ": the disk format is invalid; it must be raw or qcow2");
    if (disk.devType != DiskDevType::Disk && disk.devType != DiskDevType::Cdrom)
        return invalid(name + ": the device type is invalid; it must be disk or cdrom");
    if (disk.access != DiskAccess::ReadWrite && disk.access != DiskAccess::ReadOnly)
        return invalid(name + ": the access mode is invalid; it must be rw or ro");
    if (!ideIndexFromVdev(disk.vdev))
        return invalid(name + ": vdev '" + disk.vdev +
                       "' is not an IDE device (hda, hdb, hdc or hdd)");
    if (disk.target.empty()) {
        if (disk.devType != DiskDevType::Cdrom)
            return invalid(name + " (" + disk.vdev + ") has no target; only a cdrom may be empty");
    } else {
        BASALT_TRY(validateAbsolutePath(disk.target, (name + " target").c_str()));
    }
    if (disk.devType == DiskDevType::Cdrom && disk.access != DiskAccess::ReadOnly)
        return invalid(name + " (" + disk.vdev + ") is a cdrom, which must be read-only (ro)");
    // QEMU's ide-hd refuses a read-only drive; libxl rejects it the same way.
    if (disk.devType == DiskDevType::Disk && disk.access != DiskAccess::ReadWrite)
        return invalid(name + " (" + disk.vdev +
                       ") is a read-only IDE disk, which QEMU cannot emulate; use a cdrom");
    return {};
}

Status validateDisks(const DomainSpec& spec) {
    if (spec.disks.empty())
        return {};
    if (!spec.deviceModel)
        return invalid("the spec has disks but no device-model node: QEMU's IDE serves them");
    if (spec.disks.size() > kMaxIdeDisks)
        return invalid(std::to_string(spec.disks.size()) + " disks given; at most " +
                       std::to_string(kMaxIdeDisks) + " IDE devices (hda-hdd) are supported");
    for (size_t i = 0; i < spec.disks.size(); ++i) {
        BASALT_TRY(validateDisk(spec.disks[i]));
        for (size_t j = 0; j < i; ++j) {
            if (spec.disks[j].index >= spec.disks[i].index)
                return invalid("disk@" + std::to_string(spec.disks[i].index) +
                               " is duplicated or out of order");
            if (spec.disks[j].vdev == spec.disks[i].vdev)
                return invalid("vdev '" + spec.disks[i].vdev + "' is used by disk@" +
                               std::to_string(spec.disks[j].index) + " and disk@" +
                               std::to_string(spec.disks[i].index));
        }
    }
    return {};
}

} // namespace

const char* biosKindName(BiosKind kind) {
    switch (kind) {
    case BiosKind::SeaBios:
        return "seabios";
    case BiosKind::Ovmf:
        return "ovmf";
    }
    return "invalid";
}

std::optional<BiosKind> biosKindFromName(const std::string& name) {
    for (BiosKind kind : {BiosKind::SeaBios, BiosKind::Ovmf})
        if (name == biosKindName(kind))
            return kind;
    return std::nullopt;
}

const char* vgaKindName(VgaKind kind) {
    switch (kind) {
    case VgaKind::Cirrus:
        return "cirrus";
    case VgaKind::Std:
        return "stdvga";
    case VgaKind::None:
        return "none";
    }
    return "invalid";
}

const char* diskFormatName(DiskFormat format) {
    switch (format) {
    case DiskFormat::Raw:
        return "raw";
    case DiskFormat::Qcow2:
        return "qcow2";
    }
    return "invalid";
}

const char* diskDevTypeName(DiskDevType type) {
    switch (type) {
    case DiskDevType::Disk:
        return "disk";
    case DiskDevType::Cdrom:
        return "cdrom";
    }
    return "invalid";
}

std::optional<uint32_t> ideIndexFromVdev(const std::string& vdev) {
    if (vdev.size() != 3 || vdev[0] != 'h' || vdev[1] != 'd' || vdev[2] < 'a' ||
        vdev[2] >= static_cast<char>('a' + kMaxIdeDisks))
        return std::nullopt;
    return static_cast<uint32_t>(vdev[2] - 'a');
}

Status validateSpec(const DomainSpec& spec) {
    BASALT_TRY(validateName(spec.name));
    BASALT_TRY(validateMemory(spec));
    BASALT_TRY(validateVcpus(spec.vcpus));
    if (spec.firmware)
        BASALT_TRY(validateFirmware(*spec.firmware));
    else
        BASALT_TRY(validateKernel(spec));
    if (spec.consoleLogPath)
        BASALT_TRY(validatePath(*spec.consoleLogPath, "console log"));
    BASALT_TRY(validateTestPorts(spec));
    if (spec.deviceModel)
        BASALT_TRY(validateDeviceModel(spec));
    BASALT_TRY(validateDisks(spec));
    return {};
}

Result<bool> ensureDomainUuid(DomainSpec& spec) {
    if (spec.uuid)
        return false;
    auto uuid = generateDomainUuid();
    if (!uuid.ok())
        return makeError(uuid.error().code, "cannot make a domain UUID: " + uuid.error().message);
    spec.uuid = *uuid;
    return true;
}

Result<DomainSpec> loadSpecFile(const std::string& path) {
    auto bytes = readFileBounded(path, kMaxSpecBytes, "domain spec");
    if (!bytes)
        return bytes.error();
    auto spec = parseSpecBlob(*bytes);
    if (!spec)
        return makeError(spec.error().code, "domain spec '" + path + "': " + spec.error().message);
    // parseSpecBlob accepts trailing data (streams); a spec file is the blob alone.
    const size_t blobBytes = fdt_totalsize(bytes->data());
    if (bytes->size() != blobBytes)
        return invalid("domain spec '" + path + "' has trailing data after the device tree (" +
                       std::to_string(bytes->size() - blobBytes) + " bytes)");
    LOG(Builder, Debug, "loaded domain spec '%s' for '%s'", path.c_str(), spec->name.c_str());
    return spec;
}

} // namespace basalt
