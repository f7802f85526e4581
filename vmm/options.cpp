#include "vmm/options.h"

#include "base/mapped_region.h"
#include "devmodel/launcher/xl_disk_spec.h"
#include "toolstack/xlcfg/xl_domain_config.h"

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string_view>

namespace basalt {

namespace po = boost::program_options;

namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint32_t kDefaultMemoryMiB = 64;
constexpr uint64_t kMaxPort = 0xFFFF;
// RFB VNC authentication's DES key: the first 8 bytes of the password.
constexpr size_t kVncPasswordSignificantBytes = 8;

// Parses a decimal or 0x-prefixed number, rejecting trailing junk and overflow.
Result<uint64_t> parseNumber(const std::string& text, const std::string& what, uint64_t max) {
    if (text.empty() || text[0] == '-' || text[0] == '+')
        return makeError(EINVAL, what + " '" + text + "' is not a non-negative number");
    errno = 0;
    char* end = nullptr;
    unsigned long long value = std::strtoull(text.c_str(), &end, 0);
    if (errno == ERANGE || value > max)
        return makeError(ERANGE, what + " '" + text + "' is too large (at most " +
                                     std::to_string(max) + ")");
    if (*end != '\0')
        return makeError(EINVAL, what + " '" + text + "' is not a number");
    return static_cast<uint64_t>(value);
}

// The options that describe emulated devices; any of them turns QEMU on.
constexpr const char* kDeviceFlags[] = {"device-model",
                                        "vga",
                                        "videoram",
                                        "disk",
                                        "serial",
                                        "vnc",
                                        "vnc-password-file",
                                        "platform-device-id",
                                        "usb-tablet",
                                        "xen-platform-pci"};

// A password file bigger than this is a mistake, not a password.
constexpr uint64_t kMaxVncPasswordFileBytes = 4096;

// The first line of FILE (the password is never in argv, where /proc shows
// it to everyone).
Result<std::string> readVncPasswordFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return makeError(errno ? errno : ENOENT, "--vnc-password-file: cannot read '" + path + "'");
    std::string text(kMaxVncPasswordFileBytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxVncPasswordFileBytes)
        return makeError(EINVAL, "--vnc-password-file: '" + path + "' is larger than " +
                                     std::to_string(kMaxVncPasswordFileBytes) + " bytes");
    text = text.substr(0, text.find('\n'));
    if (!text.empty() && text.back() == '\r')
        text.pop_back();
    if (text.empty())
        return makeError(EINVAL, "--vnc-password-file: '" + path + "' holds no password");
    return text;
}

Result<uint32_t> parseSmall(const po::variables_map& vm, const char* flag) {
    auto value = parseNumber(vm[flag].as<std::string>(), std::string("--") + flag,
                             std::numeric_limits<uint32_t>::max());
    if (!value.ok())
        return value.error();
    return static_cast<uint32_t>(*value);
}

// A 0/1 switch; `out` keeps its default when the flag is absent.
Status parseFlag(const po::variables_map& vm, const char* flag, bool& out) {
    if (!vm.count(flag))
        return {};
    auto value = parseSmall(vm, flag);
    if (!value.ok())
        return value.error();
    if (*value > 1)
        return makeError(EINVAL, std::string("--") + flag + " must be 0 or 1");
    out = *value == 1;
    return {};
}

