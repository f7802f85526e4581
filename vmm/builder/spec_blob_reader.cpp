// parseSpecBlob: untrusted FDT -> DomainSpec.
//
// Order of defence: the header is checked against the caller's buffer before
// libfdt reads anything else; the blob is copied into an 8-byte-aligned buffer
// of exactly totalsize bytes; checkFdtStructure() and then fdt_check_full()
// walk the whole structure block; only then are nodes read. Every node and
// property name is checked against the binding (domain_spec.h), and every
// value's length before it is decoded.

#include "vmm/builder/domain_spec.h"
#include "vmm/builder/fdt_structure_check.h"
#include "vmm/builder/spec_binding.h"

#include <libfdt.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <utility>

namespace basalt {
namespace {

using Bytes = std::span<const uint8_t>;

constexpr size_t kU32Bytes = 4;
constexpr size_t kU64Bytes = 8;
constexpr uint32_t kMaxPort = 0xFFFF;
// Untrusted names are quoted in errors; keep them short and printable.
constexpr size_t kMaxQuotedLength = 64;

Error specError(std::string message) {
    return makeError(EINVAL, std::move(message));
}

Error fdtError(const std::string& what, int rc) {
    return specError(what + ": " + fdt_strerror(rc));
}

// Quotes untrusted text for an error message: printable ASCII only, bounded.
std::string quoted(std::string_view text) {
    std::string out = "'";
    for (size_t i = 0; i < text.size() && i < kMaxQuotedLength; ++i) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        out += (c >= 0x20 && c < 0x7F) ? static_cast<char>(c) : '?';
    }
    if (text.size() > kMaxQuotedLength)
        out += "...";
    return out + "'";
}

std::string childPath(const std::string& parent, const char* name) {
    return (parent == "/" ? "/" : parent + "/") + name;
}

// The properties of one node, each known to the binding and present once.
class NodeProperties {
public:
    static Result<NodeProperties> read(const void* fdt, int node, const std::string& path,
                                       std::initializer_list<const char*> allowed) {
        return readIf(fdt, node, path, [&](std::string_view name) {
            return std::find(allowed.begin(), allowed.end(), name) != allowed.end();
        });
    }

    // Every property whatever its name, for a node whose property names are
    // data (/domain/firmware/smbios); each still present once.
    static Result<NodeProperties> readAll(const void* fdt, int node, const std::string& path) {
        return readIf(fdt, node, path, [](std::string_view) { return true; });
    }

    // Names in the blob's order.
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& [name, value] : props_)
            out.push_back(name);
        return out;
    }

    bool has(const char* name) const { return find(name) != nullptr; }

    Result<Bytes> raw(const char* name) const {
        const Bytes* value = find(name);
        if (!value)
            return specError(path_ + " is missing required property '" + name + "'");
        return *value;
    }

    // One NUL-terminated string with no NUL inside.
    Result<std::string> string(const char* name) const {
        auto value = raw(name);
        if (!value)
            return value.error();
        const Bytes bytes = *value;
        if (bytes.empty() || bytes.back() != 0 ||
            std::memchr(bytes.data(), 0, bytes.size() - 1) != nullptr)
            return specError("property '" + std::string(name) + "' in " + path_ +
                             " must be one NUL-terminated string");
        return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size() - 1);
    }

    Result<uint32_t> u32(const char* name) const {
        auto value = raw(name);
        if (!value)
            return value.error();
        if (value->size() != kU32Bytes)
            return wrongSize(name, value->size(), "one cell (4 bytes)");
        return fdt32_ld(reinterpret_cast<const fdt32_t*>(value->data()));
    }

    Result<uint64_t> u64(const char* name) const {
        auto value = raw(name);
        if (!value)
            return value.error();
        if (value->size() != kU64Bytes)
            return wrongSize(name, value->size(), "two cells (8 bytes)");
        return fdt64_ld(reinterpret_cast<const fdt64_t*>(value->data()));
    }

    Result<uint16_t> port(const char* name) const {
        auto value = u32(name);
        if (!value)
            return value.error();
        if (*value > kMaxPort)
            return specError("property '" + std::string(name) + "' in " + path_ + " is " +
                             std::to_string(*value) + ", which is not an I/O port (0-65535)");
        return static_cast<uint16_t>(*value);
    }

    Status expectCompatible(const char* expected) const {
        auto value = string(spec::kCompatibleProp);
        if (!value)
            return value.error();
        if (*value != expected)
            return specError("unknown compatible " + quoted(*value) + " for " + path_ +
                             " (expected '" + expected + "')");
        return {};
    }

