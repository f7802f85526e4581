#include "vmm/builder/describe.h"

#include "vmm/builder/boot_layout.h"

#include <cinttypes>
#include <cstdio>

namespace basalt {

std::string hexString(uint64_t value) {
    char text[sizeof("0x") + 16];
    std::snprintf(text, sizeof(text), "%#" PRIx64, value);
    return value == 0 ? "0x0" : text;
}

std::string rangeString(uint64_t start, uint64_t end) {
    return hexString(start) + "-" + hexString(end - 1);
}

std::string sizeString(uint64_t bytes) {
    if (bytes == 0)
        return "0 MiB";
    struct Unit {
        uint64_t size;
        const char* name;
    };
    static constexpr Unit kUnits[] = {
        {boot::kTiB, "TiB"}, {boot::kGiB, "GiB"}, {boot::kMiB, "MiB"}, {boot::kKiB, "KiB"}};
    for (const Unit& unit : kUnits)
        if (bytes % unit.size == 0)
            return std::to_string(bytes / unit.size) + " " + unit.name;
    return std::to_string(bytes) + " bytes";
}

} // namespace basalt
