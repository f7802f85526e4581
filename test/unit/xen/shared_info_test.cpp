// SharedInfo: layouts, event bits, vcpu_info relocation, wallclock.

#include "npt/guest_memory.h"
#include "npt/phys_map.h"
#include "test/unit/npt/fake_memslot_backend.h"
#include "vmm/xen/shared_info.h"

#include <catch2/catch.hpp>

#include <xen/foreign/x86_32.h>

#include <cstring>
#include <thread>

using namespace basalt;
using namespace basalt::xen;
using basalt::npt::test::FakeMemslotBackend;

namespace {

constexpr uint64_t kRam = 16 << 20;

struct Fixture {
    FakeMemslotBackend backend;
    std::unique_ptr<npt::PhysMap> map = npt::PhysMap::create(backend, kRam).value();
    npt::GuestMemory memory{*map};
    std::unique_ptr<SharedInfo> si;
    explicit Fixture(uint32_t vcpus = 2) { si = SharedInfo::create(vcpus, *map).value(); }
    shared_info_t* native() { return reinterpret_cast<shared_info_t*>(si->page()); }
    shared_info_x86_32_t* compat() { return reinterpret_cast<shared_info_x86_32_t*>(si->page()); }
};

} // namespace

TEST_CASE("64-bit layout: 4096 ports in 64-bit words", "[xen][shared-info]") {
    Fixture f;
    CHECK(f.si->is64Bit());
    CHECK(f.si->maxPorts() == 4096);
    CHECK(f.si->bitsPerWord() == 64);
    CHECK_FALSE(f.si->testAndSetPending(70));
    CHECK(f.si->testAndSetPending(70));
    CHECK(f.native()->evtchn_pending[1] == (uint64_t{1} << 6));
    CHECK(f.si->isPending(70));
    CHECK(f.si->testAndClearPending(70));
    CHECK_FALSE(f.si->isPending(70));
    f.native()->evtchn_mask[63] = uint64_t{1} << 63;
    CHECK(f.si->isMasked(4095));
    f.si->clearMask(4095);
    CHECK_FALSE(f.si->isMasked(4095));
    CHECK_FALSE(f.si->testAndSetMask(5));
    CHECK(f.native()->evtchn_mask[0] == (1u << 5));
    // Out of range: never set, reads masked.
    CHECK(f.si->testAndSetPending(4096));
    CHECK(f.si->isMasked(4096));
    CHECK_FALSE(f.si->isPending(100000));
}

TEST_CASE("32-bit layout: 1024 ports in 32-bit words", "[xen][shared-info]") {
    Fixture f;
    f.si->latchLayout(false);
    CHECK(f.si->maxPorts() == 1024);
    CHECK(f.si->bitsPerWord() == 32);
    CHECK_FALSE(f.si->testAndSetPending(33));
    CHECK(f.compat()->evtchn_pending[1] == 2u);
    f.compat()->evtchn_mask[31] = 0x80000000u;
    CHECK(f.si->isMasked(1023));
    CHECK(f.si->isMasked(1024));
    CHECK_FALSE(f.si->isMasked(1022));
    CHECK_FALSE(f.si->testAndSetPendingSelector(1, 31));
    CHECK(f.compat()->vcpu_info[1].evtchn_pending_sel == 0x80000000u);
    CHECK(f.si->testAndSetPendingSelector(1, 32)); // no such word
}

TEST_CASE("upcall pending and selector bits live in vcpu_info", "[xen][shared-info]") {
    Fixture f;
    CHECK_FALSE(f.si->testAndSetPendingSelector(1, 63));
    CHECK(f.native()->vcpu_info[1].evtchn_pending_sel == (uint64_t{1} << 63));
    CHECK_FALSE(f.si->isUpcallPending(1));
    CHECK_FALSE(f.si->testAndSetUpcallPending(1));
    CHECK(f.native()->vcpu_info[1].evtchn_upcall_pending == 1);
    CHECK(f.si->testAndSetUpcallPending(1));
    f.si->clearUpcallPending(1);
    CHECK(f.native()->vcpu_info[1].evtchn_upcall_pending == 0);
    f.native()->vcpu_info[0].evtchn_upcall_mask = 1;
    CHECK(f.si->isUpcallMasked(0));
    CHECK(f.si->testAndSetUpcallPending(9)); // unknown vCPU: nothing happens
    CHECK(f.si->vcpuInfo(2) == nullptr);
}

