// buildSpecBlob: DomainSpec -> FDT, with libfdt's sequential-write API.

#include "vmm/builder/domain_spec.h"
#include "vmm/builder/spec_binding.h"

#include <libfdt.h>

namespace basalt {
namespace {

// A spec is a few hundred bytes; start there and double on FDT_ERR_NOSPACE.
constexpr size_t kInitialBlobBytes = 1024;

// Collects the first libfdt error so the writer reads as a straight line.
class FdtWriter {
public:
    explicit FdtWriter(std::vector<uint8_t>& buffer) : fdt_(buffer.data()) {
        step(fdt_create(fdt_, static_cast<int>(buffer.size())));
        step(fdt_finish_reservemap(fdt_));
    }

    void beginNode(const char* name) { step(fdt_begin_node(fdt_, name)); }
    void endNode() { step(fdt_end_node(fdt_)); }
    void string(const char* name, const std::string& value) {
        step(fdt_property_string(fdt_, name, value.c_str()));
    }
    void u32(const char* name, uint32_t value) { step(fdt_property_u32(fdt_, name, value)); }
    void u64(const char* name, uint64_t value) { step(fdt_property_u64(fdt_, name, value)); }
    int finish() {
        step(fdt_finish(fdt_));
        return error_;
    }

private:
    void step(int rc) {
        if (error_ == 0 && rc < 0)
            error_ = rc;
    }

    void* fdt_;
    int error_ = 0;
};

void writeSpec(FdtWriter& w, const DomainSpec& spec) {
    w.beginNode(""); // root
    w.string(spec::kCompatibleProp, spec::kRootCompatible);

    w.beginNode(spec::kDomainNode);
    w.string(spec::kCompatibleProp, spec::kDomainCompatible);
    w.string(spec::kNameProp, spec.name);
    if (spec.uuid)
        w.string(spec::kUuidProp, formatDomainUuid(*spec.uuid));
    w.u64(spec::kMemoryProp, spec.memoryBytes);
    w.u32(spec::kCpusProp, spec.vcpus);
    w.u64(spec::kMmioHoleStartProp, spec.mmioHoleStart);

    if (spec.firmware) {
        w.beginNode(spec::kFirmwareNode);
        w.string(spec::kCompatibleProp, spec::kFirmwareCompatible);
        w.string(spec::kPathProp, spec.firmware->loaderPath);
        w.string(spec::kBiosProp, biosKindName(spec.firmware->bios));
        w.string(spec::kBiosPathProp, spec.firmware->biosPath);
        w.string(spec::kBootOrderProp, spec.firmware->bootOrder);
        if (!spec.firmware->smbios.empty()) {
            w.beginNode(spec::kSmbiosNode);
            w.string(spec::kCompatibleProp, spec::kSmbiosCompatible);
            for (const SmbiosString& entry : spec.firmware->smbios)
                w.string(entry.key.c_str(), entry.value);
            w.endNode();
        }
        w.endNode();
    } else {
        w.beginNode(spec::kKernelNode);
        w.string(spec::kCompatibleProp, spec::kKernelCompatible);
        w.string(spec::kPathProp, spec.kernel.path);
        w.string(spec::kEntryModeProp, std::string(entryModeName(spec.kernel.entryMode)));
        if (spec.kernel.loadAddress)
            w.u64(spec::kLoadAddressProp, *spec.kernel.loadAddress);
        if (spec.kernel.bootProtocol == BootProtocol::HvmStartInfo)
            w.string(spec::kBootProtocolProp, "hvm-start-info");
        w.endNode();
    }

    if (spec.consoleLogPath) {
        w.beginNode(spec::kConsoleNode);
        w.string(spec::kCompatibleProp, spec::kConsoleCompatible);
        w.string(spec::kLogPathProp, *spec.consoleLogPath);
        w.endNode();
    }
    if (spec.deviceModel) {
        const DeviceModelSpec& dm = *spec.deviceModel;
        w.beginNode(spec::kDeviceModelNode);
        w.string(spec::kCompatibleProp, spec::kDeviceModelCompatible);
        w.string(spec::kVgaProp, vgaKindName(dm.vga));
        w.u32(spec::kVideoRamProp, dm.videoRamMiB);
        switch (dm.serial) {
        case SerialKind::None:
            w.string(spec::kSerialProp, spec::kSerialNone);
            break;
        case SerialKind::Pty:
            w.string(spec::kSerialProp, spec::kSerialPty);
            break;
        case SerialKind::File:
            w.string(spec::kSerialProp, spec::kSerialFilePrefix + dm.serialPath);
            break;
        }
        if (dm.vnc)
            w.string(spec::kVncProp, *dm.vnc);
        if (!dm.vncPassword.empty())
            w.string(spec::kVncPasswordProp, dm.vncPassword);
        w.u32(spec::kPlatformDeviceIdProp, dm.platformDeviceId);
        w.u32(spec::kUsbTabletProp, dm.usbTablet ? 1 : 0);
        w.u32(spec::kXenPlatformPciProp, dm.xenPlatformPci ? 1 : 0);
        w.endNode();
    }
    for (const DiskSpec& disk : spec.disks) {
        const std::string name = spec::kDiskNodePrefix + std::to_string(disk.index);
        w.beginNode(name.c_str());
        w.string(spec::kCompatibleProp, spec::kDiskCompatible);
        if (!disk.target.empty())
            w.string(spec::kTargetProp, disk.target);
        w.string(spec::kFormatProp, diskFormatName(disk.format));
        w.string(spec::kVdevProp, disk.vdev);
        w.string(spec::kAccessProp, disk.access == DiskAccess::ReadOnly ? spec::kAccessReadOnly
                                                                        : spec::kAccessReadWrite);
        w.string(spec::kDevTypeProp, diskDevTypeName(disk.devType));
        w.endNode();
    }
    w.endNode(); // domain

    if (spec.testExitPort || spec.testDirtyPort) {
        w.beginNode(spec::kTestNode);
        w.string(spec::kCompatibleProp, spec::kTestCompatible);
        if (spec.testExitPort)
            w.u32(spec::kExitPortProp, *spec.testExitPort);
        if (spec.testDirtyPort)
            w.u32(spec::kDirtyPortProp, *spec.testDirtyPort);
        w.endNode();
    }
    w.endNode(); // root
}

} // namespace

Result<std::vector<uint8_t>> buildSpecBlob(const DomainSpec& spec) {
    BASALT_TRY(validateSpec(spec));
    for (size_t size = kInitialBlobBytes; size <= kMaxSpecBytes; size *= 2) {
        std::vector<uint8_t> blob(size);
        FdtWriter writer(blob);
        writeSpec(writer, spec);
        int rc = writer.finish();
        if (rc == -FDT_ERR_NOSPACE)
            continue;
        if (rc < 0)
            return makeError(EINVAL,
                             std::string("cannot build the domain spec blob: ") + fdt_strerror(rc));
        // fdt_finish leaves the blob packed: header, struct block, strings.
        blob.resize(fdt_totalsize(blob.data()));
        return blob;
    }
    return makeError(EFBIG, "cannot build the domain spec blob: it would exceed " +
                                std::to_string(kMaxSpecBytes) + " bytes");
}

} // namespace basalt
