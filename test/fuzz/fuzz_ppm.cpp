// Fuzz target: screendump PPMs, which come from the deprivileged QEMU (a
// compromised device model writes whatever it likes). Beyond "no crash", an
// accepted image has exactly width * height * 3 bytes and encodes to a PNG.

#include "test/fuzz/fuzz_seeds.h"
#include "vmm/screenshot.h"

#include <cstdint>
#include <cstdlib>
#include <string>

using basalt::fuzz::require;

namespace basalt::fuzz {

std::vector<std::vector<uint8_t>> seeds() {
    std::vector<std::vector<uint8_t>> out;
    auto add = [&out](const std::string& header, size_t pixelBytes) {
        std::vector<uint8_t> bytes(header.begin(), header.end());
        for (size_t i = 0; i < pixelBytes; ++i)
            bytes.push_back(static_cast<uint8_t>(i * 31));
        out.push_back(std::move(bytes));
    };
    add("P6\n2 2\n255\n", 12);
    add("P6\n# QEMU\n3 1\n255\n", 9);
    add("P6 1 1 255 ", 3);
    add("P6\n4 2\n255\n", 23);
    return out;
}

} // namespace basalt::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto image = basalt::parsePpm({data, size});
    if (!image)
        return 0;
    require(image->rgb.size() == static_cast<size_t>(image->width) * image->height * 3);
    require(basalt::encodePng(*image).ok());
    return 0;
}
