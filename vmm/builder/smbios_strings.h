#pragma once
// SMBIOS strings: the bios-strings/* xenstore keys hvmloader reads when it
// builds the guest's SMBIOS tables (Xen's hvm_xs_strings.h, hvmloader's
// smbios.c), set the way xl does with smbios=["KEY=VALUE", ...] (Xen 4.18's
// xl.cfg; libxl_smbios_type). KEY is one of xl's names, bios_vendor ...
// battery_device_name, whose xenstore key is the same name with dashes
// (bios-strings/bios-vendor), or oem, which may be given up to 99 times and
// becomes bios-strings/oem-1, oem-2, ... in the order given.
//
// The values are guest-visible and come from users: Basalt accepts printable
// ASCII only (SMBIOS asks for US-ASCII for old parsers; no control characters
// or NULs reach the guest) and at most kMaxSmbiosValueLength bytes each, and
// refuses a key given twice (xl lets the last one win silently).

#include "base/result.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace basalt {

struct SmbiosString {
    std::string key; // below bios-strings/, as hvmloader reads it: "bios-vendor", "oem-2"
    std::string value;

    bool operator==(const SmbiosString&) const = default;
};
using SmbiosStrings = std::vector<SmbiosString>;

// hvmloader copies each value whole into the structure table, whose length
// the SMBIOS 2.4 entry point holds in 16 bits: 17 named strings and 99 OEM
// strings of 512 bytes (59 KiB with their NULs) plus hvmloader's own
// structures stay below 64 KiB.
constexpr size_t kMaxSmbiosValueLength = 512;
// hvmloader reads bios-strings/oem-1 .. oem-99 and stops at the first gap.
constexpr size_t kMaxSmbiosOemStrings = 99;
// xl's key for an OEM string (SMBIOS type 11).
constexpr std::string_view kSmbiosOemKey = "oem";

// Appends one xl-style "KEY=VALUE" entry (an smbios= list item or a --smbios
// flag) to `strings`, numbering OEM strings after those already there. The
// key is matched without regard to case, as libxl does. Errors quote the
// entry's key, never a value longer than a line.
Status addSmbiosEntry(SmbiosStrings& strings, std::string_view entry);

// The hvmloader key an xl key names ("bios_vendor" -> "bios-vendor"), or ""
// when it names none; "oem" gives "" too (it has no single key).
std::string smbiosKeyFromXlName(std::string_view xlName);

// Checks a list read from a spec: known keys, OEM strings numbered 1, 2, ...
// in order, no key twice, every value valid.
Status validateSmbiosStrings(const SmbiosStrings& strings);

// The xenstore path below the domain's home: "bios-strings/<key>".
std::string smbiosXenstorePath(const SmbiosString& entry);

} // namespace basalt
