// pvclock: scale factors, the version protocol, and consistency with the TSC.

#include "vmm/xen/pvclock.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <thread>

using namespace basalt::xen;

namespace {

// What a guest computes from a record at guest TSC `tsc`.
uint64_t guestNs(const vcpu_time_info_t& t, uint64_t tsc) {
    return t.system_time +
           scaleTicks(tsc - t.tsc_timestamp, TscScale{t.tsc_to_system_mul, t.tsc_shift});
}

} // namespace

TEST_CASE("scale factors convert ticks to nanoseconds", "[xen][pvclock]") {
    for (uint64_t hz : {1000000000ull, 2000000000ull, 2500000000ull, 3000000000ull, 3999999000ull,
                        100000000ull, 32768ull}) {
        TscScale s = tscScaleFor(hz);
        // One second of ticks is one second, to a few parts per billion.
        uint64_t ns = scaleTicks(hz, s);
        CHECK(ns >= 999999990);
        CHECK(ns <= 1000000001);
    }
    CHECK(tscScaleFor(2000000000).shift == 0);
    CHECK(tscScaleFor(2000000000).mul == 0x80000000u);
    CHECK(tscScaleFor(3000000000).shift == -1);
}

TEST_CASE("records follow the guest TSC and the anchor", "[xen][pvclock]") {
    uint64_t hz = measureTscHz();
    REQUIRE(hz > 0);
    int64_t offset = -static_cast<int64_t>(readHostTsc()) + 1000; // guest TSC near 1000
    Pvclock clock(hz, offset, false, readHostTsc(), 5000);
    auto a = clock.now();
    CHECK(a.flags == 0);
    CHECK(a.system_time >= 5000);
    CHECK(a.tsc_timestamp < (uint64_t{1} << 40));
    auto b = clock.now();
    // Any two records describe the same line.
    uint64_t t = b.tsc_timestamp + hz / 100;
    uint64_t na = guestNs(a, t), nb = guestNs(b, t);
    CHECK((na > nb ? na - nb : nb - na) <= 2);
    Pvclock stable(hz, 0, true, readHostTsc(), 0);
    CHECK(stable.now().flags == XEN_PVCLOCK_TSC_STABLE_BIT);
}

TEST_CASE("publish bumps the version to even around the update", "[xen][pvclock]") {
    alignas(8) uint8_t slot[64] = {};
    vcpu_time_info_t rec{};
    rec.system_time = 42;
    rec.tsc_timestamp = 7;
    rec.tsc_to_system_mul = 3;
    rec.tsc_shift = -1;
    rec.flags = 1;
    Pvclock::publish(slot + 4, rec); // 4-aligned like a 32-bit guest's vcpu_info
    vcpu_time_info_t out;
    std::memcpy(&out, slot + 4, sizeof out);
    CHECK(out.version == 2);
    CHECK(out.system_time == 42);
    CHECK(out.tsc_timestamp == 7);
    CHECK(out.tsc_to_system_mul == 3);
    CHECK(out.tsc_shift == -1);
    CHECK(out.flags == 1);
    Pvclock::publish(slot + 4, rec);
    std::memcpy(&out, slot + 4, sizeof out);
    CHECK(out.version == 4);
}

TEST_CASE("a reader never sees a torn record with an even version", "[xen][pvclock]") {
    alignas(8) static vcpu_time_info_t shared{};
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        for (uint64_t i = 1; !stop.load(); ++i) {
            vcpu_time_info_t rec{};
            rec.system_time = i;
            rec.tsc_timestamp = i;
            Pvclock::publish(reinterpret_cast<uint8_t*>(&shared), rec);
        }
    });
    int torn = 0;
    for (int n = 0; n < 200000; ++n) {
        uint32_t v1, v2;
        uint64_t a, b;
        do {
            v1 = std::atomic_ref<uint32_t>(shared.version).load();
            a = std::atomic_ref<uint64_t>(shared.system_time).load();
            b = std::atomic_ref<uint64_t>(shared.tsc_timestamp).load();
            v2 = std::atomic_ref<uint32_t>(shared.version).load();
        } while ((v1 & 1) || v1 != v2);
        torn += a != b;
    }
    stop = true;
    writer.join();
    CHECK(torn == 0);
}
