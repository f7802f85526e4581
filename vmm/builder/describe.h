#pragma once
// Number formatting for error messages: addresses in hex, sizes in the largest
// exact unit, so that "memory size 0 MiB is too small" reads naturally.

#include <cstdint>
#include <string>

namespace basalt {

// "0x1f000"
std::string hexString(uint64_t value);

// "0x100000-0x10ffff" for [start, end); end > start.
std::string rangeString(uint64_t start, uint64_t end);

// "512 MiB", "4 KiB", "4097 bytes": the largest unit (up to TiB) that divides
// the value exactly; 0 is "0 MiB".
std::string sizeString(uint64_t bytes);

} // namespace basalt
