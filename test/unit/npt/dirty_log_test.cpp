// Dirty logging: PhysMap's per-region switch, region bitmaps and page windows
// over the accumulated bitmaps.

#include "npt/guest_memory.h"
#include "npt/phys_map.h"
#include "test/unit/npt/fake_memslot_backend.h"

#include <catch2/catch.hpp>

#include <vector>

using namespace basalt;
using namespace basalt::npt;
using basalt::npt::test::FakeMemslotBackend;
using Catch::Matchers::Contains;
using Pfns = std::vector<uint64_t>;

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kRam = 16 * kMiB;
constexpr uint64_t kLowPfn = kVgaHoleEnd >> kPageShift; // first page of ram-low

struct Guest {
    FakeMemslotBackend backend;
    std::unique_ptr<PhysMap> map;
    GuestMemory* mem = nullptr;
    std::unique_ptr<GuestMemory> memOwner;
    RegionId base = 0;
    RegionId low = 0;

    Guest() {
        auto created = PhysMap::create(backend, kRam);
        REQUIRE(created.ok());
        map = std::move(created).value();
        memOwner = std::make_unique<GuestMemory>(*map);
        mem = memOwner.get();
        base = map->regionAt(0)->id;
        low = map->regionAt(kVgaHoleEnd)->id;
    }

    void logAll() {
        REQUIRE(map->setDirtyLogging(base, true).ok());
        REQUIRE(map->setDirtyLogging(low, true).ok());
    }

    void guestTouch(uint64_t pfn) { REQUIRE(backend.guestWriteByte(pfn << kPageShift, 1)); }

    Pfns window(uint64_t firstPfn, uint64_t pages) {
        auto pfns = map->fetchDirtyPages(firstPfn << kPageShift, pages);
        REQUIRE(pfns.ok());
        return *pfns;
    }
};

bool bitSet(const std::vector<uint64_t>& bitmap, uint64_t page) {
    return (bitmap[page / 64] >> (page % 64)) & 1;
}

size_t bitsSet(const std::vector<uint64_t>& bitmap) {
    size_t n = 0;
    for (uint64_t w : bitmap)
        n += static_cast<size_t>(__builtin_popcountll(w));
    return n;
}

} // namespace

TEST_CASE("dirty logging switches the memslot flag", "[npt]") {
    Guest g;
    uint32_t slot = g.map->region(g.low)->slot;
    CHECK_FALSE(g.backend.slots[slot].logDirty);
    REQUIRE(g.map->setDirtyLogging(g.low, true).ok());
    CHECK(g.backend.slots[slot].logDirty);
    CHECK(g.map->region(g.low)->dirtyLogging);
    size_t calls = g.backend.calls.size();
    REQUIRE(g.map->setDirtyLogging(g.low, true).ok()); // already on: no slot change
    CHECK(g.backend.calls.size() == calls);
    REQUIRE(g.map->setDirtyLogging(g.low, false).ok());
    CHECK_FALSE(g.backend.slots[slot].logDirty);
    CHECK(g.map->setDirtyLogging(12345, true).error().code == ENOENT);
}

TEST_CASE("ROMs have no dirty log", "[npt]") {
    Guest g;
    auto rom = g.map->addRom(0xFFFF0000, std::vector<uint8_t>(kPageSize, 1), "bios");
    REQUIRE(rom.ok());
    Status s = g.map->setDirtyLogging(*rom, true);
    CHECK(s.error().code == EINVAL);
    CHECK_THAT(s.error().message, Contains("'bios' is read-only"));
}

TEST_CASE("a region bitmap is fetched and cleared", "[npt]") {
    Guest g;
    CHECK(g.map->fetchDirtyBitmap(g.low).error().code == EINVAL); // logging off
    g.logAll();
    auto empty = g.map->fetchDirtyBitmap(g.low);
    REQUIRE(empty.ok());
    CHECK(empty->size() == ((kRam - kVgaHoleEnd) / kPageSize + 63) / 64);
    CHECK(bitsSet(*empty) == 0);

    g.guestTouch(kLowPfn + 0);
    g.guestTouch(kLowPfn + 5);
    g.guestTouch(kLowPfn + 70);
    auto bitmap = g.map->fetchDirtyBitmap(g.low);
    REQUIRE(bitmap.ok());
    CHECK(bitsSet(*bitmap) == 3);
    CHECK(bitSet(*bitmap, 0));
    CHECK(bitSet(*bitmap, 5));
    CHECK(bitSet(*bitmap, 70));

    auto again = g.map->fetchDirtyBitmap(g.low);
    REQUIRE(again.ok());
    CHECK(bitsSet(*again) == 0);
}

TEST_CASE("a window fetch returns and clears only the window", "[npt]") {
    Guest g;
    g.logAll();
    const uint64_t inside = kLowPfn + 10;
    const uint64_t outside = kLowPfn + 200;
    g.guestTouch(inside);
    g.guestTouch(inside); // the same page twice is one page
    g.guestTouch(outside);

    CHECK(g.window(kLowPfn, 100) == Pfns{inside});
    CHECK(g.window(kLowPfn, 100).empty()); // a second fetch returns nothing
    // The page outside the first window was pulled from the hypervisor by it,
    // but stays dirty for a later window.
    CHECK(g.window(kLowPfn + 100, 200) == Pfns{outside});
    CHECK(g.window(kLowPfn, 1000).empty());
    auto bitmap = g.map->fetchDirtyBitmap(g.low);
    REQUIRE(bitmap.ok());
    CHECK(bitsSet(*bitmap) == 0);
}

