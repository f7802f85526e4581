// XenMemory: the p2m changes behind memory_op, memory accounting, E820,
// and pvclock placement.

#include "npt/guest_memory.h"
#include "npt/phys_map.h"
#include "test/unit/npt/fake_memslot_backend.h"
#include "vmm/xen/xen_memory.h"

#include <catch2/catch.hpp>

using namespace basalt;
using namespace basalt::xen;
using basalt::npt::test::FakeMemslotBackend;

namespace {

constexpr uint64_t kRam = 16 << 20;
constexpr uint64_t kVgaPages = 32;

struct Fixture {
    FakeMemslotBackend backend{64};
    std::unique_ptr<npt::PhysMap> map = npt::PhysMap::create(backend, kRam).value();
    npt::GuestMemory memory{*map};
    std::unique_ptr<XenMemory> mem;
    Fixture() {
        XenMemory::Config config;
        config.vcpuCount = 2;
        mem = XenMemory::create(config, *map, 1000).value();
    }
    uint64_t readU64(uint64_t gpa) { return memory.readObject<uint64_t>(gpa).value(); }
};

} // namespace

TEST_CASE("accounting starts at the populated RAM", "[xen][memory]") {
    Fixture f;
    CHECK(f.mem->totPages() == kRam / 4096 - kVgaPages);
    CHECK(f.mem->maxPages() == f.mem->totPages());
    CHECK(f.mem->maxGpfn() == kRam / 4096 - 1);
    auto e820 = f.mem->e820();
    REQUIRE(e820.size() == 2);
    CHECK(e820[0].addr == 0);
    CHECK(e820[0].size == 0xA0000);
    CHECK(e820[1].addr == 0xC0000);
    CHECK(e820[1].addr + e820[1].size == kRam);
    CHECK(e820[1].type == kE820Ram);
}

TEST_CASE("shared_info in the hole, then moved onto RAM", "[xen][memory]") {
    Fixture f;
    uint64_t tot = f.mem->totPages();
    REQUIRE(f.mem->addToPhysmap(XENMAPSPACE_shared_info, 0, 0xFDFFF) == 0);
    CHECK(f.mem->sharedInfoGfn() == 0xFDFFFu);
    CHECK(f.mem->totPages() == tot);
    CHECK(f.mem->maxGpfn() == 0xFDFFF);
    f.mem->refreshAllTime();
    // vcpu_info[0].time at offset 0x20: even version, sane scale.
    auto t = f.memory.readObject<vcpu_time_info_t>(0xFDFFF000 + SharedInfo::kTimeOffset);
    REQUIRE(t.ok());
    CHECK(t->version % 2 == 0);
    CHECK(t->version > 0);
    CHECK(t->tsc_to_system_mul != 0);
    // Moving it onto RAM frees that RAM page and empties the hole.
    REQUIRE(f.mem->addToPhysmap(XENMAPSPACE_shared_info, 0, 0x500) == 0);
    CHECK_FALSE(f.map->pageAt(0xFDFFF000).ok());
    CHECK(f.map->pageAt(0x500000)->kind == npt::RegionKind::Overlay);
    CHECK(f.mem->totPages() == tot - 1);
    CHECK(f.mem->addToPhysmap(XENMAPSPACE_shared_info, 1, 0x600) == -XEN_EINVAL);
    CHECK(f.mem->addToPhysmap(XENMAPSPACE_shared_info, 0, 0x500) == 0); // no-op
    CHECK(f.mem->addToPhysmap(77, 0, 0x600) == -XEN_EINVAL);
}

TEST_CASE("grant frames map like Xen's gnttab_map_frame", "[xen][memory]") {
    Fixture f;
    CHECK(f.mem->grantTable().nrFrames() == 1);
    REQUIRE(f.mem->addToPhysmap(XENMAPSPACE_grant_table, 3, 0xF0000) == 0);
    CHECK(f.mem->grantTable().nrFrames() == 4); // grown to reach frame 3
    CHECK(f.mem->grantTable().frameGfn(3) == 0xF0000);
    CHECK(f.mem->addToPhysmap(XENMAPSPACE_grant_table, 32, 0xF0001) == -XEN_EINVAL);
    CHECK(f.mem->addToPhysmap(XENMAPSPACE_grant_table, XENMAPIDX_grant_table_status | 0, 0xF0001) ==
          -XEN_EINVAL);
    // A guest write through the mapped frame is the table.
    REQUIRE(f.memory.writeObject<uint16_t>(0xF0000000, GTF_permit_access).ok());
    CHECK(f.mem->grantTable().entry(3 * GrantTable::kEntriesPerFrame)->flags == GTF_permit_access);
    // Putting shared_info on a grant frame unhooks the frame, frees nothing.
    uint64_t tot = f.mem->totPages();
    REQUIRE(f.mem->addToPhysmap(XENMAPSPACE_shared_info, 0, 0xF0000) == 0);
    CHECK(f.mem->grantTable().frameGfn(3) == GrantTable::kNoGfn);
    CHECK(f.mem->totPages() == tot);
}

