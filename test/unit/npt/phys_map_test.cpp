// PhysMap: layout, validation, ROMs, memslot management.

#include "npt/guest_memory.h"
#include "npt/phys_map.h"
#include "test/unit/npt/fake_memslot_backend.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <fcntl.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace basalt;
using namespace basalt::npt;
using basalt::npt::test::FakeMemslotBackend;
using Catch::Matchers::Contains;

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

std::unique_ptr<PhysMap> makeMap(FakeMemslotBackend& backend, uint64_t ram,
                                 uint64_t hole = kDefaultMmioHoleStart) {
    auto map = PhysMap::create(backend, ram, hole);
    REQUIRE(map.ok());
    return std::move(map).value();
}

std::vector<uint8_t> pattern(size_t size, uint8_t seed) {
    std::vector<uint8_t> bytes(size);
    for (size_t i = 0; i < size; ++i)
        bytes[i] = static_cast<uint8_t>(seed + i * 7);
    return bytes;
}

} // namespace

TEST_CASE("RAM below the MMIO hole is two slots around the VGA hole", "[npt]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend, 64 * kMiB);

    auto regions = map->regions();
    REQUIRE(regions.size() == 2);
    CHECK(regions[0].name == "ram-base");
    CHECK(regions[0].gpa == 0);
    CHECK(regions[0].size == kVgaHoleStart);
    CHECK(regions[1].name == "ram-low");
    CHECK(regions[1].gpa == kVgaHoleEnd);
    CHECK(regions[1].size == 64 * kMiB - kVgaHoleEnd);
    for (const auto& r : regions) {
        CHECK(r.kind == RegionKind::Ram);
        CHECK_FALSE(r.readOnly);
        CHECK(r.fd == map->ramFd());
        CHECK(r.fdOffset == r.gpa); // low RAM: memfd offset == gpa
        const MemslotSpec* spec = backend.slotAt(r.gpa);
        REQUIRE(spec);
        CHECK(spec->slot == r.slot);
        CHECK(spec->size == r.size);
        CHECK(spec->hva == r.hva);
        CHECK_FALSE(spec->readOnly);
    }
    // One mapping of one memfd: hva offsets follow memfd offsets.
    CHECK(regions[1].hva - regions[0].hva == static_cast<ptrdiff_t>(kVgaHoleEnd));
    CHECK(backend.slots.size() == 2);

    CHECK(map->ramBytes() == 64 * kMiB);
    CHECK(map->lowRamEnd() == 64 * kMiB);
    CHECK(map->highRamEnd() == kHighRamBase);
    CHECK(map->mmioHoleStart() == kDefaultMmioHoleStart);
}

TEST_CASE("the VGA hole and the MMIO hole are not RAM", "[npt]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend, 64 * kMiB);
    CHECK(map->regionAt(kVgaHoleStart - 1).ok());
    CHECK(map->regionAt(kVgaHoleStart).error().code == ENOENT);
    CHECK(map->regionAt(kVgaHoleEnd - 1).error().code == ENOENT);
    CHECK(map->regionAt(kVgaHoleEnd).ok());
    CHECK(map->regionAt(64 * kMiB - 1).ok());
    CHECK(map->regionAt(64 * kMiB).error().code == ENOENT);
    CHECK(map->regionAt(kHighRamBase).error().code == ENOENT);
    CHECK(backend.slotAt(kVgaHoleStart) == nullptr);
}

TEST_CASE("the RAM memfd is sized, sealed and close-on-exec", "[npt]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend, 64 * kMiB);
    struct stat st {};
    REQUIRE(::fstat(map->ramFd(), &st) == 0);
    CHECK(static_cast<uint64_t>(st.st_size) == 64 * kMiB);
    int seals = ::fcntl(map->ramFd(), F_GET_SEALS);
    CHECK((seals & F_SEAL_SHRINK) != 0);
    CHECK(::ftruncate(map->ramFd(), 4096) < 0);
    CHECK((::fcntl(map->ramFd(), F_GETFD) & FD_CLOEXEC) != 0);
}

