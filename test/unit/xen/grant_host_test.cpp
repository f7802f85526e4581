// The host side of grant tables v1: the GTF_* state machine, as Xen's
// grant_table.c runs it, against a guest that plays by the rules and one
// that races.

#include "npt/guest_memory.h"
#include "npt/phys_map.h"
#include "test/unit/npt/fake_memslot_backend.h"
#include "vmm/xen/grant_host.h"
#include "vmm/xen/grant_table.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <thread>

using namespace basalt;
using namespace basalt::xen;
using basalt::npt::test::FakeMemslotBackend;

namespace {

constexpr uint64_t kRam = 16 << 20;
constexpr uint32_t kGfn = 0x234;

struct Fixture {
    FakeMemslotBackend backend;
    std::unique_ptr<npt::PhysMap> map = npt::PhysMap::create(backend, kRam).value();
    npt::GuestMemory memory{*map};
    std::unique_ptr<GrantTable> table = GrantTable::create(4).value();
    GrantHost host{*table, *map};

    std::atomic_ref<uint16_t> flags(uint32_t ref) {
        return std::atomic_ref<uint16_t>(table->entry(ref)->flags);
    }
    // The guest's gnttab_grant_foreign_access: frame and domid, then flags.
    void grant(uint32_t ref, uint32_t gfn, bool readOnly, domid_t to = 0) {
        table->entry(ref)->frame = gfn;
        table->entry(ref)->domid = to;
        flags(ref).store(GTF_permit_access | (readOnly ? GTF_readonly : 0));
    }
    // The guest's gnttab_end_foreign_access_ref (v1): only if not in use.
    bool endAccess(uint32_t ref) {
        uint16_t seen = flags(ref).load();
        do {
            if (seen & (GTF_reading | GTF_writing))
                return false;
        } while (!flags(ref).compare_exchange_weak(seen, 0));
        return true;
    }
};

} // namespace

TEST_CASE("map sets reading/writing and unmap clears them", "[xen][grant]") {
    Fixture f;
    REQUIRE(f.memory.writeObject<uint32_t>(uint64_t{kGfn} << 12, 0xABCD).ok());
    f.grant(8, kGfn, false);
    GrantMapping m;
    REQUIRE(f.host.map(8, false, m) == GNTST_okay);
    CHECK(*reinterpret_cast<uint32_t*>(m.page) == 0xABCD);
    CHECK(f.flags(8).load() == (GTF_permit_access | GTF_reading | GTF_writing));
    std::memcpy(m.page + 16, "hi", 2);
    CHECK(f.memory.readObject<char>((uint64_t{kGfn} << 12) + 16).value() == 'h');
    CHECK_FALSE(f.endAccess(8)); // in use: the guest must wait
    REQUIRE(f.host.unmap(m.handle) == GNTST_okay);
    CHECK(f.flags(8).load() == GTF_permit_access);
    CHECK(f.endAccess(8));
    CHECK(f.host.map(8, true, m) == GNTST_general_error); // access ended
    CHECK(f.host.unmap(m.handle) == GNTST_bad_handle);
}

TEST_CASE("read-only grants and read-only maps", "[xen][grant]") {
    Fixture f;
    f.grant(3, kGfn, true);
    GrantMapping m;
    CHECK(f.host.map(3, false, m) == GNTST_general_error);
    CHECK(f.flags(3).load() == (GTF_permit_access | GTF_readonly));
    REQUIRE(f.host.map(3, true, m) == GNTST_okay);
    CHECK(f.flags(3).load() == (GTF_permit_access | GTF_readonly | GTF_reading));
    // Pinned: a writable map is still refused for a read-only grant.
    GrantMapping w;
    CHECK(f.host.map(3, false, w) == GNTST_general_error);
    REQUIRE(f.host.unmap(m.handle) == GNTST_okay);
    CHECK(f.flags(3).load() == (GTF_permit_access | GTF_readonly));
}

TEST_CASE("shared pins: writing clears with the last writer", "[xen][grant]") {
    Fixture f;
    f.grant(1, kGfn, false);
    GrantMapping r, w1, w2;
    REQUIRE(f.host.map(1, true, r) == GNTST_okay);
    CHECK(f.flags(1).load() == (GTF_permit_access | GTF_reading));
    REQUIRE(f.host.map(1, false, w1) == GNTST_okay);
    REQUIRE(f.host.map(1, false, w2) == GNTST_okay);
    CHECK(w1.page == r.page);
    REQUIRE(f.host.unmap(w1.handle) == GNTST_okay);
    CHECK(f.flags(1).load() & GTF_writing);
    REQUIRE(f.host.unmap(w2.handle) == GNTST_okay);
    CHECK(f.flags(1).load() == (GTF_permit_access | GTF_reading));
    REQUIRE(f.host.unmap(r.handle) == GNTST_okay);
    CHECK(f.flags(1).load() == GTF_permit_access);
    CHECK(f.host.mappings() == 0);
}