// --vga, --disk, ... -> spec.deviceModel and spec.disks; validateSpec checks
// the combination when the blob is parsed back.
Status parseDeviceOptions(const po::variables_map& vm, DomainSpec& spec,
                          const std::string& configVncPassword) {
    bool any = false;
    for (const char* flag : kDeviceFlags)
        any = any || (vm.count(flag) && std::string(flag) != "device-model");
    if (vm.count("device-model")) {
        const std::string model = vm["device-model"].as<std::string>();
        if (model == "none") {
            if (any)
                return makeError(EINVAL, "--device-model none cannot be combined with device "
                                         "options (--vga, --disk, ...)");
            return {};
        }
        if (model != "qemu")
            return makeError(EINVAL, "--device-model '" + model + "' is not qemu or none");
    } else if (!any) {
        return {};
    }

    DeviceModelSpec dm;
    if (vm.count("vga")) {
        const std::string vga = vm["vga"].as<std::string>();
        if (vga == "cirrus")
            dm.vga = VgaKind::Cirrus;
        else if (vga == "stdvga" || vga == "std")
            dm.vga = VgaKind::Std;
        else if (vga == "none")
            dm.vga = VgaKind::None;
        else
            return makeError(EINVAL, "--vga '" + vga + "' is not cirrus, stdvga or none");
    }
    // libxl's defaults: the adapter's minimum.
    dm.videoRamMiB = dm.vga == VgaKind::Std    ? kMinStdVgaVideoRamMiB
                     : dm.vga == VgaKind::None ? 0
                                               : kMinCirrusVideoRamMiB;
    if (vm.count("videoram")) {
        auto mib = parseSmall(vm, "videoram");
        if (!mib.ok())
            return mib.error();
        dm.videoRamMiB = *mib;
    }
    if (vm.count("serial")) {
        const std::string serial = vm["serial"].as<std::string>();
        constexpr std::string_view kFile = "file:";
        if (serial == "pty") {
            dm.serial = SerialKind::Pty;
        } else if (serial == "none") {
            dm.serial = SerialKind::None;
        } else if (serial.rfind(kFile, 0) == 0) {
            dm.serial = SerialKind::File;
            dm.serialPath = serial.substr(kFile.size());
        } else {
            return makeError(EINVAL, "--serial '" + serial + "' is not pty, none or file:PATH");
        }
    }
    if (vm.count("vnc"))
        dm.vnc = vm["vnc"].as<std::string>();
    if (vm.count("vnc-password-file")) {
        auto password = readVncPasswordFile(vm["vnc-password-file"].as<std::string>());
        if (!password.ok())
            return password.error();
        dm.vncPassword = std::move(*password);
    } else {
        dm.vncPassword = configVncPassword;
    }
    if (vm.count("platform-device-id")) {
        auto id = parseSmall(vm, "platform-device-id");
        if (!id.ok())
            return id.error();
        dm.platformDeviceId = *id;
    }
    BASALT_TRY(parseFlag(vm, "usb-tablet", dm.usbTablet));
    BASALT_TRY(parseFlag(vm, "xen-platform-pci", dm.xenPlatformPci));
    spec.deviceModel = dm;

    if (vm.count("disk")) {
        uint32_t index = 0;
        for (const std::string& text : vm["disk"].as<std::vector<std::string>>()) {
            auto disk = devmodel::parseXlDiskSpec(text);
            if (!disk.ok())
                return makeError(disk.error().code, "--disk: " + disk.error().message);
            if (!disk->backendType.empty())
                return makeError(EINVAL, "--disk '" + text +
                                             "': backendtype is for PV disks, which basalt-vmm "
                                             "does not serve yet");
            disk->disk.index = index++;
            spec.disks.push_back(std::move(disk->disk));
        }
    }
    return {};
}

