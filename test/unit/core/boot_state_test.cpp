#include "npt/guest_memory.h"
#include "npt/phys_map.h"
#include "test/unit/npt/fake_memslot_backend.h"
#include "vmm/boot_state.h"
#include "vmm/builder/boot_layout.h"

#include <catch2/catch.hpp>

using namespace basalt;

namespace {

struct Guest {
    npt::test::FakeMemslotBackend backend;
    std::unique_ptr<npt::PhysMap> map;
    std::unique_ptr<npt::GuestMemory> memory;

    Guest() {
        auto m = npt::PhysMap::create(backend, 16ull << 20);
        REQUIRE(m.ok());
        map = std::move(*m);
        memory = std::make_unique<npt::GuestMemory>(*map);
    }
    uint64_t qword(uint64_t gpa) {
        auto v = memory->readObject<uint64_t>(gpa);
        REQUIRE(v.ok());
        return *v;
    }
};

} // namespace

TEST_CASE("real mode entry splits the entry into CS:IP", "[boot]") {
    Guest g;
    auto s = prepareBootState(EntryMode::Real, 0x7C00, 1, {}, *g.memory);
    REQUIRE(s.ok());
    CHECK(s->sregs.cs.selector == 0);
    CHECK(s->regs.rip == 0x7C00);
    CHECK(s->regs.rsp == boot::kRealModeStack);
    CHECK((s->sregs.cr0 & 1) == 0);

    auto high = prepareBootState(EntryMode::Real, 0x9F123, 1, {}, *g.memory);
    REQUIRE(high.ok());
    CHECK(high->sregs.cs.selector == 0x9000);
    CHECK(high->sregs.cs.base == 0x90000);
    CHECK(high->regs.rip == 0xF123);

    CHECK_FALSE(prepareBootState(EntryMode::Real, 0x100000, 1, {}, *g.memory).ok());
}

TEST_CASE("protected mode entry: flat segments and a GDT in memory", "[boot]") {
    Guest g;
    auto s = prepareBootState(EntryMode::Protected, 0x100000, 3, {}, *g.memory);
    REQUIRE(s.ok());
    CHECK(s->regs.rip == 0x100000);
    CHECK(s->regs.rsi == 3);
    CHECK(s->regs.rbx == 0);
    CHECK(s->regs.rflags == 2);
    CHECK(s->sregs.cs.selector == kSelectorCode32);
    CHECK(s->sregs.cs.db);
    CHECK(s->sregs.ds.selector == kSelectorData);
    CHECK(s->sregs.cr0 == 0x11);
    CHECK(s->sregs.gdt.base == boot::kGdtAddress);
    CHECK(g.qword(boot::kGdtAddress + kSelectorCode32) == 0x00CF9A000000FFFFull);
    CHECK(g.qword(boot::kGdtAddress + kSelectorData) == 0x00CF92000000FFFFull);
}

TEST_CASE("long mode entry: paging on and 0-4 GiB identity-mapped", "[boot]") {
    Guest g;
    auto s = prepareBootState(EntryMode::Long, 0x100000, 1, {}, *g.memory);
    REQUIRE(s.ok());
    CHECK(s->sregs.cs.selector == kSelectorCode64);
    CHECK(s->sregs.cs.l);
    CHECK_FALSE(s->sregs.cs.db);
    CHECK(s->sregs.cr3 == boot::kPml4Address);
    CHECK((s->sregs.efer & 0x500) == 0x500);
    CHECK((s->sregs.cr0 & 0x80000001) == 0x80000001);
    CHECK((s->sregs.cr4 & 0x20) == 0x20);
    CHECK(g.qword(boot::kGdtAddress + kSelectorCode64) == 0x00AF9A000000FFFFull);

    // Walk the tables for a few addresses: each must map to itself.
    for (uint64_t va : {0x0ull, 0x100000ull, 0x3FFFFFFFull, 0xFEE00000ull, 0xFFFFF000ull}) {
        uint64_t pml4e = g.qword(boot::kPml4Address + ((va >> 39) & 511) * 8);
        REQUIRE((pml4e & 1) == 1);
        uint64_t pdpte = g.qword((pml4e & ~0xFFFull) + ((va >> 30) & 511) * 8);
        REQUIRE((pdpte & 1) == 1);
        uint64_t pde = g.qword((pdpte & ~0xFFFull) + ((va >> 21) & 511) * 8);
        REQUIRE((pde & 0x81) == 0x81); // present, 2 MiB page
        CHECK((pde & ~0x1FFFFFull) + (va & 0x1FFFFF) == va);
    }
}