TEST_CASE("the first pin latches the frame", "[xen][grant]") {
    Fixture f;
    f.grant(2, kGfn, false);
    GrantMapping a, b;
    REQUIRE(f.host.map(2, true, a) == GNTST_okay);
    f.table->entry(2)->frame = kGfn + 1; // a guest changing its mind mid-use
    REQUIRE(f.host.map(2, true, b) == GNTST_okay);
    CHECK(a.page == b.page);
    f.host.unmap(a.handle);
    f.host.unmap(b.handle);
}

TEST_CASE("bad refs, domids, types and frames", "[xen][grant]") {
    Fixture f;
    GrantMapping m;
    CHECK(f.table->nrEntries() == GrantTable::kEntriesPerFrame);
    CHECK(f.host.map(GrantTable::kEntriesPerFrame, true, m) == GNTST_bad_gntref);
    CHECK(f.host.map(0xFFFFFFFF, true, m) == GNTST_bad_gntref);
    f.grant(4, kGfn, false, 7); // granted to another domain
    CHECK(f.host.map(4, true, m) == GNTST_general_error);
    f.table->entry(5)->frame = kGfn;
    f.flags(5).store(GTF_accept_transfer);
    CHECK(f.host.map(5, true, m) == GNTST_general_error);
    f.flags(5).store(GTF_permit_access | GTF_sub_page);
    CHECK(f.host.map(5, true, m) == GNTST_general_error);
    uint8_t byte;
    CHECK(f.host.copyFromGrant(5, 0, {&byte, 1}) == GNTST_okay); // sub-page is fine for copy
    f.grant(6, 0xA0, false);                                     // VGA hole: not RAM
    CHECK(f.host.map(6, false, m) == GNTST_bad_page);
    CHECK(f.flags(6).load() == GTF_permit_access); // undone
    f.grant(7, 0xFFFFFFFF, false);
    CHECK(f.host.map(7, true, m) == GNTST_bad_page);
    // Growing the table makes more refs valid.
    REQUIRE(f.table->grow(2));
    f.grant(GrantTable::kEntriesPerFrame, kGfn, false);
    REQUIRE(f.host.map(GrantTable::kEntriesPerFrame, true, m) == GNTST_okay);
    f.host.unmap(m.handle);
    CHECK_FALSE(f.table->grow(5));
}

TEST_CASE("copies pin only for the copy and respect bounds", "[xen][grant]") {
    Fixture f;
    f.grant(9, kGfn, false);
    const uint8_t data[] = {1, 2, 3, 4};
    REQUIRE(f.host.copyToGrant(9, 4092, data) == GNTST_okay);
    CHECK(f.flags(9).load() == GTF_permit_access);
    uint8_t back[4] = {};
    REQUIRE(f.host.copyFromGrant(9, 4092, back) == GNTST_okay);
    CHECK(std::memcmp(back, data, 4) == 0);
    CHECK(f.host.copyToGrant(9, 4093, data) == GNTST_bad_copy_arg);
    CHECK(f.host.copyFromGrant(9, 0xFFFFFFFF, back) == GNTST_bad_copy_arg);
    f.grant(10, kGfn, true);
    CHECK(f.host.copyToGrant(10, 0, data) == GNTST_general_error);
    CHECK(f.host.copyFromGrant(10, 0, back) == GNTST_okay);
}

TEST_CASE("a guest rewriting flags without pause is failed, not waited for", "[xen][grant]") {
    Fixture f;
    f.grant(11, kGfn, false);
    std::atomic<bool> stop{false};
    std::thread guest([&] {
        uint16_t v = GTF_permit_access;
        while (!stop.load()) {
            f.flags(11).store(v);
            v ^= GTF_readonly;
        }
    });
    int ok = 0, failed = 0;
    for (int i = 0; i < 20000; ++i) {
        GrantMapping m;
        int16_t rc = f.host.map(11, true, m);
        if (rc == GNTST_okay) {
            ++ok;
            f.host.unmap(m.handle);
        } else {
            CHECK(rc == GNTST_general_error);
            ++failed;
        }
    }
    stop = true;
    guest.join();
    CHECK(ok + failed == 20000);
    CHECK(f.host.mappings() == 0);
}

TEST_CASE("racing end_foreign_access never revokes a mapped grant", "[xen][grant]") {
    // The guest tries to end access while the host maps and unmaps; whenever
    // the guest wins, later maps fail; whenever the host holds a mapping, the
    // guest cannot win. The invariant: the guest's revoke succeeds only
    // while no mapping exists.
    for (int round = 0; round < 200; ++round) {
        Fixture f;
        f.grant(12, kGfn, false);
        std::atomic<int> mapped{0};
        std::atomic<bool> revokedWhileMapped{false};
        std::atomic<bool> revoked{false};
        std::thread guest([&] {
            while (!revoked.load()) {
                if (f.endAccess(12)) {
                    if (mapped.load() > 0)
                        revokedWhileMapped = true;
                    revoked = true;
                }
            }
        });
        for (int i = 0; i < 50 && !revoked.load(); ++i) {
            GrantMapping m;
            if (f.host.map(12, false, m) == GNTST_okay) {
                ++mapped;
                std::memset(m.page, i, 8); // use it while mapped
                --mapped;
                REQUIRE(f.host.unmap(m.handle) == GNTST_okay);
            }
        }
        revoked = true;
        guest.join();
        CHECK_FALSE(revokedWhileMapped.load());
    }
}