// An xl.cfg file as the basalt-vmm flags it stands for. The values are
// checked already (each error names its line); flags on the command line win
// over the file, as Boost's first store() of an option does.
Result<std::vector<std::string>> configArgs(const std::string& path,
                                            const po::options_description& desc,
                                            std::vector<std::string>& warnings,
                                            std::string& vncPassword) {
    auto file = xlcfg::loadXlConfigFile(path);
    if (!file.ok())
        return file.error();
    auto parsed = xlcfg::interpretXlConfig(*file);
    if (!parsed.ok())
        return makeError(parsed.error().code, path + ":" + parsed.error().message.substr(5));
    const xlcfg::XlDomainConfig& c = *parsed;
    for (const std::string& w : c.warnings)
        warnings.push_back(path + ":" + w.substr(5));
    std::vector<std::string> args;
    auto add = [&args](const char* flag, const std::string& value) {
        args.push_back(std::string("--") + flag);
        args.push_back(value);
    };
    auto needs = [&](const char* flag, const char* key) -> Status {
        if (!desc.find_nothrow(flag, false))
            return makeError(ENOTSUP, path + ": " + key + "= needs firmware boot (--" + flag +
                                          "), which this basalt-vmm does not have");
        return {};
    };
    if (c.name)
        add("name", *c.name);
    if (c.uuid)
        add("uuid", *c.uuid);
    if (c.memoryMiB)
        add("memory", std::to_string(*c.memoryMiB));
    if (c.vcpus)
        add("vcpus", std::to_string(*c.vcpus));
    for (const auto& disk : c.disks)
        add("disk", devmodel::formatXlDiskSpec(disk));
    if (c.bios) {
        BASALT_TRY(needs("firmware", "bios"));
        add("firmware", *c.bios);
    }
    if (c.boot) {
        BASALT_TRY(needs("boot", "boot"));
        add("boot", *c.boot);
    }
    for (const std::string& entry : c.smbios) {
        BASALT_TRY(needs("smbios", "smbios"));
        add("smbios", entry);
    }
    if (c.firmwareOverride)
        add("firmware-override", *c.firmwareOverride);
    if (c.vga)
        add("vga", *c.vga);
    if (c.videoRamMiB)
        add("videoram", std::to_string(*c.videoRamMiB));
    if (c.vnc)
        add("vnc", *c.vnc);
    // Not a flag: a flag's value would be in argv. basalt-vnc-auth checks
    // it, as Debian's QEMU has no DES cipher to do so. Empty means none, as
    // in xl.
    if (c.vncPassword && !c.vncPassword->empty()) {
        if (c.vnc)
            vncPassword = *c.vncPassword;
        else
            warnings.push_back(path + ": vncpasswd is ignored: VNC is off (set vnc=1 or "
                                      "vnclisten)");
    }
    if (c.serial)
        add("serial", *c.serial);
    if (c.xenPlatformPci)
        add("xen-platform-pci", *c.xenPlatformPci ? "1" : "0");
    if (c.deviceId)
        add("platform-device-id", std::to_string(*c.deviceId));
    // xl's defaults apply to a config file's guest (restart on reboot).
    add("on-poweroff",
        xlcfg::lifecycleActionName(c.onPoweroff.value_or(xlcfg::kDefaultOnPoweroff)));
    add("on-reboot", xlcfg::lifecycleActionName(c.onReboot.value_or(xlcfg::kDefaultOnReboot)));
    add("on-crash", xlcfg::lifecycleActionName(c.onCrash.value_or(xlcfg::kDefaultOnCrash)));
    return args;
}

Status parseLifecycle(const po::variables_map& vm, VmmOptions& options) {
    for (auto [flag, field] : {std::pair{"on-poweroff", &options.lifecycle.onPoweroff},
                               std::pair{"on-reboot", &options.lifecycle.onReboot},
                               std::pair{"on-crash", &options.lifecycle.onCrash}}) {
        if (!vm.count(flag))
            continue;
        const std::string text = vm[flag].as<std::string>();
        auto action = xlcfg::lifecycleActionFromName(text);
        if (!action)
            return makeError(EINVAL, std::string("--") + flag + " '" + text +
                                         "' is not destroy, restart or preserve");
        *field = *action;
        if (*action == LifecycleAction::Preserve && options.controlSocketPath.empty())
            return makeError(EINVAL, std::string("--") + flag +
                                         " preserve needs --control (the socket that destroys "
                                         "the preserved domain)");
    }
    if (vm.count("console")) {
        const std::string mode = vm["console"].as<std::string>();
        if (mode != "attach")
            return makeError(EINVAL, "--console '" + mode + "' is not attach");
        options.consoleAttach = true;
    }
    return {};
}

} // namespace

namespace {

// hvmloader reads its settings from xenstore and stops at once without a
// store ring ("rings != NULL" assertion), so say so before anything starts.
Status checkFirmwareNeeds(const VmmOptions& options) {
    if (options.spec.firmware && options.xenstorePath.empty() && options.writeSpecPath.empty())
        return makeError(EINVAL, "firmware boot needs --xenstore SOCKET: hvmloader reads its "
                                 "settings (hvmloader/bios, platform/*) from xenstore");
    return {};
}

} // namespace