TEST_CASE("RAM above the MMIO hole continues at 4 GiB", "[npt]") {
    FakeMemslotBackend backend;
    const uint64_t ram = 5 * kGiB;
    auto map = makeMap(backend, ram);

    auto regions = map->regions();
    REQUIRE(regions.size() == 3);
    CHECK(regions[1].gpa == kVgaHoleEnd);
    CHECK(regions[1].size == kDefaultMmioHoleStart - kVgaHoleEnd);
    CHECK(regions[2].name == "ram-high");
    CHECK(regions[2].gpa == kHighRamBase);
    CHECK(regions[2].size == ram - kDefaultMmioHoleStart);
    CHECK(regions[2].fdOffset == kDefaultMmioHoleStart);
    CHECK(map->lowRamEnd() == kDefaultMmioHoleStart);
    CHECK(map->highRamEnd() == kHighRamBase + ram - kDefaultMmioHoleStart);
    CHECK(map->regionAt(kDefaultMmioHoleStart).error().code == ENOENT);
    CHECK(map->regionAt(map->highRamEnd() - 1).ok());
    CHECK(map->regionAt(map->highRamEnd()).error().code == ENOENT);
    CHECK(backend.slots.size() == 3);

    // What the VMM writes at a high gpa is at the region's memfd offset, where
    // the device model will see it.
    GuestMemory mem(*map);
    auto bytes = pattern(100, 3);
    REQUIRE(mem.write(kHighRamBase + 0x1234, bytes).ok());
    std::vector<uint8_t> viaFd(bytes.size());
    REQUIRE(::pread(map->ramFd(), viaFd.data(), viaFd.size(),
                    static_cast<off_t>(kDefaultMmioHoleStart + 0x1234)) ==
            static_cast<ssize_t>(viaFd.size()));
    CHECK(viaFd == bytes);
}

TEST_CASE("a custom MMIO hole moves the split", "[npt]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend, 3 * kGiB, 2 * kGiB);
    auto regions = map->regions();
    REQUIRE(regions.size() == 3);
    CHECK(regions[1].gpa + regions[1].size == 2 * kGiB);
    CHECK(regions[2].gpa == kHighRamBase);
    CHECK(regions[2].size == kGiB);
    CHECK(regions[2].fdOffset == 2 * kGiB);
}

TEST_CASE("RAM that exactly fills the space below the hole has no high part", "[npt]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend, 2 * kGiB, 2 * kGiB);
    CHECK(map->regions().size() == 2);
    CHECK(map->highRamEnd() == kHighRamBase);
}

TEST_CASE("invalid RAM sizes and holes are rejected with a clear message", "[npt]") {
    FakeMemslotBackend backend;
    auto expectError = [&](uint64_t ram, uint64_t hole, const char* words) {
        auto map = PhysMap::create(backend, ram, hole);
        REQUIRE_FALSE(map.ok());
        CHECK(map.error().code == EINVAL);
        CHECK_THAT(map.error().message, Contains(words));
        CHECK(backend.slots.empty());
    };
    expectError(kMiB + 1, kDefaultMmioHoleStart, "1048577 bytes is not a multiple of 4 KiB");
    expectError(512 * 1024, kDefaultMmioHoleStart, "524288 bytes is below the minimum of 1 MiB");
    expectError(2048 * kGiB, kDefaultMmioHoleStart, "is above the maximum of 1 TiB");
    expectError(0, kDefaultMmioHoleStart, "0 bytes is below the minimum");
    expectError(64 * kMiB, 0xF0000001, "MMIO hole start 0xf0000001 is not 4 KiB aligned");
    expectError(64 * kMiB, 5 * kGiB, "MMIO hole start 0x140000000 is outside [1 MiB, 4 GiB]");
    expectError(64 * kMiB, 0x80000, "MMIO hole start 0x80000 is outside");
}

TEST_CASE("a hole at 4 GiB leaves low and high RAM contiguous", "[npt]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend, 4 * kGiB + 64 * kMiB, kHighRamBase);
    auto regions = map->regions();
    REQUIRE(regions.size() == 3);
    CHECK(regions[1].gpa + regions[1].size == kHighRamBase);
    CHECK(regions[2].gpa == kHighRamBase);
    CHECK(regions[2].size == 64 * kMiB);
}