private:
    explicit NodeProperties(std::string path) : path_(std::move(path)) {}

    template <typename Allowed>
    static Result<NodeProperties> readIf(const void* fdt, int node, const std::string& path,
                                         const Allowed& allowed) {
        NodeProperties props(path);
        int offset = fdt_first_property_offset(fdt, node);
        for (; offset >= 0; offset = fdt_next_property_offset(fdt, offset)) {
            const char* name = nullptr;
            int len = 0;
            const void* value = fdt_getprop_by_offset(fdt, offset, &name, &len);
            if (!value || !name || len < 0)
                return fdtError("cannot read a property of " + path,
                                value ? -FDT_ERR_BADSTRUCTURE : len);
            std::string_view nameView(name);
            if (!allowed(nameView))
                return specError("unknown property " + quoted(nameView) + " in " + path);
            if (props.find(nameView))
                return specError("duplicate property " + quoted(nameView) + " in " + path);
            props.props_.emplace_back(
                std::string(nameView),
                Bytes(static_cast<const uint8_t*>(value), static_cast<size_t>(len)));
        }
        if (offset != -FDT_ERR_NOTFOUND)
            return fdtError("cannot list the properties of " + path, offset);
        return props;
    }

    const Bytes* find(std::string_view name) const {
        for (const auto& [known, value] : props_)
            if (name == known)
                return &value;
        return nullptr;
    }

    Error wrongSize(const char* name, size_t size, const char* expected) const {
        return specError("property '" + std::string(name) + "' in " + path_ + " is " +
                         std::to_string(size) + " bytes; it must be " + expected);
    }

    std::string path_;
    std::vector<std::pair<std::string, Bytes>> props_;
};

// Direct children of a node, each known to the binding and present once.
// Returns their offsets in the order of `allowed`, -1 where absent.
template <size_t N>
Result<std::array<int, N>> readChildren(const void* fdt, int node, const std::string& path,
                                        const std::array<const char*, N>& allowed) {
    std::array<int, N> found;
    found.fill(-1);
    int child = fdt_first_subnode(fdt, node);
    for (; child >= 0; child = fdt_next_subnode(fdt, child)) {
        int len = 0;
        const char* name = fdt_get_name(fdt, child, &len);
        if (!name || len < 0)
            return fdtError("cannot read a node name under " + path,
                            name ? -FDT_ERR_BADSTRUCTURE : len);
        std::string_view nameView(name, static_cast<size_t>(len));
        size_t i = 0;
        while (i < N && nameView != allowed[i])
            ++i;
        if (i == N)
            return specError("unknown node " + quoted(nameView) + " under " + path);
        if (found[i] >= 0)
            return specError("duplicate node " + childPath(path, allowed[i]));
        found[i] = child;
    }
    if (child != -FDT_ERR_NOTFOUND)
        return fdtError("cannot list the nodes under " + path, child);
    return found;
}

Status expectNoChildren(const void* fdt, int node, const std::string& path) {
    auto children = readChildren<0>(fdt, node, path, {});
    if (!children)
        return children.error();
    return {};
}

