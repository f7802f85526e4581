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

constexpr const char* kDomainNode = "domain";
constexpr const char* kKernelNode = "kernel";
constexpr const char* kConsoleNode = "console";
constexpr const char* kTestNode = "test";

constexpr const char* kCompatibleProp = "compatible";
constexpr const char* kNameProp = "name";
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

// Root is depth 0; /domain/kernel is depth 2. Allow one level of headroom for
// the reserved nodes, nothing deeper.
constexpr int kMaxDepth = 4;

} // namespace basalt::spec
