#include "test/unit/xen/fake_event_bitmaps.h"
#include "vmm/xen/upcall.h"
#include "vmm/xen/vcpu_runstate.h"
#include "vmm/xen/vcpu_wait.h"
#include "vmm/xen/xen_events.h"
#include "vmm/xen/xen_timers.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <ctime>
#include <thread>
#include <utility>
#include <vector>

using namespace basalt::xen;
using basalt::xen::test::FakeEventBitmaps;

namespace {

uint64_t nowNs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

constexpr uint64_t kMs = 1000000;

template <typename Pred> bool eventually(Pred pred) {
    for (int i = 0; i < 3000; ++i) {
        if (pred())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

struct Line {
    std::mutex m;
    std::vector<std::pair<uint32_t, bool>> changes;
    void set(uint32_t gsi, bool level) {
        std::lock_guard l(m);
        changes.emplace_back(gsi, level);
    }
    std::vector<std::pair<uint32_t, bool>> get() {
        std::lock_guard l(m);
        return changes;
    }
};

} // namespace

TEST_CASE("upcall via GSI follows vCPU 0's upcall_pending", "[upcall]") {
    Line line;
    std::atomic<bool> pending{false};
    Upcall up({[&](uint32_t g, bool l) { line.set(g, l); }, [&] { return pending.load(); }});
    up.setVia(9);
    CHECK(up.via() == Upcall::Via::Gsi);
    CHECK(line.get().empty());
    pending = true;
    up.raised(1); // other vCPUs do not drive the line
    CHECK(line.get().empty());
    up.raised(0);
    CHECK(line.get() == std::vector<std::pair<uint32_t, bool>>{{9, true}});
    CHECK(up.recheck());
    pending = false; // the guest's handler cleared it
    CHECK_FALSE(up.recheck());
    CHECK(line.get().back() == std::pair<uint32_t, bool>{9, false});
    // Cleared and set again without a recheck in between: a fresh edge.
    pending = true;
    up.raised(0);
    pending = false;
    pending = true;
    up.raised(0);
    auto c = line.get();
    REQUIRE(c.size() == 5);
    CHECK(c[3] == std::pair<uint32_t, bool>{9, false});
    CHECK(c[4] == std::pair<uint32_t, bool>{9, true});
    // Changing the via drops the old line first.
    up.setVia(0);
    CHECK(line.get().back() == std::pair<uint32_t, bool>{9, false});
    CHECK(up.via() == Upcall::Via::None);
}

TEST_CASE("upcall via PCI INTx and vector", "[upcall]") {
    CHECK(Upcall::pciIntxGsi(3, 0) == 28);
    CHECK(Upcall::pciIntxGsi(1, 2) == 22);
    Line line;
    Upcall up({[&](uint32_t g, bool l) { line.set(g, l); }, [] { return true; }});
    up.setVia((1ull << 56) | (1u << 11) | 2); // device 1, INTC -> GSI 22
    CHECK(up.via() == Upcall::Via::PciIntx);
    CHECK(line.get() == std::vector<std::pair<uint32_t, bool>>{{22, true}});
    up.setVia((1ull << 56) | (3u << 11)); // GSI 28: beyond KVM's IOAPIC
    CHECK(up.via() == Upcall::Via::None);
    up.setVia((2ull << 56) | 0xF3);
    CHECK(up.via() == Upcall::Via::Vector);
    CHECK_FALSE(up.asserted());
    up.setVia(40); // GSI beyond the IOAPIC
    CHECK(up.via() == Upcall::Via::None);
}

TEST_CASE("timers: singleshot and periodic fire, watchdog ids", "[timers]") {
    std::mutex m;
    std::vector<uint32_t> fired;
    std::atomic<int> watchdogs{0};
    XenTimers t(2, {nowNs,
                    [&](uint32_t v) {
                        std::lock_guard l(m);
                        fired.push_back(v);
                    },
                    [&] { ++watchdogs; }, nullptr});
    auto count = [&](uint32_t v) {
        std::lock_guard l(m);
        return std::count(fired.begin(), fired.end(), v);
    };
    t.setSingleshot(1, nowNs() + 5 * kMs);
    CHECK(t.singleshotArmed(1));
    CHECK(eventually([&] { return count(1) == 1; }));
    CHECK_FALSE(t.singleshotArmed(1));
    t.setSingleshot(0, nowNs() + 10000 * kMs);
    t.stopSingleshot(0);
    CHECK_FALSE(t.singleshotArmed(0));
    t.setPeriodic(0, 2 * kMs);
    CHECK(eventually([&] { return count(0) >= 3; }));
    t.setPeriodic(0, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto settled = count(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(count(0) == settled);

    CHECK(t.watchdog(3, 1) == -XEN_EINVAL);
    CHECK(t.watchdog(1, 1) == -XEN_EINVAL); // not allocated
    CHECK(t.watchdog(0, 100) == 1);
    CHECK(t.watchdog(0, 100) == 2);
    CHECK(t.watchdog(0, 100) == -XEN_ENOSPC);
    CHECK(t.watchdog(2, 0) == 0); // freed
    CHECK(t.watchdog(0, 0) == 2); // timeout 0 on allocation: fires at once
    CHECK(eventually([&] { return watchdogs.load() == 1; }));
}

TEST_CASE("sleepers: ready, timeout and held", "[wait]") {
    VcpuWait w(nowNs);
    std::atomic<bool> flag{false};
    CHECK(w.wait([] { return true; }, std::nullopt) == VcpuWait::Woken::Ready);
    CHECK(w.wait([] { return false; }, nowNs() + 2 * kMs) == VcpuWait::Woken::Timeout);
    std::thread setter([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        flag = true;
        w.wakeAll();
    });
    CHECK(w.wait([&] { return flag.load(); }, std::nullopt) == VcpuWait::Woken::Ready);
    setter.join();
    std::thread holder([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        w.setHeld(true);
    });
    CHECK(w.wait([] { return false; }, std::nullopt) == VcpuWait::Woken::Held);
    holder.join();
    CHECK(w.wait([] { return true; }, std::nullopt) == VcpuWait::Woken::Held);
    w.setHeld(false);
    CHECK(w.wait([] { return true; }, std::nullopt) == VcpuWait::Woken::Ready);
}

TEST_CASE("runstates account running and blocked time", "[runstate]") {
    VcpuRunstates r(2);
    CHECK(r.isUp(0));
    CHECK_FALSE(r.isUp(1));
    CHECK(r.snapshot(1, 0).state == RUNSTATE_offline);
    r.change(0, RUNSTATE_blocked, 100);
    r.change(0, RUNSTATE_running, 250);
    auto s = r.snapshot(0, 300);
    CHECK(s.state == RUNSTATE_running);
    CHECK(s.state_entry_time == 250);
    CHECK(s.time[RUNSTATE_running] == 150);
    CHECK(s.time[RUNSTATE_blocked] == 150);
    CHECK(r.snapshot(7, 0).state == 0);
}

TEST_CASE("XenEvents: timer VIRQ reaches the GSI; shutdown code latches", "[xen-events]") {
    FakeEventBitmaps bits(1);
    Line line;
    std::vector<ShutdownReason> reasons;
    XenEventsConfig cfg;
    cfg.now = nowNs;
    cfg.setGsiLevel = [&](uint32_t g, bool l) { line.set(g, l); };
    cfg.shutdown = [&](ShutdownReason r, uint32_t) { reasons.push_back(r); };
    XenEvents ev(cfg, bits);
    ev.upcall().setVia(5);
    int port = ev.channels().bindVirq(VIRQ_TIMER, 0);
    REQUIRE(port > 0);
    ev.timers().setSingleshot(0, nowNs() + kMs);
    CHECK(eventually([&] { return bits.isPending(port); }));
    CHECK(eventually([&] { return !line.get().empty(); }));
    CHECK(line.get().front() == std::pair<uint32_t, bool>{5, true});
    bits.guestAck(0); // the housekeeping tick drops the line
    CHECK(eventually([&] { return line.get().back() == std::pair<uint32_t, bool>{5, false}; }));

    ev.latchShutdownCode(SHUTDOWN_crash);
    ev.shutdown(SHUTDOWN_poweroff, 0);
    REQUIRE(reasons.size() == 1);
    CHECK(reasons[0] == ShutdownReason::Crash);
    CHECK(ev.registerVcpuInfo(0, 1, 0) == -XEN_ENOSYS);
}
