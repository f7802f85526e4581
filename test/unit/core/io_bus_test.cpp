#include "vmm/io_bus.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

using namespace basalt;

namespace {

// Records accesses; reads return the low byte of the offset in every byte.
class RecordingDevice : public BusDevice {
public:
    struct Access {
        bool write;
        uint64_t offset;
        std::vector<uint8_t> data;
    };
    void read(uint64_t offset, std::span<uint8_t> data) override {
        std::memset(data.data(), static_cast<int>(offset & 0xFF), data.size());
        log.push_back({false, offset, {data.begin(), data.end()}});
    }
    void write(uint64_t offset, std::span<const uint8_t> data) override {
        log.push_back({true, offset, {data.begin(), data.end()}});
    }
    std::vector<Access> log;
};

} // namespace

TEST_CASE("IoBus rejects overlapping and malformed registrations", "[iobus]") {
    IoBus bus;
    auto dev = std::make_shared<RecordingDevice>();
    REQUIRE(bus.add(AddressSpace::Pio, 0x100, 0x10, dev, "a").ok());
    CHECK(bus.add(AddressSpace::Pio, 0x10F, 1, dev, "b").error().code == EEXIST);
    CHECK(bus.add(AddressSpace::Pio, 0xF8, 0x10, dev, "c").error().code == EEXIST);
    CHECK(bus.add(AddressSpace::Pio, 0x0, 0x1000, dev, "d").error().code == EEXIST);
    CHECK(bus.add(AddressSpace::Pio, 0x110, 1, dev, "adjacent").ok());
    CHECK(bus.add(AddressSpace::Pio, 0xFF, 1, dev, "adjacent below").ok());
    CHECK_FALSE(bus.add(AddressSpace::Pio, 0x200, 0, dev, "empty").ok());
    CHECK_FALSE(bus.add(AddressSpace::Pio, 0xFFFF, 2, dev, "past 64K").ok());
    CHECK_FALSE(bus.add(AddressSpace::Mmio, ~0ull, 2, dev, "wraps").ok());
    CHECK_FALSE(bus.add(AddressSpace::Mmio, 0x1000, 1, nullptr, "null").ok());
    // The same range in the other address space is independent.
    CHECK(bus.add(AddressSpace::Mmio, 0x100, 0x10, dev, "mmio").ok());
    CHECK(bus.claimant(AddressSpace::Pio, 0x105) == "a");
    CHECK(bus.claimant(AddressSpace::Pio, 0x111).empty());
    REQUIRE(bus.remove(AddressSpace::Pio, 0x100).ok());
    CHECK(bus.claimant(AddressSpace::Pio, 0x105).empty());
    CHECK(bus.remove(AddressSpace::Pio, 0x100).error().code == ENOENT);
}

TEST_CASE("IoBus routes accesses of every size with offsets", "[iobus]") {
    IoBus bus;
    auto dev = std::make_shared<RecordingDevice>();
    REQUIRE(bus.add(AddressSpace::Mmio, 0xE0000000, 0x1000, dev, "dev").ok());
    for (size_t size : {1, 2, 4, 8}) {
        std::vector<uint8_t> data(size, 0);
        bus.read(AddressSpace::Mmio, 0xE0000010, data);
        CHECK(data == std::vector<uint8_t>(size, 0x10));
        bus.write(AddressSpace::Mmio, 0xE0000020, data);
    }
    REQUIRE(dev->log.size() == 8);
    CHECK(dev->log[1].write);
    CHECK(dev->log[1].offset == 0x20);
    CHECK(dev->log[7].data.size() == 8);
}

TEST_CASE("Unclaimed accesses read all ones and drop writes", "[iobus]") {
    IoBus bus;
    auto dev = std::make_shared<RecordingDevice>();
    REQUIRE(bus.add(AddressSpace::Pio, 0x60, 4, dev, "dev").ok());
    for (size_t size : {1, 2, 4, 8}) {
        std::vector<uint8_t> data(size, 0x12);
        bus.read(AddressSpace::Mmio, 0xFED00000, data);
        CHECK(data == std::vector<uint8_t>(size, 0xFF));
        bus.write(AddressSpace::Mmio, 0xFED00000, data);
    }
    // An access straddling the end of a device's range is not the device's.
    std::vector<uint8_t> straddle(4, 0);
    bus.read(AddressSpace::Pio, 0x62, straddle);
    CHECK(straddle == std::vector<uint8_t>(4, 0xFF));
    CHECK(dev->log.empty());
}

TEST_CASE("String port I/O repeats the port for each item", "[iobus]") {
    IoBus bus;
    auto dev = std::make_shared<RecordingDevice>();
    REQUIRE(bus.add(AddressSpace::Pio, 0x3F8, 8, dev, "uart").ok());

    std::vector<uint8_t> out = {'a', 0, 'b', 0, 'c', 0};
    bus.handlePio(0x3F8, 2, true, 3, out.data());
    REQUIRE(dev->log.size() == 3);
    CHECK(dev->log[2].data == std::vector<uint8_t>{'c', 0});
    CHECK(dev->log[2].offset == 0);

    std::vector<uint8_t> in(4 * 5, 0);
    bus.handlePio(0x3F9, 4, false, 5, in.data()); // 0x3F9+4 is inside 0x3F8+8
    CHECK(in == std::vector<uint8_t>(20, 0x01));

    std::vector<uint8_t> unclaimed(3, 0);
    bus.handlePio(0x2E0, 1, false, 3, unclaimed.data());
    CHECK(unclaimed == std::vector<uint8_t>(3, 0xFF));
}
