#pragma once
// Screenshots: QEMU's QMP `screendump` writes a binary PPM (Debian's
// qemu-system-xen has no libpng) into QEMU's run directory; basalt-vmm reads
// it back and writes a PNG. The PPM comes from the deprivileged device model,
// so it is parsed as hostile input.

#include "base/result.h"

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace basalt {

// Larger than any VGA mode QEMU's stdvga or cirrus can set.
constexpr uint32_t kMaxScreenDimension = 16384;
constexpr uint64_t kMaxScreenPixels = 64ull << 20;

struct RgbImage {
    uint32_t width = 0;
    uint32_t height = 0;
    std::vector<uint8_t> rgb; // width * height * 3 bytes, rows top to bottom
};

// A binary PPM ("P6", maxval 255; comments allowed in the header).
Result<RgbImage> parsePpm(std::span<const uint8_t> bytes);

// An 8-bit RGB PNG (colour type 2, no interlace), IDAT deflated with zlib.
Result<std::vector<uint8_t>> encodePng(const RgbImage& image);

// Asks QEMU, through its QMP socket, to dump the screen to `ppmPath` (a path
// QEMU can write), then converts it to `pngPath` and removes the PPM.
Status takeScreenshot(const std::string& qmpSocket, const std::string& ppmPath,
                      const std::string& pngPath,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

} // namespace basalt