// Copies the blob to aligned storage after checking the header against the
// caller's buffer: libfdt trusts totalsize, so it must not exceed what we have.
Result<std::vector<uint64_t>> copyBlob(Bytes blob) {
    if (blob.size() < sizeof(fdt_header))
        return specError("domain spec blob is truncated: " + std::to_string(blob.size()) +
                         " bytes is smaller than an FDT header");
    fdt_header header;
    std::memcpy(&header, blob.data(), sizeof(header));
    if (fdt32_to_cpu(header.magic) != FDT_MAGIC)
        return specError("domain spec blob is not a flattened device tree (bad magic)");
    const uint32_t total = fdt32_to_cpu(header.totalsize);
    if (total < sizeof(fdt_header))
        return specError("domain spec blob is malformed: its header says it is " +
                         std::to_string(total) + " bytes, smaller than the header itself");
    if (total > blob.size())
        return specError("domain spec blob is truncated: its header says " + std::to_string(total) +
                         " bytes but only " + std::to_string(blob.size()) + " are present");
    if (total > kMaxSpecBytes)
        return specError("domain spec blob is " + std::to_string(total) + " bytes; at most " +
                         std::to_string(kMaxSpecBytes) + " are accepted");
    std::vector<uint64_t> aligned((total + sizeof(uint64_t) - 1) / sizeof(uint64_t));
    std::memcpy(aligned.data(), blob.data(), total);
    return aligned;
}

Result<KernelSpec> readKernel(const void* fdt, int node, const std::string& path) {
    using namespace spec;
    auto props = NodeProperties::read(
        fdt, node, path,
        {kCompatibleProp, kPathProp, kEntryModeProp, kLoadAddressProp, kBootProtocolProp});
    if (!props)
        return props.error();
    BASALT_TRY(props->expectCompatible(kKernelCompatible));
    BASALT_TRY(expectNoChildren(fdt, node, path));

    KernelSpec kernel;
    auto kernelPath = props->string(kPathProp);
    if (!kernelPath)
        return kernelPath.error();
    kernel.path = std::move(*kernelPath);

    auto modeName = props->string(kEntryModeProp);
    if (!modeName)
        return modeName.error();
    auto mode = entryModeFromName(*modeName);
    if (!mode)
        return specError("property 'entry-mode' in " + path + " is " + quoted(*modeName) +
                         "; it must be 'real', 'protected' or 'long'");
    kernel.entryMode = *mode;

    if (props->has(kLoadAddressProp)) {
        auto address = props->u64(kLoadAddressProp);
        if (!address)
            return address.error();
        kernel.loadAddress = *address;
    }
    if (props->has(kBootProtocolProp)) {
        auto protocol = props->string(kBootProtocolProp);
        if (!protocol)
            return protocol.error();
        if (*protocol == "hvm-start-info")
            kernel.bootProtocol = BootProtocol::HvmStartInfo;
        else if (*protocol != "direct")
            return specError("property 'boot-protocol' in " + path + " is " + quoted(*protocol) +
                             "; it must be 'direct' or 'hvm-start-info'");
    }
    return kernel;
}

// /domain/firmware/smbios: a compatible, then one string property per
// bios-strings/<name> key, in order; validateSmbiosStrings (through
// validateSpec) checks the names and values.
Result<SmbiosStrings> readSmbios(const void* fdt, int node, const std::string& path) {
    BASALT_TRY(expectNoChildren(fdt, node, path));
    auto props = NodeProperties::readAll(fdt, node, path);
    if (!props)
        return props.error();
    BASALT_TRY(props->expectCompatible(spec::kSmbiosCompatible));
    SmbiosStrings strings;
    for (const std::string& name : props->names()) {
        if (name == spec::kCompatibleProp)
            continue;
        auto text = props->string(name.c_str());
        if (!text)
            return text.error();
        strings.push_back({name, std::move(*text)});
    }
    return strings;
}

