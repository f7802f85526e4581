#pragma once
// The xenstore keys hvmloader reads under the guest's home path, with the
// values libxl writes for a qemu-xen HVM guest (libxl_create.c,
// libxl_dom.c): which firmware to run, that memory may not be relocated
// (QEMU upstream cannot follow a relocation), and the ACPI platform flags.
// Keys libxl writes only when configured (bios-strings/* from smbios=,
// platform/mmio_hole_size, platform/generation-id) are absent unless given;
// hvmloader then uses its defaults, as under Xen.

#include "vmm/builder/domain_spec.h"

#include <string>
#include <utility>
#include <vector>

namespace basalt::firmware {

using XenstoreKeys = std::vector<std::pair<std::string, std::string>>; // path below home, value

XenstoreKeys hvmloaderKeys(const FirmwareSpec& spec, uint64_t mmioHoleStart);

} // namespace basalt::firmware