TEST_CASE("a window may span regions and holes", "[npt]") {
    Guest g;
    g.logAll();
    const uint64_t lastBasePfn = (kVgaHoleStart >> kPageShift) - 1;
    g.guestTouch(0);
    g.guestTouch(lastBasePfn);
    g.guestTouch(kLowPfn);
    g.guestTouch(kLowPfn + 64); // in the next bitmap word
    // The window covers ram-base, the VGA hole and the start of ram-low.
    CHECK(g.window(0, (kVgaHoleEnd >> kPageShift) + 65) ==
          Pfns{0, lastBasePfn, kLowPfn, kLowPfn + 64});

    // Windows may also start and end in holes and beyond RAM.
    g.guestTouch((kRam >> kPageShift) - 1);
    CHECK(g.window((kVgaHoleStart >> kPageShift) + 1, 4).empty());
    CHECK(g.window((kRam >> kPageShift) - 1, 1000) == Pfns{(kRam >> kPageShift) - 1});
}

TEST_CASE("bits survive across fetches of different windows of one word", "[npt]") {
    Guest g;
    g.logAll();
    for (uint64_t i = 0; i < 8; ++i)
        g.guestTouch(kLowPfn + i);
    CHECK(g.window(kLowPfn + 2, 3) == Pfns{kLowPfn + 2, kLowPfn + 3, kLowPfn + 4});
    g.guestTouch(kLowPfn + 3);
    CHECK(g.window(kLowPfn, 8) ==
          Pfns{kLowPfn, kLowPfn + 1, kLowPfn + 3, kLowPfn + 5, kLowPfn + 6, kLowPfn + 7});
}

TEST_CASE("host writes through GuestMemory are logged", "[npt]") {
    Guest g;
    g.logAll();
    std::vector<uint8_t> bytes(kPageSize + 2, 7);
    REQUIRE(g.mem->write((kLowPfn + 3) * kPageSize - 1, bytes).ok()); // touches 3 pages
    REQUIRE(g.mem->fill((kLowPfn + 20) * kPageSize, 0, 1).ok());
    REQUIRE(g.mem->copy((kLowPfn + 30) * kPageSize, 0x1000, 16).ok());
    REQUIRE(g.mem->writeObject<uint32_t>(0x1000, 5).ok());
    CHECK(g.window(0, kRam >> kPageShift) ==
          Pfns{1, kLowPfn + 2, kLowPfn + 3, kLowPfn + 4, kLowPfn + 20, kLowPfn + 30});
    // Reads do not dirty anything.
    std::vector<uint8_t> buf(64);
    REQUIRE(g.mem->read(0x2000, buf).ok());
    CHECK(g.window(0, kRam >> kPageShift).empty());
}

TEST_CASE("a window touching a region without logging fails and consumes nothing", "[npt]") {
    Guest g;
    REQUIRE(g.map->setDirtyLogging(g.low, true).ok());
    g.guestTouch(kLowPfn + 1);
    auto failed = g.map->fetchDirtyPages(0, kLowPfn + 10);
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().code == EINVAL);
    CHECK_THAT(failed.error().message, Contains("'ram-base', which has dirty logging off"));
    CHECK(g.window(kLowPfn, 10) == Pfns{kLowPfn + 1});
}

TEST_CASE("read-only regions in a window contribute nothing", "[npt]") {
    Guest g;
    g.logAll();
    REQUIRE(g.map->addRom(kRam, std::vector<uint8_t>(kPageSize, 1), "after-ram").ok());
    g.guestTouch((kRam >> kPageShift) - 1);
    CHECK(g.window((kRam >> kPageShift) - 1, 4) == Pfns{(kRam >> kPageShift) - 1});
}

TEST_CASE("bad windows are rejected", "[npt]") {
    Guest g;
    g.logAll();
    CHECK(g.map->fetchDirtyPages(0x1000, 0).ok());
    CHECK(g.map->fetchDirtyPages(0x1000, 0)->empty());
    auto unaligned = g.map->fetchDirtyPages(0x1001, 1);
    CHECK(unaligned.error().code == EINVAL);
    CHECK_THAT(unaligned.error().message, Contains("0x1001 is not 4 KiB aligned"));
    auto wraps = g.map->fetchDirtyPages(0xFFFFFFFFFFFFF000, 2);
    CHECK(wraps.error().code == EINVAL);
    CHECK_THAT(wraps.error().message, Contains("wraps"));
    CHECK(g.map->fetchDirtyPages(0xFFFFFFFFFFFFF000, 1).ok()); // the very last page
    CHECK(g.map->fetchDirtyPages(0, uint64_t{1} << 52).ok());  // the whole address space
}

TEST_CASE("turning logging off drops the log, turning it on starts clean", "[npt]") {
    Guest g;
    g.logAll();
    g.guestTouch(kLowPfn + 1);
    REQUIRE(g.mem->fill((kLowPfn + 2) * kPageSize, 0, 1).ok());
    CHECK(g.window(kLowPfn + 1, 1) == Pfns{kLowPfn + 1}); // pulls page 2 into the bitmap too
    REQUIRE(g.map->setDirtyLogging(g.low, false).ok());
    REQUIRE(g.map->setDirtyLogging(g.low, true).ok());
    CHECK(g.window(kLowPfn, 100).empty());
}

TEST_CASE("a failed hypervisor fetch consumes nothing", "[npt]") {
    Guest g;
    g.logAll();
    g.guestTouch(1);
    // Simulate the hypervisor losing the log of ram-low.
    g.backend.logs.erase(g.map->region(g.low)->slot);
    auto failed = g.map->fetchDirtyPages(0, kLowPfn + 1);
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().code == ENOENT);
    CHECK(g.window(0, 2) == Pfns{1});
}
