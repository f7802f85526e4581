// GuestMemory: bounds-checked reads, writes, copies and fills.

#include "npt/guest_memory.h"
#include "npt/phys_map.h"
#include "test/unit/npt/fake_memslot_backend.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

using namespace basalt;
using namespace basalt::npt;
using basalt::npt::test::FakeMemslotBackend;
using Catch::Matchers::Contains;

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kSmallRam = 16 * kMiB;

std::unique_ptr<PhysMap> makeMap(FakeMemslotBackend& backend, uint64_t ram,
                                 uint64_t hole = kDefaultMmioHoleStart) {
    auto map = PhysMap::create(backend, ram, hole);
    REQUIRE(map.ok());
    return std::move(map).value();
}

std::vector<uint8_t> pattern(size_t size, uint8_t seed) {
    std::vector<uint8_t> bytes(size);
    for (size_t i = 0; i < size; ++i)
        bytes[i] = static_cast<uint8_t>(seed + i * 13);
    return bytes;
}

std::vector<uint8_t> readBack(const GuestMemory& mem, uint64_t gpa, size_t len) {
    std::vector<uint8_t> out(len);
    REQUIRE(mem.read(gpa, out).ok());
    return out;
}

// A guest that is low RAM up to 4 GiB and high RAM right after: one RAM range
// made of two regions meeting at 4 GiB.
struct SeamGuest {
    FakeMemslotBackend backend;
    std::unique_ptr<PhysMap> map = makeMap(backend, 4 * kGiB + 16 * kMiB, kHighRamBase);
    GuestMemory mem{*map};
};

struct Header {
    uint32_t magic;
    uint16_t version;
    uint16_t flags;
    uint64_t address;
};

} // namespace

TEST_CASE("reads and writes round-trip and share memory with the guest", "[npt]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend, kSmallRam);
    GuestMemory mem(*map);

    auto bytes = pattern(300, 1);
    REQUIRE(mem.write(0x200000, bytes).ok());
    CHECK(readBack(mem, 0x200000, bytes.size()) == bytes);

    // What the guest stores through its memslot is what read() returns.
    REQUIRE(backend.guestWriteByte(0x300010, 0xAB));
    CHECK(readBack(mem, 0x300010, 1)[0] == 0xAB);
    const MemslotSpec* spec = backend.slotAt(0x200000);
    REQUIRE(spec);
    CHECK(static_cast<uint8_t*>(spec->hva)[0x200000 - spec->gpa] == bytes[0]);
}

TEST_CASE("zero-length accesses succeed anywhere", "[npt]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend, kSmallRam);
    GuestMemory mem(*map);
    CHECK(mem.read(kVgaHoleStart, {}).ok());
    CHECK(mem.write(UINT64_MAX, {}).ok());
    CHECK(mem.copy(UINT64_MAX, kVgaHoleStart, 0).ok());
    CHECK(mem.fill(UINT64_MAX, 0, 0).ok());
    CHECK(mem.loadImage(UINT64_MAX, {}).ok());
}

TEST_CASE("accesses may span contiguous regions", "[npt]") {
    SeamGuest g;
    auto bytes = pattern(3 * kPageSize, 7);
    uint64_t gpa = kHighRamBase - kPageSize - 100;
    REQUIRE(g.mem.write(gpa, bytes).ok());
    CHECK(readBack(g.mem, gpa, bytes.size()) == bytes);
    REQUIRE(g.mem.fill(kHighRamBase - 8, 0xEE, 16).ok());
    auto filled = readBack(g.mem, kHighRamBase - 8, 16);
    CHECK(std::all_of(filled.begin(), filled.end(), [](uint8_t b) { return b == 0xEE; }));
}

TEST_CASE("any byte outside RAM and ROM faults the whole access", "[npt]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend, kSmallRam);
    GuestMemory mem(*map);
    std::vector<uint8_t> buf(2 * kPageSize, 0x11);

    SECTION("into the VGA hole") {
        REQUIRE(mem.fill(kVgaHoleStart - kPageSize, 0x22, kPageSize).ok());
        Status s = mem.write(kVgaHoleStart - kPageSize, buf);
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().code == EFAULT);
        CHECK_THAT(s.error().message, Contains("at 0x9f000 of 8192 bytes reaches 0xa0000"));
        // Nothing was written before the fault was found.
        CHECK(readBack(mem, kVgaHoleStart - kPageSize, 1)[0] == 0x22);
        CHECK(mem.read(kVgaHoleStart, buf).error().code == EFAULT);
        CHECK(mem.read(kVgaHoleEnd - 1, buf).error().code == EFAULT);
    }
    SECTION("past the end of RAM and in the MMIO hole") {
        CHECK(mem.read(kSmallRam - kPageSize, buf).error().code == EFAULT);
        CHECK(mem.read(kSmallRam - 2 * kPageSize, buf).ok());
        CHECK(mem.read(kDefaultMmioHoleStart, buf).error().code == EFAULT);
        CHECK(mem.fill(0xFEE00000, 0, 4).error().code == EFAULT);
        CHECK(mem.readObject<uint32_t>(kHighRamBase).error().code == EFAULT);
    }
    SECTION("wrapping past the top of the address space") {
        Status s = mem.read(UINT64_MAX - 1, std::span<uint8_t>(buf.data(), 4));
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().code == EFAULT);
        CHECK_THAT(s.error().message, Contains("0xfffffffffffffffe of 4 bytes wraps"));
        CHECK(mem.read(UINT64_MAX, std::span<uint8_t>(buf.data(), 1)).error().code == EFAULT);
        CHECK(mem.fill(0x1000, 0, UINT64_MAX).error().code == EFAULT);
        CHECK(mem.copy(0x1000, UINT64_MAX - 10, 20).error().code == EFAULT);
        CHECK(mem.copy(UINT64_MAX - 10, 0x1000, 20).error().code == EFAULT);
        CHECK(mem.loadImage(UINT64_MAX - 1, buf).error().code == EFAULT);
    }
}

