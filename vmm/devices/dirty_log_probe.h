#pragma once
// Test-only (present only with --test-dirty-port): lets a test guest check the
// core's dirty logging against the pages it says it wrote.
//
// Registers (32-bit, offsets from the base port):
//   +0 write: command (1 = BEGIN, 2 = CHECK); read: result of the last CHECK
//      (1 match, 0 mismatch, 0xFFFFFFFF none yet)
//   +4 write: first pfn of the window     +8 write: window size in pages
//   +12 write: pfn the guest declares it wrote
//
// Example: window 0x400+0x100; BEGIN enables logging and discards what was
// logged; the guest writes pages 0x400 and 0x47F and declares both; CHECK
// fetches-and-clears the window's dirty pages, finds {0x400, 0x47F} and
// reads back 1. A page written but not declared makes CHECK read back 0.

#include "vmm/io_bus.h"

#include <mutex>
#include <set>

namespace basalt {

namespace npt {
class PhysMap;
}

class DirtyLogProbe final : public BusDevice {
public:
    static constexpr uint64_t kRegisterBytes = 16;
    static constexpr uint32_t kCommandBegin = 1;
    static constexpr uint32_t kCommandCheck = 2;
    static constexpr uint32_t kResultMatch = 1;
    static constexpr uint32_t kResultMismatch = 0;
    static constexpr uint32_t kResultNone = 0xFFFFFFFF;

    explicit DirtyLogProbe(npt::PhysMap& physMap) : physMap_(physMap) {}

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    enum Register : uint64_t { kCommand = 0, kWindowStart = 4, kWindowPages = 8, kDeclare = 12 };

    void begin();
    void check();

    npt::PhysMap& physMap_;
    std::mutex mutex_;
    uint64_t windowStart_ = 0;
    uint64_t windowPages_ = 0;
    std::set<uint64_t> declared_;
    uint32_t result_ = kResultNone;
};

} // namespace basalt