Result<FirmwareSpec> readFirmware(const void* fdt, int node, const std::string& path) {
    using namespace spec;
    auto props = NodeProperties::read(
        fdt, node, path, {kCompatibleProp, kPathProp, kBiosProp, kBiosPathProp, kBootOrderProp});
    if (!props)
        return props.error();
    BASALT_TRY(props->expectCompatible(kFirmwareCompatible));
    auto children = readChildren<1>(fdt, node, path, {kSmbiosNode});
    if (!children)
        return children.error();

    FirmwareSpec firmware;
    auto loader = props->string(kPathProp);
    if (!loader)
        return loader.error();
    firmware.loaderPath = std::move(*loader);
    auto biosName = props->string(kBiosProp);
    if (!biosName)
        return biosName.error();
    auto bios = biosKindFromName(*biosName);
    if (!bios)
        return specError("property 'bios' in " + path + " is " + quoted(*biosName) +
                         "; it must be 'seabios' or 'ovmf'");
    firmware.bios = *bios;
    auto biosPath = props->string(kBiosPathProp);
    if (!biosPath)
        return biosPath.error();
    firmware.biosPath = std::move(*biosPath);
    if (props->has(kBootOrderProp)) {
        auto order = props->string(kBootOrderProp);
        if (!order)
            return order.error();
        firmware.bootOrder = std::move(*order);
    }
    if (const int smbiosNode = (*children)[0]; smbiosNode >= 0) {
        auto smbios = readSmbios(fdt, smbiosNode, childPath(path, kSmbiosNode));
        if (!smbios)
            return smbios.error();
        firmware.smbios = std::move(*smbios);
    }
    return firmware;
}

Result<std::string> readConsoleLogPath(const void* fdt, int node, const std::string& path) {
    auto props = NodeProperties::read(fdt, node, path, {spec::kCompatibleProp, spec::kLogPathProp});
    if (!props)
        return props.error();
    BASALT_TRY(props->expectCompatible(spec::kConsoleCompatible));
    BASALT_TRY(expectNoChildren(fdt, node, path));
    return props->string(spec::kLogPathProp);
}

// disk@N: N decimal, no leading zeros, below kMaxDiskNodes.
std::optional<uint32_t> diskIndexFromName(std::string_view name) {
    const std::string_view prefix(spec::kDiskNodePrefix);
    if (name.substr(0, prefix.size()) != prefix)
        return std::nullopt;
    const std::string_view digits = name.substr(prefix.size());
    if (digits.empty() || digits.size() > 2 || (digits.size() > 1 && digits[0] == '0'))
        return std::nullopt;
    uint32_t value = 0;
    for (char c : digits) {
        if (c < '0' || c > '9')
            return std::nullopt;
        value = value * 10 + static_cast<uint32_t>(c - '0');
    }
    if (value >= kMaxDiskNodes)
        return std::nullopt;
    return value;
}

struct DomainChildren {
    std::array<int, 4> fixed; // kernel, console, device-model, firmware; -1 where absent
    std::vector<std::pair<uint32_t, int>> disks; // (N, offset), ascending N
};

// The children of /domain: the fixed nodes once each, plus disk@N nodes.
Result<DomainChildren> readDomainChildren(const void* fdt, int node, const std::string& path) {
    using namespace spec;
    const std::array<const char*, 4> fixedNames = {kKernelNode, kConsoleNode, kDeviceModelNode,
                                                   kFirmwareNode};
    DomainChildren out;
    out.fixed.fill(-1);
    int child = fdt_first_subnode(fdt, node);
    for (; child >= 0; child = fdt_next_subnode(fdt, child)) {
        int len = 0;
        const char* name = fdt_get_name(fdt, child, &len);
        if (!name || len < 0)
            return fdtError("cannot read a node name under " + path,
                            name ? -FDT_ERR_BADSTRUCTURE : len);
        std::string_view nameView(name, static_cast<size_t>(len));
        if (auto index = diskIndexFromName(nameView)) {
            for (const auto& [seen, offset] : out.disks)
                if (seen == *index)
                    return specError("duplicate node " + childPath(path, name));
            out.disks.emplace_back(*index, child);
            continue;
        }
        if (nameView.substr(0, std::string_view(kDiskNodePrefix).size()) == kDiskNodePrefix)
            return specError("bad disk node " + quoted(nameView) + " under " + path +
                             ": it must be disk@N with N from 0 to " +
                             std::to_string(kMaxDiskNodes - 1) + ", no leading zeros");
        size_t i = 0;
        while (i < fixedNames.size() && nameView != fixedNames[i])
            ++i;
        if (i == fixedNames.size())
            return specError("unknown node " + quoted(nameView) + " under " + path);
        if (out.fixed[i] >= 0)
            return specError("duplicate node " + childPath(path, fixedNames[i]));
        out.fixed[i] = child;
    }
    if (child != -FDT_ERR_NOTFOUND)
        return fdtError("cannot list the nodes under " + path, child);
    std::sort(out.disks.begin(), out.disks.end());
    return out;
}

