#include "firmware/hvmloader_keys.h"

namespace basalt::firmware {

namespace {

constexpr uint64_t kFourGiB = uint64_t{1} << 32;

} // namespace

XenstoreKeys hvmloaderKeys(const FirmwareSpec& spec, uint64_t mmioHoleStart) {
    XenstoreKeys keys = {
        {"hvmloader/bios", biosKindName(spec.bios)},
        // libxl: 1 only for qemu-xen-traditional without vNUMA.
        {"hvmloader/allow-memory-relocate", "0"},
        {"platform/device-model", "qemu_xen"},
        {"platform/acpi", "1"},
        {"platform/acpi_s3", "1"},
        {"platform/acpi_s4", "1"},
        {"platform/acpi_laptop_slate", "0"},
    };
    // libxl writes the hole size only when xl.cfg's mmio_hole sets it.
    if (mmioHoleStart != boot::kDefaultMmioHoleStart)
        keys.emplace_back("platform/mmio_hole_size", std::to_string(kFourGiB - mmioHoleStart));
    // As libxl's hvm_build_set_xs_values: only the strings the user set;
    // hvmloader uses its defaults ("Xen", "HVM domU", ...) for the others.
    for (const SmbiosString& entry : spec.smbios)
        keys.emplace_back(smbiosXenstorePath(entry), entry.value);
    return keys;
}

} // namespace basalt::firmware
