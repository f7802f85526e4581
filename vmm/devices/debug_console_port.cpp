#include "vmm/devices/debug_console_port.h"

#include <cstring>

namespace basalt {

void DebugConsolePort::read(uint64_t, std::span<uint8_t> data) {
    std::memset(data.data(), 0, data.size());
    data[0] = kPort;
}

void DebugConsolePort::write(uint64_t, std::span<const uint8_t> data) {
    // Only the low byte is a character, whatever the access size.
    console_.write(data.first(1));
}

} // namespace basalt