// One string property that must be one of `choices`; returns its index.
Result<size_t> readChoice(const NodeProperties& props, const char* name, const std::string& path,
                          std::initializer_list<const char*> choices) {
    auto value = props.string(name);
    if (!value)
        return value.error();
    size_t i = 0;
    std::string allowed;
    for (const char* choice : choices) {
        if (*value == choice)
            return i;
        allowed += (i ? ", '" : "'") + std::string(choice) + "'";
        ++i;
    }
    return specError("property '" + std::string(name) + "' in " + path + " is " + quoted(*value) +
                     "; it must be one of " + allowed);
}

// An optional u32 property that is a switch: 0 or 1; `out` keeps its default
// when the property is absent.
Status readFlag(const NodeProperties& props, const char* name, const std::string& path, bool& out) {
    if (!props.has(name))
        return {};
    auto value = props.u32(name);
    if (!value)
        return value.error();
    if (*value > 1)
        return specError(std::string("property '") + name + "' in " + path + " is " +
                         std::to_string(*value) + "; it must be 0 or 1");
    out = *value == 1;
    return {};
}

Result<DeviceModelSpec> readDeviceModel(const void* fdt, int node, const std::string& path) {
    using namespace spec;
    auto props = NodeProperties::read(fdt, node, path,
                                      {kCompatibleProp, kVgaProp, kVideoRamProp, kSerialProp,
                                       kVncProp, kVncPasswordProp, kPlatformDeviceIdProp,
                                       kUsbTabletProp, kXenPlatformPciProp});
    if (!props)
        return props.error();
    BASALT_TRY(props->expectCompatible(kDeviceModelCompatible));
    BASALT_TRY(expectNoChildren(fdt, node, path));

    DeviceModelSpec dm;
    if (props->has(kVgaProp)) {
        constexpr std::array kinds = {VgaKind::Cirrus, VgaKind::Std, VgaKind::None};
        auto choice =
            readChoice(*props, kVgaProp, path,
                       {vgaKindName(kinds[0]), vgaKindName(kinds[1]), vgaKindName(kinds[2])});
        if (!choice)
            return choice.error();
        dm.vga = kinds[*choice];
    }
    // libxl's defaults: the minimum for the adapter, none without one.
    dm.videoRamMiB = dm.vga == VgaKind::Std    ? kMinStdVgaVideoRamMiB
                     : dm.vga == VgaKind::None ? 0
                                               : kMinCirrusVideoRamMiB;
    if (props->has(kVideoRamProp)) {
        auto mib = props->u32(kVideoRamProp);
        if (!mib)
            return mib.error();
        dm.videoRamMiB = *mib;
    }
    if (props->has(kSerialProp)) {
        auto serial = props->string(kSerialProp);
        if (!serial)
            return serial.error();
        const std::string_view filePrefix(kSerialFilePrefix);
        if (*serial == kSerialNone) {
            dm.serial = SerialKind::None;
        } else if (*serial == kSerialPty) {
            dm.serial = SerialKind::Pty;
        } else if (serial->rfind(kSerialFilePrefix, 0) == 0) {
            dm.serial = SerialKind::File;
            dm.serialPath = serial->substr(filePrefix.size());
        } else {
            return specError("property 'serial' in " + path + " is " + quoted(*serial) +
                             "; it must be 'none', 'pty' or 'file:/absolute/path'");
        }
    }
    if (props->has(kVncProp)) {
        auto vnc = props->string(kVncProp);
        if (!vnc)
            return vnc.error();
        dm.vnc = std::move(*vnc);
    }
    if (props->has(kVncPasswordProp)) {
        auto password = props->string(kVncPasswordProp);
        if (!password)
            return password.error();
        dm.vncPassword = std::move(*password);
    }
    if (props->has(kPlatformDeviceIdProp)) {
        auto id = props->u32(kPlatformDeviceIdProp);
        if (!id)
            return id.error();
        dm.platformDeviceId = *id;
    }
    BASALT_TRY(readFlag(*props, kUsbTabletProp, path, dm.usbTablet));
    BASALT_TRY(readFlag(*props, kXenPlatformPciProp, path, dm.xenPlatformPci));
    return dm;
}