TEST_CASE("ROMs are read-only slots rounded up to pages", "[npt]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend, 64 * kMiB);
    auto contents = pattern(5000, 1);
    auto id = map->addRom(0xFFFC0000, contents, "bios");
    REQUIRE(id.ok());

    auto info = map->region(*id);
    REQUIRE(info.ok());
    CHECK(info->name == "bios");
    CHECK(info->kind == RegionKind::Rom);
    CHECK(info->gpa == 0xFFFC0000);
    CHECK(info->size == 2 * kPageSize);
    CHECK(info->readOnly);
    CHECK(info->fd >= 0);
    CHECK(info->fd != map->ramFd());
    const MemslotSpec* spec = backend.slotAt(0xFFFC0000);
    REQUIRE(spec);
    CHECK(spec->readOnly);
    CHECK(spec->size == 2 * kPageSize);
    CHECK_FALSE(backend.guestWriteByte(0xFFFC0000, 1));

    GuestMemory mem(*map);
    std::vector<uint8_t> back(2 * kPageSize);
    REQUIRE(mem.read(0xFFFC0000, back).ok());
    CHECK(std::equal(contents.begin(), contents.end(), back.begin()));
    CHECK(std::all_of(back.begin() + 5000, back.end(), [](uint8_t b) { return b == 0; }));
    CHECK(map->regions().size() == 3);
}

TEST_CASE("ROM arguments are validated", "[npt]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend, 64 * kMiB);
    auto page = pattern(kPageSize, 9);

    auto inRam = map->addRom(0x100000, page, "inside-ram");
    REQUIRE_FALSE(inRam.ok());
    CHECK(inRam.error().code == EEXIST);
    CHECK_THAT(inRam.error().message, Contains("'inside-ram'"));
    CHECK_THAT(inRam.error().message, Contains("overlaps region 'ram-low'"));

    // A ROM ending exactly where RAM starts is fine; one page further is not.
    CHECK(map->addRom(kVgaHoleEnd - kPageSize, page, "vga-top").ok());
    auto straddle = map->addRom(kVgaHoleEnd - 2 * kPageSize, pattern(2 * kPageSize, 1), "x");
    CHECK(straddle.error().code == EEXIST);

    REQUIRE(map->addRom(0xFFFF0000, page, "first").ok());
    auto again = map->addRom(0xFFFEF000, pattern(2 * kPageSize, 2), "second");
    CHECK(again.error().code == EEXIST);
    CHECK_THAT(again.error().message, Contains("overlaps region 'first'"));
    CHECK(map->addRom(0xFFFEF000, page, "adjacent").ok());

    auto unaligned = map->addRom(0xFFFE0001, page, "odd");
    CHECK(unaligned.error().code == EINVAL);
    CHECK_THAT(unaligned.error().message, Contains("0xfffe0001 is not 4 KiB aligned"));
    CHECK(map->addRom(0xFFFE0000, {}, "empty").error().code == EINVAL);
    CHECK(map->addRom(kGuestPhysLimit - kPageSize, pattern(2 * kPageSize, 1), "far").error().code ==
          EINVAL);
    CHECK(map->addRom(0xFFFFFFFFFFFFF000, page, "top").error().code == EINVAL);
    CHECK(map->addRom(kGuestPhysLimit - kPageSize, page, "last-page").ok());
}

TEST_CASE("ROMs can be removed, RAM cannot", "[npt]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend, 64 * kMiB);
    auto id = map->addRom(0xFFFF0000, pattern(kPageSize, 1), "bios");
    REQUIRE(id.ok());
    uint32_t slot = map->region(*id)->slot;

    REQUIRE(map->removeRegion(*id).ok());
    CHECK(backend.calls.back().kind == FakeMemslotBackend::Call::Kind::Remove);
    CHECK(backend.calls.back().slot == slot);
    CHECK(backend.slotAt(0xFFFF0000) == nullptr);
    CHECK(map->regionAt(0xFFFF0000).error().code == ENOENT);
    CHECK(map->removeRegion(*id).error().code == ENOENT);

    auto ram = map->regionAt(0);
    REQUIRE(ram.ok());
    auto removeRam = map->removeRegion(ram->id);
    CHECK(removeRam.error().code == EPERM);
    CHECK_THAT(removeRam.error().message, Contains("'ram-base'"));

    // The freed slot number is reused; the id is not.
    auto again = map->addRom(0xFFFF0000, pattern(kPageSize, 1), "bios");
    REQUIRE(again.ok());
    CHECK(*again != *id);
    CHECK(map->region(*again)->slot == slot);
}

