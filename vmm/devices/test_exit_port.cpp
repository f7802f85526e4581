#include "vmm/devices/test_exit_port.h"

#include <cstring>

namespace basalt {

namespace {
constexpr int kStatusMask = 0xFF;
}

void TestExitPort::read(uint64_t, std::span<uint8_t> data) {
    std::memset(data.data(), 0xFF, data.size());
}

void TestExitPort::write(uint64_t, std::span<const uint8_t> data) {
    uint32_t value = 0;
    std::memcpy(&value, data.data(), std::min(data.size(), sizeof value));
    stop_(static_cast<int>(value) & kStatusMask);
}

} // namespace basalt