Result<DiskSpec> readDisk(const void* fdt, int node, const std::string& path, uint32_t index) {
    using namespace spec;
    auto props = NodeProperties::read(
        fdt, node, path,
        {kCompatibleProp, kTargetProp, kFormatProp, kVdevProp, kAccessProp, kDevTypeProp});
    if (!props)
        return props.error();
    BASALT_TRY(props->expectCompatible(kDiskCompatible));
    BASALT_TRY(expectNoChildren(fdt, node, path));

    DiskSpec disk;
    disk.index = index;
    if (props->has(kTargetProp)) {
        auto target = props->string(kTargetProp);
        if (!target)
            return target.error();
        disk.target = std::move(*target);
    }
    auto format = readChoice(*props, kFormatProp, path,
                             {diskFormatName(DiskFormat::Raw), diskFormatName(DiskFormat::Qcow2)});
    if (!format)
        return format.error();
    disk.format = *format == 0 ? DiskFormat::Raw : DiskFormat::Qcow2;
    auto vdev = props->string(kVdevProp);
    if (!vdev)
        return vdev.error();
    disk.vdev = std::move(*vdev);
    auto access = readChoice(*props, kAccessProp, path, {kAccessReadWrite, kAccessReadOnly});
    if (!access)
        return access.error();
    disk.access = *access == 0 ? DiskAccess::ReadWrite : DiskAccess::ReadOnly;
    auto devType =
        readChoice(*props, kDevTypeProp, path,
                   {diskDevTypeName(DiskDevType::Disk), diskDevTypeName(DiskDevType::Cdrom)});
    if (!devType)
        return devType.error();
    disk.devType = *devType == 0 ? DiskDevType::Disk : DiskDevType::Cdrom;
    return disk;
}

Status readDomain(const void* fdt, int node, const std::string& path, DomainSpec& out) {
    using namespace spec;
    auto props = NodeProperties::read(
        fdt, node, path,
        {kCompatibleProp, kNameProp, kUuidProp, kMemoryProp, kCpusProp, kMmioHoleStartProp});
    if (!props)
        return props.error();
    BASALT_TRY(props->expectCompatible(kDomainCompatible));

    auto name = props->string(kNameProp);
    if (!name)
        return name.error();
    out.name = std::move(*name);
    if (props->has(kUuidProp)) {
        auto text = props->string(kUuidProp);
        if (!text)
            return text.error();
        auto uuid = parseDomainUuid(*text);
        if (!uuid.ok())
            return specError(path + "/" + kUuidProp + ": " + uuid.error().message);
        out.uuid = *uuid;
    }
    auto memory = props->u64(kMemoryProp);
    if (!memory)
        return memory.error();
    out.memoryBytes = *memory;
    auto cpus = props->u32(kCpusProp);
    if (!cpus)
        return cpus.error();
    out.vcpus = *cpus;
    if (props->has(kMmioHoleStartProp)) {
        auto hole = props->u64(kMmioHoleStartProp);
        if (!hole)
            return hole.error();
        out.mmioHoleStart = *hole;
    }

    auto children = readDomainChildren(fdt, node, path);
    if (!children)
        return children.error();
    const auto [kernelNode, consoleNode, deviceModelNode, firmwareNode] = children->fixed;
    if ((kernelNode < 0) == (firmwareNode < 0))
        return specError(path + " needs exactly one of the nodes '" + kKernelNode + "' and '" +
                         kFirmwareNode + "'");
    if (kernelNode >= 0) {
        auto kernel = readKernel(fdt, kernelNode, childPath(path, kKernelNode));
        if (!kernel)
            return kernel.error();
        out.kernel = std::move(*kernel);
    } else {
        auto firmware = readFirmware(fdt, firmwareNode, childPath(path, kFirmwareNode));
        if (!firmware)
            return firmware.error();
        out.firmware = std::move(*firmware);
    }
    if (consoleNode >= 0) {
        auto logPath = readConsoleLogPath(fdt, consoleNode, childPath(path, kConsoleNode));
        if (!logPath)
            return logPath.error();
        out.consoleLogPath = std::move(*logPath);
    }
    if (deviceModelNode >= 0) {
        auto dm = readDeviceModel(fdt, deviceModelNode, childPath(path, kDeviceModelNode));
        if (!dm)
            return dm.error();
        out.deviceModel = std::move(*dm);
    }
    for (const auto& [index, diskNode] : children->disks) {
        const std::string diskPath =
            childPath(path, (std::string(kDiskNodePrefix) + std::to_string(index)).c_str());
        auto disk = readDisk(fdt, diskNode, diskPath, index);
        if (!disk)
            return disk.error();
        out.disks.push_back(std::move(*disk));
    }
    return {};
}

