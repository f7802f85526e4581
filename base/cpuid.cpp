#include "base/cpuid.h"

#include <cstring>

namespace basalt {

CpuVendor cpuVendorOf(const CpuidTable& table) {
    const CpuidEntry* leaf0 = findCpuid(table, 0);
    if (!leaf0)
        return CpuVendor::Unknown;
    char vendor[13] = {};
    std::memcpy(vendor + 0, &leaf0->ebx, 4);
    std::memcpy(vendor + 4, &leaf0->edx, 4);
    std::memcpy(vendor + 8, &leaf0->ecx, 4);
    if (std::strcmp(vendor, "GenuineIntel") == 0)
        return CpuVendor::Intel;
    if (std::strcmp(vendor, "AuthenticAMD") == 0 || std::strcmp(vendor, "HygonGenuine") == 0)
        return CpuVendor::Amd;
    return CpuVendor::Unknown;
}

} // namespace basalt
