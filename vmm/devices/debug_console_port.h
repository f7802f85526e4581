#pragma once
// Port 0xE9, the Bochs/QEMU debug console: each byte written goes to the
// domain console. Reads return 0xE9, which is how guests detect it.

#include "vmm/console.h"
#include "vmm/io_bus.h"

namespace basalt {

class DebugConsolePort final : public BusDevice {
public:
    static constexpr uint16_t kPort = 0xE9;

    explicit DebugConsolePort(Console& console) : console_(console) {}
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    Console& console_;
};

} // namespace basalt
