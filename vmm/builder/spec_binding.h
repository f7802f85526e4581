#pragma once
// Node, property and compatible names of the "basalt,domain-spec-v1" binding
// (documented in domain_spec.h), shared by the blob writer and reader so the
// two cannot drift apart.

namespace basalt::spec {

constexpr const char* kRootCompatible = "basalt,domain-spec-v1";
constexpr const char* kDomainCompatible = "basalt,domain";
constexpr const char* kKernelCompatible = "basalt,kernel";
constexpr const char* kConsoleCompatible = "basalt,console";
constexpr const char* kTestCompatible = "basalt,test";
constexpr const char* kDeviceModelCompatible = "basalt,qemu";
constexpr const char* kDiskCompatible = "basalt,vbd";
constexpr const char* kFirmwareCompatible = "basalt,hvmloader";
constexpr const char* kSmbiosCompatible = "basalt,smbios-strings";

constexpr const char* kDomainNode = "domain";
constexpr const char* kKernelNode = "kernel";
constexpr const char* kConsoleNode = "console";
constexpr const char* kFirmwareNode = "firmware";
constexpr const char* kTestNode = "test";
constexpr const char* kDeviceModelNode = "device-model";
constexpr const char* kDiskNodePrefix = "disk@"; // disk@N
constexpr const char* kSmbiosNode = "smbios";    // under firmware

constexpr const char* kCompatibleProp = "compatible";
constexpr const char* kNameProp = "name";
constexpr const char* kUuidProp = "uuid";
constexpr const char* kMemoryProp = "memory";
constexpr const char* kCpusProp = "cpus";
constexpr const char* kMmioHoleStartProp = "mmio-hole-start";
constexpr const char* kPathProp = "path";
constexpr const char* kEntryModeProp = "entry-mode";
constexpr const char* kLoadAddressProp = "load-address";
constexpr const char* kBootProtocolProp = "boot-protocol";
constexpr const char* kLogPathProp = "log-path";
constexpr const char* kExitPortProp = "exit-port";
constexpr const char* kDirtyPortProp = "dirty-port";
constexpr const char* kVgaProp = "vga";
constexpr const char* kVideoRamProp = "videoram";
constexpr const char* kSerialProp = "serial";
constexpr const char* kVncProp = "vnc";
constexpr const char* kVncPasswordProp = "vnc-password";
constexpr const char* kPlatformDeviceIdProp = "platform-device-id";
constexpr const char* kUsbTabletProp = "usb-tablet";
constexpr const char* kXenPlatformPciProp = "xen-platform-pci";
constexpr const char* kTargetProp = "target";
constexpr const char* kFormatProp = "format";
constexpr const char* kVdevProp = "vdev";
constexpr const char* kAccessProp = "access";
constexpr const char* kDevTypeProp = "devtype";
constexpr const char* kBiosProp = "bios";
constexpr const char* kBiosPathProp = "bios-path";
constexpr const char* kBootOrderProp = "boot-order";

// String values of the device-model and disk properties.
constexpr const char* kSerialNone = "none";
constexpr const char* kSerialPty = "pty";
constexpr const char* kSerialFilePrefix = "file:";
constexpr const char* kAccessReadWrite = "rw";
constexpr const char* kAccessReadOnly = "ro";

// Root is depth 0; /domain/kernel is depth 2. Allow one level of headroom for
// the reserved nodes, nothing deeper.
constexpr int kMaxDepth = 4;

} // namespace basalt::spec
