#pragma once
// The trap bus: one interval map per address space (port I/O and MMIO) from
// guest addresses to the device that claims them. Registrations may not
// overlap. Accesses nobody claims read as all ones and drop writes, as on a
// PC bus with nothing answering; both are logged, rate-limited.

#include "base/result.h"

#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>

namespace basalt {

enum class AddressSpace { Pio, Mmio };

class BusDevice {
public:
    virtual ~BusDevice() = default;
    // `offset` is relative to the registered base; `data.size()` is the access
    // size (1, 2, 4 or 8). Reads fill `data` (little-endian, as the guest sees it).
    virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
    virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

class IoBus {
public:
    static constexpr uint64_t kPioSpaceSize = 0x10000;

    Status add(AddressSpace space, uint64_t base, uint64_t length,
               std::shared_ptr<BusDevice> device, std::string name);
    Status remove(AddressSpace space, uint64_t base);

    // One access of data.size() bytes at `address`. An access that is not
    // wholly inside one device's range is unclaimed.
    void read(AddressSpace space, uint64_t address, std::span<uint8_t> data) const;
    void write(AddressSpace space, uint64_t address, std::span<const uint8_t> data) const;

    // A port I/O exit: `count` consecutive items of `size` bytes (rep ins/outs
    // repeat the same port), laid out back to back in `data`.
    void handlePio(uint16_t port, uint8_t size, bool isWrite, uint32_t count, uint8_t* data) const;

    // The exit path's forms, one lookup each: handled by a core device
    // (true), or left untouched and unlogged for the device model (false).
    // What nobody takes then goes to the unclaimed* calls.
    bool tryHandlePio(uint16_t port, uint8_t size, bool isWrite, uint32_t count,
                      uint8_t* data) const;
    bool tryAccess(AddressSpace space, uint64_t address, bool isWrite,
                   std::span<uint8_t> data) const;
    void unclaimedPio(uint16_t port, uint8_t size, bool isWrite, uint32_t count,
                      uint8_t* data) const;
    void unclaimedAccess(AddressSpace space, uint64_t address, bool isWrite,
                         std::span<uint8_t> data) const;

    // The name of the device claiming `address`, or empty.
    std::string claimant(AddressSpace space, uint64_t address) const;

private:
    struct Range {
        uint64_t length;
        std::shared_ptr<BusDevice> device;
        std::string name;
    };
    using RangeMap = std::map<uint64_t, Range>; // keyed by base

    // Returns the device and the offset of `address` in it when [address,
    // address+size) lies inside one range.
    std::shared_ptr<BusDevice> find(AddressSpace space, uint64_t address, uint64_t size,
                                    uint64_t& offset) const;
    static void unclaimedRead(AddressSpace space, uint64_t address, std::span<uint8_t> data);
    static void unclaimedWrite(AddressSpace space, uint64_t address, std::span<const uint8_t> data);
    RangeMap& map(AddressSpace space) { return space == AddressSpace::Pio ? pio_ : mmio_; }
    const RangeMap& map(AddressSpace space) const {
        return space == AddressSpace::Pio ? pio_ : mmio_;
    }

    mutable std::shared_mutex mutex_; // registrations are rare, lookups constant
    RangeMap pio_;
    RangeMap mmio_;
};

} // namespace basalt