TEST_CASE("concurrent setters never lose a bit", "[xen][shared-info]") {
    Fixture f;
    auto setRange = [&](uint32_t first) {
        for (uint32_t p = first; p < 4096; p += 2)
            (void)f.si->testAndSetPending(p);
    };
    std::thread a(setRange, 0), b(setRange, 1);
    a.join();
    b.join();
    for (uint64_t word : f.native()->evtchn_pending)
        CHECK(word == ~0ull);
}

TEST_CASE("register_vcpu_info validates like Xen and moves the state", "[xen][shared-info]") {
    Fixture f;
    uint64_t gfn = 0x123;
    (void)f.si->testAndSetPendingSelector(0, 3);
    f.native()->vcpu_info[0].time.system_time = 777;
    CHECK(f.si->registerVcpuInfo(0, gfn, 4096 - 63) == -XEN_ENXIO); // does not fit
    CHECK(f.si->registerVcpuInfo(0, gfn, 4) == -XEN_ENXIO);         // 64-bit wants 8
    CHECK(f.si->registerVcpuInfo(0, 0xA0, 0) == -XEN_EINVAL);       // VGA hole
    CHECK(f.si->registerVcpuInfo(0, 1ull << 50, 0) == -XEN_EINVAL); // not RAM
    CHECK(f.si->registerVcpuInfo(5, gfn, 0) == -XEN_EINVAL);        // no such vCPU
    REQUIRE(f.si->registerVcpuInfo(0, gfn, 64) == 0);
    CHECK(f.si->registerVcpuInfo(0, gfn, 128) == -XEN_EINVAL); // only once
    auto moved = f.memory.readObject<vcpu_info_t>((gfn << 12) + 64);
    REQUIRE(moved.ok());
    CHECK(moved->time.system_time == 777);
    CHECK(moved->evtchn_pending_sel == ~0ull); // everything marked pending
    CHECK(moved->evtchn_upcall_pending == 1);
    // Events now land in guest RAM.
    f.si->clearUpcallPending(0);
    CHECK(f.memory.readObject<vcpu_info_t>((gfn << 12) + 64)->evtchn_upcall_pending == 0);
    CHECK(f.si->vcpuInfo(0) == f.map->ramPagePointer(gfn << 12).value() + 64);
}

TEST_CASE("32-bit vcpu_info may sit on a 4-byte boundary", "[xen][shared-info]") {
    Fixture f;
    f.si->latchLayout(false);
    REQUIRE(f.si->registerVcpuInfo(1, uint64_t{0x200000} + 4) == 0);
    CHECK_FALSE(f.si->testAndSetPendingSelector(1, 0) == false); // all set after the move
    auto info = f.memory.readObject<vcpu_info_x86_32_t>(0x200004);
    REQUIRE(info.ok());
    CHECK(info->evtchn_pending_sel == 0xFFFFFFFFu);
}

TEST_CASE("a vCPU beyond the legacy 32 starts with a dummy", "[xen][shared-info]") {
    Fixture f(40);
    REQUIRE(f.si->vcpuInfo(35) != nullptr);
    CHECK_FALSE(f.si->testAndSetUpcallPending(35));
    REQUIRE(f.si->registerVcpuInfo(35, 0x300, 0) == 0);
    auto info = f.memory.readObject<vcpu_info_t>(0x300000);
    CHECK(info->evtchn_upcall_mask == 1); // fresh, masked, then marked pending
    CHECK(info->evtchn_upcall_pending == 1);
}

TEST_CASE("wallclock uses the version protocol in both layouts", "[xen][shared-info]") {
    Fixture f;
    uint64_t sec = (uint64_t{1} << 32) + 5;
    f.si->setWallclock(sec, 123);
    CHECK(f.native()->wc_version % 2 == 0);
    CHECK(f.native()->wc_version != 0);
    CHECK(f.native()->wc_sec == 5);
    CHECK(f.native()->wc_nsec == 123);
    CHECK(f.native()->wc_sec_hi == 1);
    f.si->latchLayout(false);
    CHECK(f.compat()->wc_version % 2 == 0);
    CHECK(f.compat()->wc_sec == 5);
    CHECK(f.compat()->wc_nsec == 123);
    CHECK(f.compat()->arch.wc_sec_hi == 1);
}