Result<VmmOptions> parseVmmOptions(const std::vector<std::string>& args) {
    po::options_description desc("basalt-vmm: runs one guest on KVM\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("spec", po::value<std::string>(), "domain spec blob (FDT) to run")
        ("kernel", po::value<std::string>(), "kernel to load: ELF or flat binary")
        ("firmware-override", po::value<std::string>(),
            "ELF32 to boot in hvmloader's place, with hvm_start_info in EBX (xl's firmware_override)")
        ("firmware", po::value<std::string>(),
            "boot through hvmloader into seabios or ovmf (xl's bios=/firmware=)")
        ("bios", po::value<std::string>(), "the same as --firmware")
        ("hvmloader", po::value<std::string>(),
            "hvmloader to load (default /usr/lib/xen-4.17/boot/hvmloader)")
        ("bios-path", po::value<std::string>(),
            "firmware blob hvmloader gets as its module (default: Debian's seabios or ovmf)")
        ("boot", po::value<std::string>(),
            "firmware boot order, as xl's boot=: letters c (disk), d (CD-ROM), n, a (default cd)")
        ("smbios", po::value<std::vector<std::string>>(),
            "KEY=VALUE, repeatable: an SMBIOS string hvmloader puts in the guest's tables, as "
            "xl's smbios= (bios_vendor, system_serial_number, oem, ...)")
        ("entry", po::value<std::string>()->default_value("protected"),
            "entry mode of --kernel: real, protected or long")
        ("load-address", po::value<std::string>(), "load address of a flat --kernel")
        ("memory", po::value<std::string>(), "guest memory in MiB (default 64)")
        ("vcpus", po::value<std::string>(), "number of vCPUs (default 1)")
        ("name", po::value<std::string>()->default_value("guest"), "domain name")
        ("uuid", po::value<std::string>(),
            "the domain's UUID (xl's uuid=), xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx; the guest "
            "sees it as its Xen domain handle and SMBIOS UUID (default: a random one per run)")
        ("console-log", po::value<std::string>(), "append guest console output to FILE")
        ("control", po::value<std::string>(), "serve the control socket at PATH")
        ("xenstore", po::value<std::string>(), "xenstored's socket: give the guest a store ring")
        ("domid", po::value<std::string>(), "the guest's domain id (default 1)")
        ("test-exit-port", po::value<std::string>(), "test only: port whose writes end the VMM")
        ("test-dirty-port", po::value<std::string>(), "test only: dirty-logging probe port")
        ("write-spec", po::value<std::string>(), "write the domain spec blob to FILE and exit")
        ("device-model", po::value<std::string>(),
            "qemu or none (default: qemu if a device option below is given, else none)")
        ("vga", po::value<std::string>(), "device model: cirrus (default), stdvga or none")
        ("videoram", po::value<std::string>(), "device model: video RAM in MiB")
        ("disk", po::value<std::vector<std::string>>(),
            "device model: an xl DISKSPEC, e.g. /srv/a.img,raw,hda,rw or /srv/b.iso,,hdc,cdrom "
            "(repeatable; IDE hda-hdd)")
        ("serial", po::value<std::string>(), "device model: none (default), pty or file:PATH")
        ("vnc", po::value<std::string>(), "device model: unix:PATH or HOST:DISPLAY")
        ("vnc-password-file", po::value<std::string>(),
            "device model: VNC clients must give the password on FILE's first line "
            "(basalt-vnc-auth checks it; only 8 bytes count)")
        ("platform-device-id", po::value<std::string>(),
            "device model: Xen platform PCI device id, 1 (default) or 2")
        ("usb-tablet", po::value<std::string>(), "device model: 1 (default) or 0")
        ("xen-platform-pci", po::value<std::string>(),
         "device model: the Xen platform PCI device, 1 (default) or 0")
        ("dm-library-dir", po::value<std::string>(),
            "folder of Basalt's device-model provider libraries (default: next to basalt-vmm)")
        ("dm-run-dir", po::value<std::string>(),
            "where QEMU's private run directory and log go (default /run/basalt)")
        ("config", po::value<std::string>(),
            "an xl.cfg file (type=\"hvm\" subset); command-line flags override its keys")
        ("on-poweroff", po::value<std::string>(), "destroy (default), restart or preserve")
        ("on-reboot", po::value<std::string>(),
            "destroy (default: exit 3), restart or preserve; --config's default is restart")
        ("on-crash", po::value<std::string>(), "destroy (default), restart or preserve")
        ("screenshot", po::value<std::string>(),
            "with --control SOCKET: ask the basalt-vmm serving SOCKET to save its screen as "
            "FILE.png, then exit")
        ("console", po::value<std::string>(),
            "attach: with --serial pty, relay the guest's serial line to this terminal "
            "(Ctrl-] stops input)");
    // clang-format on

    VmmOptions options;
    std::string configVncPassword; // --config's vncpasswd, if VNC is on
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(args).options(desc).run(), vm);
        if (vm.count("config") && !vm.count("help")) {
            auto fromFile = configArgs(vm["config"].as<std::string>(), desc, options.warnings,
                                       configVncPassword);
            if (!fromFile.ok())
                return fromFile.error();
            po::store(po::command_line_parser(*fromFile).options(desc).run(), vm);
        }
        po::notify(vm);
    } catch (const po::error& e) {
        return makeError(EINVAL, e.what());
    }
    if (vm.count("help")) {
        std::ostringstream text;
        text << desc;
        options.help = true;
        options.helpText = text.str();
        return options;
    }
    if (vm.count("control"))
        options.controlSocketPath = vm["control"].as<std::string>();
    // Client mode: no guest is described, only the running one is asked.
    if (vm.count("screenshot")) {
        if (options.controlSocketPath.empty())
            return makeError(EINVAL, "--screenshot needs --control SOCKET of a running basalt-vmm");
        std::error_code ec;
        auto path = std::filesystem::absolute(vm["screenshot"].as<std::string>(), ec);
        if (ec || vm["screenshot"].as<std::string>().empty())
            return makeError(EINVAL, "--screenshot needs a file name");
        options.screenshotPath = path.string();
        return options;
    }
    if (vm.count("write-spec"))
        options.writeSpecPath = vm["write-spec"].as<std::string>();
    if (vm.count("xenstore")) {
        options.xenstorePath = vm["xenstore"].as<std::string>();
        if (options.xenstorePath.empty())
            return makeError(EINVAL, "--xenstore needs a socket path");
    }
    if (vm.count("domid")) {
        auto id = parseNumber(vm["domid"].as<std::string>(), "--domid", kMaxGuestDomid);
        if (!id.ok())
            return id.error();
        if (*id == 0)
            return makeError(EINVAL, "--domid 0 is dom0, not a guest");
        options.domid = static_cast<uint16_t>(*id);
    }

    if (vm.count("dm-library-dir"))
        options.dmLibraryDir = vm["dm-library-dir"].as<std::string>();
    if (vm.count("dm-run-dir"))
        options.dmRunDir = vm["dm-run-dir"].as<std::string>();
    BASALT_TRY(parseLifecycle(vm, options));

    if (vm.count("spec")) {
        for (const char* flag : kDeviceFlags)
            if (vm.count(flag))
                return makeError(EINVAL, std::string("--") + flag +
                                             " cannot be combined with --spec (the spec says it)");
        for (const char* flag :
             {"kernel", "firmware-override", "load-address", "memory", "vcpus", "firmware", "bios",
              "hvmloader", "bios-path", "boot", "smbios", "uuid"})
            if (vm.count(flag))
                return makeError(EINVAL,
                                 std::string("--") + flag + " cannot be combined with --spec");
        auto spec = loadSpecFile(vm["spec"].as<std::string>());
        if (!spec.ok())
            return spec.error();
        options.spec = std::move(*spec);
        BASALT_TRY(checkFirmwareNeeds(options));
        return options;
    }

    const bool firmware = vm.count("firmware") || vm.count("bios");
    if (vm.count("firmware") && vm.count("bios"))
        return makeError(EINVAL, "--firmware and --bios are the same option; give one");
    if (vm.count("kernel") + vm.count("firmware-override") + (firmware ? 1 : 0) > 1)
        return makeError(EINVAL, "--kernel, --firmware-override and --firmware are alternatives; "
                                 "give one");
    if (!vm.count("kernel") && !vm.count("firmware-override") && !firmware)
        return makeError(EINVAL, "nothing to run: give --kernel FILE, --firmware-override FILE, "
                                 "--firmware seabios|ovmf or --spec FILE");
    for (const char* flag : {"hvmloader", "bios-path", "boot", "smbios"})
        if (vm.count(flag) && !firmware)
            return makeError(EINVAL, std::string("--") + flag + " needs --firmware");
    DomainSpec& spec = options.spec;
    spec.name = vm["name"].as<std::string>();
    if (vm.count("uuid")) {
        auto uuid = parseDomainUuid(vm["uuid"].as<std::string>());
        if (!uuid.ok())
            return makeError(EINVAL, "--uuid '" + vm["uuid"].as<std::string>() +
                                         "': " + uuid.error().message);
        spec.uuid = *uuid;
    }
    if (firmware) {
        const std::string name = vm[vm.count("firmware") ? "firmware" : "bios"].as<std::string>();
        auto kind = biosKindFromName(name);
        if (!kind)
            return makeError(EINVAL, "--firmware '" + name + "' is not seabios or ovmf");
        FirmwareSpec fw;
        fw.bios = *kind;
        fw.biosPath = *kind == BiosKind::Ovmf ? kDefaultOvmfPath : kDefaultSeaBiosPath;
        if (vm.count("hvmloader"))
            fw.loaderPath = vm["hvmloader"].as<std::string>();
        if (vm.count("bios-path"))
            fw.biosPath = vm["bios-path"].as<std::string>();
        if (vm.count("boot"))
            fw.bootOrder = vm["boot"].as<std::string>();
        if (vm.count("smbios"))
            for (const std::string& entry : vm["smbios"].as<std::vector<std::string>>())
                if (Status added = addSmbiosEntry(fw.smbios, entry); !added.ok())
                    return makeError(added.error().code, "--" + added.error().message);
        spec.firmware = std::move(fw);
    } else if (vm.count("firmware-override")) {
        spec.kernel.path = vm["firmware-override"].as<std::string>();
        spec.kernel.bootProtocol = BootProtocol::HvmStartInfo;
    } else {
        spec.kernel.path = vm["kernel"].as<std::string>();
    }
    auto mode = entryModeFromName(vm["entry"].as<std::string>());
    if (!mode)
        return makeError(EINVAL, "entry mode '" + vm["entry"].as<std::string>() +
                                     "' is not one of real, protected, long");
    spec.kernel.entryMode = *mode;
    if (vm.count("load-address")) {
        auto addr = parseNumber(vm["load-address"].as<std::string>(), "load address",
                                std::numeric_limits<uint64_t>::max());
        if (!addr.ok())
            return addr.error();
        spec.kernel.loadAddress = *addr;
    }
    uint64_t memoryMiB = kDefaultMemoryMiB;
    if (vm.count("memory")) {
        auto mib = parseNumber(vm["memory"].as<std::string>(), "memory size (MiB)",
                               kMaxDomainMemory / kMiB);
        if (!mib.ok())
            return mib.error();
        memoryMiB = *mib;
    }
    spec.memoryBytes = memoryMiB * kMiB;
    if (vm.count("vcpus")) {
        auto n = parseNumber(vm["vcpus"].as<std::string>(), "vCPU count",
                             std::numeric_limits<uint32_t>::max());
        if (!n.ok())
            return n.error();
        spec.vcpus = static_cast<uint32_t>(*n);
    }
    if (vm.count("console-log"))
        spec.consoleLogPath = vm["console-log"].as<std::string>();
    for (auto [flag, field] : {std::pair{"test-exit-port", &spec.testExitPort},
                               std::pair{"test-dirty-port", &spec.testDirtyPort}}) {
        if (!vm.count(flag))
            continue;
        auto port = parseNumber(vm[flag].as<std::string>(), std::string("--") + flag, kMaxPort);
        if (!port.ok())
            return port.error();
        *field = static_cast<uint16_t>(*port);
    }

    BASALT_TRY(parseDeviceOptions(vm, spec, configVncPassword));
    // As QEMU and libxl do, the rest is silently ignored by RFB itself; say so.
    if (spec.deviceModel && spec.deviceModel->vncPassword.size() > kVncPasswordSignificantBytes)
        options.warnings.push_back("the VNC password is " +
                                   std::to_string(spec.deviceModel->vncPassword.size()) +
                                   " bytes; VNC authentication uses only its first " +
                                   std::to_string(kVncPasswordSignificantBytes));

    // Round-trip through the blob: what runs is exactly what a saved spec says.
    auto blob = buildSpecBlob(spec);
    if (!blob.ok())
        return blob.error();
    auto parsed = parseSpecBlob(*blob);
    if (!parsed.ok())
        return parsed.error();
    options.spec = std::move(*parsed);
    BASALT_TRY(checkFirmwareNeeds(options));
    return options;
}

} // namespace basalt