Status readTest(const void* fdt, int node, const std::string& path, DomainSpec& out) {
    using namespace spec;
    auto props =
        NodeProperties::read(fdt, node, path, {kCompatibleProp, kExitPortProp, kDirtyPortProp});
    if (!props)
        return props.error();
    BASALT_TRY(props->expectCompatible(kTestCompatible));
    BASALT_TRY(expectNoChildren(fdt, node, path));
    if (props->has(kExitPortProp)) {
        auto port = props->port(kExitPortProp);
        if (!port)
            return port.error();
        out.testExitPort = *port;
    }
    if (props->has(kDirtyPortProp)) {
        auto port = props->port(kDirtyPortProp);
        if (!port)
            return port.error();
        out.testDirtyPort = *port;
    }
    return {};
}

Result<DomainSpec> readRoot(const void* fdt) {
    using namespace spec;
    const std::string root = "/";
    auto props = NodeProperties::read(fdt, 0, root, {kCompatibleProp});
    if (!props)
        return props.error();
    BASALT_TRY(props->expectCompatible(kRootCompatible));

    auto children = readChildren<2>(fdt, 0, root, {kDomainNode, kTestNode});
    if (!children)
        return children.error();
    const auto [domainNode, testNode] = *children;
    if (domainNode < 0)
        return specError("the domain spec is missing required node '/domain'");
    DomainSpec out;
    BASALT_TRY(readDomain(fdt, domainNode, childPath(root, kDomainNode), out));
    if (testNode >= 0)
        BASALT_TRY(readTest(fdt, testNode, childPath(root, kTestNode), out));
    return out;
}

} // namespace

Result<DomainSpec> parseSpecBlob(std::span<const uint8_t> blob) {
    auto copy = copyBlob(blob);
    if (!copy)
        return copy.error();
    const void* fdt = copy->data();
    const size_t total = fdt_totalsize(fdt);

    // Our own walk first: libfdt 1.6.1 can loop forever on a forged length.
    BASALT_TRY(checkFdtStructure({static_cast<const uint8_t*>(fdt), total}, spec::kMaxDepth));
    if (int rc = fdt_check_full(fdt, total); rc != 0)
        return fdtError("domain spec blob is malformed", rc);
    if (int n = fdt_num_mem_rsv(fdt); n != 0)
        return n < 0 ? fdtError("domain spec blob has a bad memory reservation map", n)
                     : specError("domain spec blob has memory reservations; none are allowed");

    auto parsed = readRoot(fdt);
    if (!parsed)
        return parsed.error();
    BASALT_TRY(validateSpec(*parsed));
    return parsed;
}

} // namespace basalt