TEST_CASE("memslot limits are respected", "[npt]") {
    SECTION("RAM that needs more slots than the backend has") {
        FakeMemslotBackend backend(2);
        auto map = PhysMap::create(backend, 5 * kGiB);
        REQUIRE_FALSE(map.ok());
        CHECK(map.error().code == ENOSPC);
        CHECK_THAT(map.error().message, Contains("all 2 slots are in use"));
        CHECK(backend.slots.empty()); // the slots set so far were removed
    }
    SECTION("ROMs up to the limit") {
        FakeMemslotBackend backend(3);
        auto map = makeMap(backend, 64 * kMiB);
        auto first = map->addRom(0xFFFF0000, pattern(kPageSize, 1), "one");
        REQUIRE(first.ok());
        auto second = map->addRom(0xFFFE0000, pattern(kPageSize, 1), "two");
        REQUIRE_FALSE(second.ok());
        CHECK(second.error().code == ENOSPC);
        CHECK_THAT(second.error().message, Contains("'two'"));
        REQUIRE(map->removeRegion(*first).ok());
        CHECK(map->addRom(0xFFFE0000, pattern(kPageSize, 1), "two").ok());
        for (const auto& [slot, spec] : backend.slots)
            CHECK(slot < 3);
    }
}

TEST_CASE("a backend failure leaves no trace", "[npt]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend, 64 * kMiB);
    backend.failNextSetSlot = ENOMEM;
    auto failed = map->addRom(0xFFFF0000, pattern(kPageSize, 1), "bios");
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().code == ENOMEM);
    CHECK_THAT(failed.error().message, Contains("injected"));
    CHECK(map->regions().size() == 2);
    CHECK(map->regionAt(0xFFFF0000).error().code == ENOENT);
    auto ok = map->addRom(0xFFFF0000, pattern(kPageSize, 1), "bios");
    REQUIRE(ok.ok());
    CHECK(map->region(*ok)->slot == 2); // the failed attempt's slot was freed
}

TEST_CASE("destroying the map removes its memslots", "[npt]") {
    FakeMemslotBackend backend;
    {
        auto map = makeMap(backend, 5 * kGiB);
        REQUIRE(map->addRom(0xFFFF0000, pattern(kPageSize, 1), "bios").ok());
        CHECK(backend.slots.size() == 4);
    }
    CHECK(backend.slots.empty());
}

TEST_CASE("lookups run concurrently with ROM changes", "[npt]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend, 16 * kMiB);
    GuestMemory mem(*map);
    const uint64_t romGpa = 0xFFFF0000;
    auto rom = pattern(kPageSize, 0x5A);
    std::atomic<bool> stop{false};
    std::atomic<int> reads{0};
    std::atomic<bool> wrong{false};

    std::vector<std::thread> readers;
    for (int t = 0; t < 2; ++t) {
        readers.emplace_back([&] {
            std::vector<uint8_t> buf(kPageSize);
            while (!stop.load()) {
                // Either the ROM is there with its contents, or the read faults.
                Status s = mem.read(romGpa, buf);
                if (s.ok() && buf != rom)
                    wrong = true;
                if (!s.ok() && s.error().code != EFAULT)
                    wrong = true;
                ++reads;
            }
        });
    }
    // Start changing the layout only once both readers run: on a loaded
    // machine they may otherwise not be scheduled before the loop ends.
    while (reads.load() < 2)
        std::this_thread::yield();
    bool layoutOk = true;
    for (int i = 0; i < 200 && layoutOk; ++i) {
        auto id = map->addRom(romGpa, rom, "flicker");
        layoutOk = id.ok() && map->removeRegion(*id).ok();
    }
    stop = true;
    for (auto& t : readers)
        t.join();
    CHECK(layoutOk);
    CHECK_FALSE(wrong.load());
    CHECK(reads.load() > 0);
}
