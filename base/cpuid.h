#pragma once
// A vendor-neutral CPUID table: what KVM reports as supported, what the vendor
// policy shapes, and what each vCPU is finally given. vmm/kvm converts it to and
// from struct kvm_cpuid_entry2.

#include <cstdint>
#include <optional>
#include <vector>

namespace basalt {

struct CpuidEntry {
    uint32_t function = 0;
    uint32_t index = 0; // subleaf; meaningful only if significantIndex
    bool significantIndex = false;
    uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;

    bool operator==(const CpuidEntry&) const = default;
};

using CpuidTable = std::vector<CpuidEntry>;

enum class CpuVendor { Intel, Amd, Unknown };

inline const CpuidEntry* findCpuid(const CpuidTable& table, uint32_t function, uint32_t index = 0) {
    for (const auto& e : table)
        if (e.function == function && (!e.significantIndex || e.index == index))
            return &e;
    return nullptr;
}

inline CpuidEntry* findCpuid(CpuidTable& table, uint32_t function, uint32_t index = 0) {
    for (auto& e : table)
        if (e.function == function && (!e.significantIndex || e.index == index))
            return &e;
    return nullptr;
}

// Reads the vendor string of leaf 0 ("GenuineIntel", "AuthenticAMD"; Hygon
// "HygonGenuine" behaves like AMD for virtualization).
CpuVendor cpuVendorOf(const CpuidTable& table);

} // namespace basalt
