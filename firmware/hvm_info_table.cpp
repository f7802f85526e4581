#include "firmware/hvm_info_table.h"

#include <cstddef>
#include <cstring>

#include <xen/hvm/hvm_info_table.h>

namespace basalt::firmware {

namespace {

constexpr uint64_t kPageShift = 12;
constexpr uint64_t kPageMask = (uint64_t{1} << kPageShift) - 1;
constexpr uint64_t kFourGiB = uint64_t{1} << 32;
constexpr char kSignature[] = "HVM INFO";
constexpr uint8_t kApicModeOn = 1; // firmware builds MADT/MP entries
constexpr unsigned kBitsPerByte = 8;

} // namespace

Result<HvmInfoImage> buildHvmInfoTable(const HvmInfoLayout& layout) {
    if (layout.vcpus == 0 || layout.vcpus > HVM_MAX_VCPUS)
        return makeError(EINVAL, "hvm_info_table: " + std::to_string(layout.vcpus) +
                                     " vCPUs; hvmloader describes 1 to " +
                                     std::to_string(HVM_MAX_VCPUS));
    if ((layout.lowRamEnd & kPageMask) || (layout.highRamEnd & kPageMask) ||
        layout.lowRamEnd > kFourGiB || (layout.highRamEnd && layout.highRamEnd <= kFourGiB))
        return makeError(EINVAL, "hvm_info_table: RAM ends are not page aligned or misplaced");
    hvm_info_table table{};
    std::memcpy(table.signature, kSignature, sizeof table.signature);
    table.length = sizeof table;
    table.apic_mode = kApicModeOn;
    table.nr_vcpus = layout.vcpus;
    for (uint32_t i = 0; i < layout.vcpus; ++i)
        table.vcpu_online[i / kBitsPerByte] |= static_cast<uint8_t>(1u << (i % kBitsPerByte));
    table.low_mem_pgend = static_cast<uint32_t>(layout.lowRamEnd >> kPageShift);
    table.reserved_mem_pgstart = static_cast<uint32_t>(kReservedMemStartPfn);
    table.high_mem_pgend = static_cast<uint32_t>(layout.highRamEnd >> kPageShift);

    HvmInfoImage out;
    out.gpa = HVM_INFO_PADDR;
    out.bytes.resize(sizeof table);
    std::memcpy(out.bytes.data(), &table, sizeof table);
    // The bytes sum to zero, checksum included.
    uint8_t sum = 0;
    for (uint8_t b : out.bytes)
        sum = static_cast<uint8_t>(sum + b);
    out.bytes[offsetof(hvm_info_table, checksum)] = static_cast<uint8_t>(-sum);
    return out;
}

} // namespace basalt::firmware
