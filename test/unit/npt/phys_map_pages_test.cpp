// PhysMap page-granular changes: overlays in holes and over RAM, RAM splits,
// moves, discards and the bookkeeping the Xen memory ops rely on.

#include "npt/guest_memory.h"
#include "npt/phys_map.h"
#include "test/unit/npt/fake_memslot_backend.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

using namespace basalt;
using namespace basalt::npt;
using basalt::npt::test::FakeMemslotBackend;

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

std::unique_ptr<PhysMap> makeMap(FakeMemslotBackend& backend, uint64_t ram = 16 * kMiB) {
    auto map = PhysMap::create(backend, ram);
    REQUIRE(map.ok());
    return std::move(map).value();
}

// A one-page overlay owned by the test, like shared_info.
struct OverlayPage {
    int fd = ::memfd_create("overlay", 0);
    uint8_t* hva = nullptr;
    OverlayPage() {
        REQUIRE(fd >= 0);
        REQUIRE(::ftruncate(fd, kPageSize) == 0);
        hva = static_cast<uint8_t*>(
            ::mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
        REQUIRE(hva != MAP_FAILED);
    }
    ~OverlayPage() {
        ::munmap(hva, kPageSize);
        ::close(fd);
    }
    PageSource source() const { return PageSource{RegionKind::Overlay, fd, 0, hva}; }
};

} // namespace

TEST_CASE("an overlay fills a hole in the MMIO range", "[npt][pages]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend);
    GuestMemory memory(*map);
    OverlayPage page;
    page.hva[5] = 0x5A;
    uint64_t gpa = 0xFDFFF000;
    REQUIRE_FALSE(map->pageAt(gpa).ok());
    auto id = map->mapPage(gpa, page.source(), "shared-info");
    REQUIRE(id.ok());
    CHECK(backend.slotAt(gpa) != nullptr);
    CHECK(memory.readObject<uint8_t>(gpa + 5).value() == 0x5A);
    REQUIRE(memory.writeObject<uint8_t>(gpa + 6, 0x33).ok());
    CHECK(page.hva[6] == 0x33);
    CHECK(map->pageAt(gpa)->kind == RegionKind::Overlay);
    CHECK(map->maxMappedEnd() == gpa + kPageSize);
    // A second page at the same gpa is refused.
    CHECK(map->mapPage(gpa, page.source(), "again").error().code == EEXIST);
    // Unmapping gives the hole back.
    REQUIRE(map->unmapPage(gpa).ok());
    CHECK(backend.slotAt(gpa) == nullptr);
    CHECK_FALSE(memory.readObject<uint8_t>(gpa).ok());
}

TEST_CASE("an overlay over RAM splits the region and hides the RAM page", "[npt][pages]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend);
    GuestMemory memory(*map);
    uint64_t before = map->ramPagesMapped();
    uint64_t gpa = 0x200000;
    REQUIRE(memory.writeObject<uint32_t>(gpa, 0x11223344).ok());
    REQUIRE(memory.writeObject<uint32_t>(gpa + kPageSize, 0x55667788).ok());
    auto removed = map->unmapPage(gpa);
    REQUIRE(removed.ok());
    CHECK(removed->kind == RegionKind::Ram);
    CHECK(removed->fdOffset == gpa);
    CHECK(map->ramPagesMapped() == before - 1);
    CHECK_FALSE(memory.readObject<uint32_t>(gpa).ok());
    // The neighbours keep their contents and slots.
    CHECK(memory.readObject<uint32_t>(gpa + kPageSize).value() == 0x55667788);
    CHECK(memory.readObject<uint32_t>(gpa - 4).ok());
    CHECK(backend.slotAt(gpa - kPageSize) != nullptr);
    CHECK(backend.slotAt(gpa + kPageSize) != nullptr);

    OverlayPage page;
    REQUIRE(map->mapPage(gpa, page.source(), "shared-info").ok());
    CHECK(memory.readObject<uint32_t>(gpa).value() == 0);
    // The RAM page still exists in the memfd at its home offset.
    CHECK(map->ramHomeOffset(gpa).value() == gpa);
    CHECK_FALSE(map->ramOffsetMapped(gpa));
}

TEST_CASE("a RAM page moves to another gpfn with its contents", "[npt][pages]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend);
    GuestMemory memory(*map);
    uint64_t src = 0xF00000, dst = 0xFC000000;
    REQUIRE(memory.writeObject<uint64_t>(src + 8, 0xC0FFEE).ok());
    auto page = map->unmapPage(src);
    REQUIRE(page.ok());
    REQUIRE(map->mapPage(dst, *page, "ram").ok());
    CHECK(memory.readObject<uint64_t>(dst + 8).value() == 0xC0FFEE);
    CHECK(map->pageAt(dst)->kind == RegionKind::Ram);
    CHECK(map->ramOffsetMapped(src));
    CHECK(map->ramPagePointer(dst).value() == map->ramPage(src).hva);
    CHECK(map->ramPagesMapped() * kPageSize + 0x20000 == 16 * kMiB);
}

