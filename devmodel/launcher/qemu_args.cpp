// buildQemuArgs: DomainSpec -> QEMU argv, following libxl for qemu-xen.

#include "devmodel/launcher/qemu_args.h"

#include "vmm/builder/boot_layout.h"

namespace basalt::devmodel {
namespace {

// Xen's IDE major numbers (xen-vbd-interface(7)): hda/hdb on 3, hdc/hdd on 22.
constexpr uint32_t kIdePrimaryMajor = 3;
constexpr uint32_t kIdeSecondaryMajor = 22;
constexpr uint32_t kMajorShift = 8;
constexpr uint32_t kUnitShift = 6;
constexpr uint32_t kUnitsPerIdeBus = 2;
// XenServer's "device_id=0002" PV device, as libxl adds its 0xc000 vendor
// device: a xen-pvdevice next to the xenfv machine's xen-platform (0001),
// which still serves the unplug ports.
constexpr const char* kPlatformDevice2 = "xen-pvdevice,device-id=0x0002";
constexpr const char* kQmpChardevId = "basalt-qmp";

void add(std::vector<std::string>& args, std::initializer_list<std::string> items) {
    args.insert(args.end(), items.begin(), items.end());
}

void addDisk(std::vector<std::string>& args, const DiskSpec& disk) {
    const uint32_t index = *ideIndexFromVdev(disk.vdev);
    const std::string format = diskFormatName(disk.format);
    if (disk.devType == DiskDevType::Cdrom) {
        // As libxl: a drive without a bus, then the ide-cd device on it, so
        // an empty drive (no file) is still a cdrom.
        const std::string id = "ide-" + std::to_string(ideDeviceNumber(index));
        std::string drive = "if=none,readonly=on,id=" + id;
        if (!disk.target.empty())
            drive += ",file=" + escapeQemuOptionValue(disk.target) + ",format=" + format;
        add(args, {"-drive", drive, "-device",
                   "ide-cd,id=" + id + ",drive=" + id + ",bus=ide." +
                       std::to_string(index / kUnitsPerIdeBus) +
                       ",unit=" + std::to_string(index % kUnitsPerIdeBus)});
        return;
    }
    // cache=writeback, as libxl: the drive advertises a volatile write cache
    // and QEMU turns the guest's IDE FLUSH CACHE into fdatasync(), so every
    // write the guest has flushed is on stable storage; unflushed writes may
    // be lost on a host crash, exactly as with a real disk's cache.
    add(args, {"-drive", "file=" + escapeQemuOptionValue(disk.target) +
                             ",if=ide,index=" + std::to_string(index) +
                             ",media=disk,format=" + format + ",cache=writeback"});
}

} // namespace

std::string escapeQemuOptionValue(const std::string& value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        out += c;
        if (c == ',')
            out += ',';
    }
    return out;
}

uint32_t ideDeviceNumber(uint32_t ideIndex) {
    const uint32_t major = ideIndex < kUnitsPerIdeBus ? kIdePrimaryMajor : kIdeSecondaryMajor;
    return (major << kMajorShift) | ((ideIndex % kUnitsPerIdeBus) << kUnitShift);
}

std::vector<std::string> buildQemuArgs(const DomainSpec& spec, const QemuArgsConfig& config) {
    const DeviceModelSpec& dm = *spec.deviceModel;
    std::vector<std::string> args;
    add(args, {"-xen-domid", std::to_string(config.domid), "-no-shutdown"});
    add(args, {"-chardev",
               std::string("socket,id=") + kQmpChardevId +
                   ",path=" + escapeQemuOptionValue(config.qmpSocketPath) + ",server=on,wait=off",
               "-mon", std::string("chardev=") + kQmpChardevId + ",mode=control"});
    // No default devices and no config files: only what the spec names.
    add(args, {"-nodefaults", "-no-user-config", "-name", spec.name});
    // With a password QEMU cannot check (no DES in Debian's build), its VNC
    // server is reachable only through basalt-vnc-auth.
    std::string vnc = dm.vnc ? *dm.vnc : "none";
    if (dm.vnc && !config.vncRelaySocketPath.empty())
        vnc = "unix:" + escapeQemuOptionValue(config.vncRelaySocketPath);
    add(args, {"-vnc", vnc, "-display", "none"});

    switch (dm.serial) {
    case SerialKind::None:
        break;
    case SerialKind::Pty:
        add(args, {"-serial", "pty"});
        break;
    case SerialKind::File:
        // QEMU takes everything after "file:" as the path, commas included.
        add(args, {"-serial", "file:" + dm.serialPath});
        break;
    }

    const std::string videoRam = std::to_string(dm.videoRamMiB);
    switch (dm.vga) {
    case VgaKind::Std:
        add(args, {"-device", "VGA,vgamem_mb=" + videoRam});
        break;
    case VgaKind::Cirrus:
        add(args, {"-device", "cirrus-vga,vgamem_mb=" + videoRam});
        break;
    case VgaKind::None:
        break;
    }
    if (dm.usbTablet)
        add(args, {"-usb", "-device", "usb-tablet"});
    // QEMU binds one ioreq event channel per vCPU, so it must know them all.
    if (spec.vcpus > 1)
        add(args, {"-smp", std::to_string(spec.vcpus)});
    add(args, {"-net", "none"});

    // xenfv is pc + the Xen platform device; libxl runs a guest without
    // xen_platform_pci as a plain pc machine on the Xen accelerator.
    std::string machine =
        dm.xenPlatformPci ? "xenfv,suppress-vmdesc=on" : "pc,accel=xen,suppress-vmdesc=on";
    if (spec.mmioHoleStart != boot::kDefaultMmioHoleStart)
        machine += ",max-ram-below-4g=" + std::to_string(spec.mmioHoleStart);
    add(args, {"-machine", machine});
    // The builder's RAM; QEMU allocates video RAM on top (populate_physmap).
    add(args, {"-m", std::to_string(spec.memoryBytes / boot::kMiB)});

    // libxl passes the boot order only to firmware-booted guests.
    if (spec.firmware)
        add(args, {"-boot", "order=" + spec.firmware->bootOrder});
    for (const DiskSpec& disk : spec.disks)
        addDisk(args, disk);
    if (dm.platformDeviceId == kPlatformDeviceIdWindowsUpdate)
        add(args, {"-device", kPlatformDevice2});

    // No -sandbox: Debian's qemu-system-xen is built without seccomp. The
    // launcher preloads the same policy instead (sandbox_policy.h).
    return args;
}

} // namespace basalt::devmodel