TEST_CASE("gmfn moves a RAM page as hvmloader does", "[xen][memory]") {
    Fixture f;
    uint64_t last = kRam / 4096 - 1;
    REQUIRE(f.memory.writeObject<uint64_t>(last << 12, 0x1234).ok());
    uint64_t tot = f.mem->totPages();
    REQUIRE(f.mem->addToPhysmap(XENMAPSPACE_gmfn, last, 0xFC000) == 0);
    CHECK(f.readU64(0xFC000000) == 0x1234);
    CHECK_FALSE(f.map->pageAt(last << 12).ok());
    CHECK(f.mem->totPages() == tot);
    CHECK(f.mem->addToPhysmap(XENMAPSPACE_gmfn, last, 0xFC001) == -XEN_EINVAL); // gone
    CHECK(f.mem->addToPhysmap(XENMAPSPACE_gmfn, 0xA0, 0xFC001) == -XEN_EINVAL); // hole
    CHECK(f.mem->addToPhysmap(XENMAPSPACE_gmfn, 1ull << 60, 0xFC001) == -XEN_EINVAL);
    // Moving onto RAM frees the page that was there.
    REQUIRE(f.mem->addToPhysmap(XENMAPSPACE_gmfn, 0xFC000, 0x100) == 0);
    CHECK(f.readU64(0x100000) == 0x1234);
    CHECK(f.mem->totPages() == tot - 1);
    // The original home can be populated again only once its page is free.
    CHECK_FALSE(f.mem->populate(last, 0));
}

TEST_CASE("decrease and populate a page", "[xen][memory]") {
    Fixture f;
    uint64_t tot = f.mem->totPages();
    REQUIRE(f.memory.writeObject<uint64_t>(0x700000, 99).ok());
    CHECK_FALSE(f.mem->populate(0x700, 0)); // present already
    REQUIRE(f.mem->decrease(0x700, 0));
    CHECK(f.mem->totPages() == tot - 1);
    CHECK_FALSE(f.memory.readObject<uint64_t>(0x700000).ok());
    CHECK_FALSE(f.mem->decrease(0x700, 0)); // already gone
    REQUIRE(f.mem->populate(0x700, 0));
    CHECK(f.readU64(0x700000) == 0); // fresh page
    CHECK(f.mem->totPages() == tot);
    CHECK_FALSE(f.mem->populate(0x700, 0));   // over the reservation too
    CHECK_FALSE(f.mem->populate(0xFD000, 0)); // never RAM
    CHECK_FALSE(f.mem->decrease(0xFD000, 0));
    CHECK_FALSE(f.mem->decrease(~0ull, 0));
    CHECK_FALSE(f.mem->populate(~0ull - 3, 2));
    // An order-2 extent goes and comes back whole.
    REQUIRE(f.mem->decrease(0x800, 2));
    CHECK(f.mem->totPages() == tot - 4);
    REQUIRE(f.mem->populate(0x800, 2));
    CHECK(f.mem->totPages() == tot);
}

TEST_CASE("remove_from_physmap keeps the page owned", "[xen][memory]") {
    Fixture f;
    uint64_t tot = f.mem->totPages();
    REQUIRE(f.mem->removeFromPhysmap(0x900) == 0);
    CHECK(f.mem->totPages() == tot);
    CHECK(f.mem->removeFromPhysmap(0x900) == -XEN_ENOENT);
    CHECK(f.mem->removeFromPhysmap(~0ull) == -XEN_ENOENT);
    REQUIRE(f.mem->addToPhysmap(XENMAPSPACE_shared_info, 0, 0xFDFFF) == 0);
    REQUIRE(f.mem->removeFromPhysmap(0xFDFFF) == 0);
    CHECK_FALSE(f.mem->sharedInfoGfn().has_value());
}

TEST_CASE("registered vcpu_info gets its time at once", "[xen][memory]") {
    Fixture f;
    REQUIRE(f.mem->registerVcpuInfo(1, 0x400, 0x40) == 0);
    auto t = f.memory.readObject<vcpu_time_info_t>(0x400040 + SharedInfo::kTimeOffset);
    REQUIRE(t.ok());
    CHECK(t->version % 2 == 0);
    CHECK(t->version > 0);
    CHECK(t->system_time >= 1000);
    f.mem->setTsc(2000000, 0, 5000);
    auto u = f.memory.readObject<vcpu_time_info_t>(0x400040 + SharedInfo::kTimeOffset);
    CHECK(u->tsc_to_system_mul == 0x80000000u);
    CHECK(u->tsc_shift == 0);
    CHECK(u->version > t->version);
    CHECK(f.mem->pvclockNs() >= 5000);
}