TEST_CASE("first and last pages of a region and single-page regions", "[npt][pages]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend);
    GuestMemory memory(*map);
    REQUIRE(map->unmapPage(0).ok());
    REQUIRE(map->unmapPage(kVgaHoleStart - kPageSize).ok());
    CHECK(memory.readObject<uint8_t>(kPageSize).ok());
    CHECK_FALSE(memory.readObject<uint8_t>(0).ok());
    REQUIRE(map->unmapPage(map->lowRamEnd() - kPageSize).ok());
    CHECK(map->unmapPage(map->lowRamEnd() - kPageSize).error().code == ENOENT);
    CHECK(map->unmapPage(123).error().code == EINVAL);
    // Re-populating puts the home page back.
    auto home = map->ramHomeOffset(0);
    REQUIRE(home.ok());
    REQUIRE(map->mapPage(0, map->ramPage(*home), "ram").ok());
    CHECK(memory.readObject<uint8_t>(0).ok());
}

TEST_CASE("discarded RAM reads as zero", "[npt][pages]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend);
    GuestMemory memory(*map);
    uint64_t gpa = 0x300000;
    REQUIRE(memory.writeObject<uint64_t>(gpa, ~0ull).ok());
    auto page = map->unmapPage(gpa);
    REQUIRE(page.ok());
    REQUIRE(map->discardRamPage(page->fdOffset).ok());
    REQUIRE(map->mapPage(gpa, *page, "ram").ok());
    CHECK(memory.readObject<uint64_t>(gpa).value() == 0);
    CHECK_FALSE(map->discardRamPage(16 * kMiB).ok());
}

TEST_CASE("ROM pages and RAM home offsets", "[npt][pages]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend);
    std::vector<uint8_t> rom(kPageSize, 0x90);
    REQUIRE(map->addRom(0xFFFFF000, rom, "bios").ok());
    CHECK(map->unmapPage(0xFFFFF000).error().code == EPERM);
    CHECK_FALSE(map->ramPagePointer(0xFFFFF000).ok());
    CHECK(map->ramHomeOffset(0xB0000).error().code == ENOENT);
    CHECK(map->ramHomeOffset(0xF0000000).error().code == ENOENT);
    CHECK(map->mapPage(kGuestPhysLimit, map->ramPage(0), "far").error().code == EINVAL);
}

TEST_CASE("a failed split restores the region", "[npt][pages]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend);
    GuestMemory memory(*map);
    uint64_t gpa = 0x400000;
    REQUIRE(memory.writeObject<uint32_t>(gpa, 7).ok());
    uint64_t pages = map->ramPagesMapped();
    backend.failNextSetSlot = ENOMEM;
    CHECK_FALSE(map->unmapPage(gpa).ok());
    CHECK(map->ramPagesMapped() == pages);
    CHECK(memory.readObject<uint32_t>(gpa).value() == 7);
    CHECK(backend.slotAt(gpa) != nullptr);
}

TEST_CASE("running out of memslots fails cleanly", "[npt][pages]") {
    FakeMemslotBackend backend(6);
    auto map = makeMap(backend);
    GuestMemory memory(*map);
    int failures = 0;
    for (uint64_t gpa = 0x200000; gpa < 0x220000; gpa += 2 * kPageSize)
        failures += map->unmapPage(gpa).ok() ? 0 : 1;
    CHECK(failures > 0);
    // Whatever is still mapped is readable; nothing dangles.
    for (const auto& region : map->regions())
        CHECK(memory.readObject<uint8_t>(region.gpa).ok());
}

TEST_CASE("a split of a dirty-logged region keeps logging", "[npt][pages]") {
    FakeMemslotBackend backend;
    auto map = makeMap(backend);
    auto low = map->regionAt(0x200000);
    REQUIRE(low.ok());
    REQUIRE(map->setDirtyLogging(low->id, true).ok());
    REQUIRE(map->unmapPage(0x200000).ok());
    auto left = map->regionAt(0x1FF000);
    auto right = map->regionAt(0x201000);
    REQUIRE(left.ok());
    REQUIRE(right.ok());
    CHECK(left->dirtyLogging);
    CHECK(right->dirtyLogging);
    auto dirty = map->fetchDirtyPages(0x1FF000, 1);
    REQUIRE(dirty.ok());
    CHECK(dirty->size() == 1); // conservatively dirty after the split
}
