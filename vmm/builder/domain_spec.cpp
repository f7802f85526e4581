// validateSpec and loadSpecFile; the blob itself is written by
// spec_blob_writer.cpp and read by spec_blob_reader.cpp.

#include "vmm/builder/domain_spec.h"

#include "base/log.h"
#include "vmm/builder/describe.h"
#include "vmm/builder/read_file.h"

#include <libfdt.h>

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

} // namespace

Status validateSpec(const DomainSpec& spec) {
    BASALT_TRY(validateName(spec.name));
    BASALT_TRY(validateMemory(spec));
    BASALT_TRY(validateVcpus(spec.vcpus));
    BASALT_TRY(validateKernel(spec));
    if (spec.consoleLogPath)
        BASALT_TRY(validatePath(*spec.consoleLogPath, "console log"));
    BASALT_TRY(validateTestPorts(spec));
    return {};
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