TEST_CASE("the guest cannot write ROM, the domain builder can", "[npt]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend, kSmallRam);
    GuestMemory mem(*map);
    const uint64_t romGpa = 0xFFFF0000;
    auto original = pattern(kPageSize, 3);
    REQUIRE(map->addRom(romGpa, original, "bios").ok());

    std::vector<uint8_t> bytes(16, 0x99);
    Status s = mem.write(romGpa + 16, bytes);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == EACCES);
    CHECK_THAT(s.error().message, Contains("read-only region 'bios' at 0xffff0000"));
    CHECK(mem.fill(romGpa, 0, 1).error().code == EACCES);
    CHECK(mem.writeObject<uint32_t>(romGpa, 1).error().code == EACCES);
    CHECK(mem.copy(romGpa, 0x1000, 8).error().code == EACCES);
    CHECK(readBack(mem, romGpa, kPageSize) == original);

    REQUIRE(mem.loadImage(romGpa + 16, bytes).ok());
    CHECK(readBack(mem, romGpa + 16, bytes.size()) == bytes);
    CHECK(mem.loadImage(romGpa + kPageSize - 8, bytes).error().code == EFAULT);

    // ROM reads are fine, and copying out of ROM into RAM too.
    REQUIRE(mem.copy(0x5000, romGpa, kPageSize).ok());
    CHECK(readBack(mem, 0x5000 + 16, bytes.size()) == bytes);
}

TEST_CASE("a write spanning RAM into ROM is refused before any byte moves", "[npt]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend, kSmallRam);
    GuestMemory mem(*map);
    REQUIRE(map->addRom(kSmallRam, pattern(kPageSize, 4), "after-ram").ok());
    REQUIRE(mem.fill(kSmallRam - 8, 0x33, 8).ok());

    std::vector<uint8_t> bytes(16, 0x44);
    CHECK(mem.write(kSmallRam - 8, bytes).error().code == EACCES);
    CHECK(readBack(mem, kSmallRam - 8, 8) == std::vector<uint8_t>(8, 0x33));
    // Reading across is allowed: RAM and ROM are contiguous.
    auto across = readBack(mem, kSmallRam - 8, 16);
    CHECK(across[7] == 0x33);
    CHECK(across[8] == pattern(kPageSize, 4)[0]);
    REQUIRE(mem.loadImage(kSmallRam - 8, bytes).ok());
    CHECK(readBack(mem, kSmallRam - 8, 16) == bytes);
}

TEST_CASE("copy has memmove semantics", "[npt]") {
    SeamGuest g;
    // A reference model of the bytes around the seam at 4 GiB.
    const uint64_t base = kHighRamBase - 3 * kPageSize;
    const size_t span = 6 * kPageSize;
    std::vector<uint8_t> model = pattern(span, 9);
    REQUIRE(g.mem.write(base, model).ok());

    auto check = [&](uint64_t dst, uint64_t src, uint64_t len) {
        REQUIRE(g.mem.copy(base + dst, base + src, len).ok());
        std::memmove(model.data() + dst, model.data() + src, len);
        CHECK(readBack(g.mem, base, span) == model);
    };
    SECTION("disjoint, within one region") {
        check(0, kPageSize, 100);
    }
    SECTION("overlapping forwards, across the seam") {
        check(100, 2 * kPageSize, 3 * kPageSize);
    }
    SECTION("overlapping backwards, across the seam") {
        check(2 * kPageSize + 7, kPageSize, 3 * kPageSize);
    }
    SECTION("overlapping by one byte") {
        check(1, 0, 5 * kPageSize);
    }
    SECTION("onto itself") {
        check(kPageSize, kPageSize, 4 * kPageSize);
    }
}

TEST_CASE("copy faults when either side leaves RAM", "[npt]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend, kSmallRam);
    GuestMemory mem(*map);
    REQUIRE(mem.fill(0x1000, 0x55, kPageSize).ok());
    CHECK(mem.copy(0x1000, kVgaHoleStart, 8).error().code == EFAULT);
    CHECK(mem.copy(kVgaHoleStart - 4, 0x2000, 8).error().code == EFAULT);
    CHECK(mem.copy(0x1000, kSmallRam - 4, 8).error().code == EFAULT);
    CHECK(readBack(mem, 0x1000, 1)[0] == 0x55);
}

TEST_CASE("objects are copied in and out", "[npt]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend, kSmallRam);
    GuestMemory mem(*map);
    Header h{0x336EC578, 1, 2, 0x123456789ABCDEF0};
    REQUIRE(mem.writeObject(0x7FF8, h).ok()); // spans a page boundary
    auto back = mem.readObject<Header>(0x7FF8);
    REQUIRE(back.ok());
    CHECK(back->magic == h.magic);
    CHECK(back->version == h.version);
    CHECK(back->flags == h.flags);
    CHECK(back->address == h.address);
    CHECK(mem.readObject<uint64_t>(kVgaHoleStart - 4).error().code == EFAULT);
}
