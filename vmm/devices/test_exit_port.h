#pragma once
// Test-only (present only with --test-exit-port): a write of V ends the domain
// with process exit status V & 0xFF, like QEMU's isa-debug-exit.

#include "vmm/io_bus.h"

#include <functional>

namespace basalt {

class TestExitPort final : public BusDevice {
public:
    using StopFn = std::function<void(int status)>;
    explicit TestExitPort(StopFn stop) : stop_(std::move(stop)) {}

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    StopFn stop_;
};

} // namespace basalt
