#pragma once
// The domain's UUID: Xen's domain handle (xen_domain_handle_t). xl takes it
// from xl.cfg's uuid= or makes a fresh one at creation; a reboot of the same
// guest keeps it. The guest reads it with XENVER_guest_handle, and hvmloader
// puts it in the SMBIOS type 1 UUID field and, without a
// system_serial_number string, in the serial number.
//
// Byte order is libxl_uuid's (uuid_parse on Linux): the canonical string's
// hex pairs in order, so "00112233-..." is bytes 0x00 0x11 0x22 0x33 ...

#include "base/result.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace basalt {

constexpr size_t kDomainUuidBytes = 16;
constexpr size_t kDomainUuidTextLength = 36; // 8-4-4-4-12 hex digits and dashes

using DomainUuid = std::array<uint8_t, kDomainUuidBytes>;

// Accepts exactly the canonical 8-4-4-4-12 form, hex digits in either case
// (as uuid_parse). Errors say what is wrong, without a prefix.
Result<DomainUuid> parseDomainUuid(std::string_view text);

// Lower-case canonical form, as libxl prints it (and /vm/<uuid> is named).
std::string formatDomainUuid(const DomainUuid& uuid);

// A random RFC 4122 version 4 UUID from the kernel's CSPRNG.
Result<DomainUuid> generateDomainUuid();

} // namespace basalt
