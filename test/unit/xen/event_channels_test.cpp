#include "test/unit/xen/fake_event_bitmaps.h"
#include "vmm/xen/event_channels.h"

#include <catch2/catch.hpp>

#include <vector>

using namespace basalt::xen;
using basalt::xen::test::FakeEventBitmaps;

namespace {

constexpr uint16_t kDomid = 1;

struct Fixture {
    explicit Fixture(uint32_t vcpus = 2, uint32_t maxPort = 1023)
        : bits(vcpus), channels(
                           EventChannelsConfig{kDomid, vcpus, maxPort}, bits,
                           [this](uint32_t v) { upcalls.push_back(v); }, [this] { ++pendings; }) {}
    evtchn_status_t status(uint32_t port) {
        evtchn_status_t st{};
        st.dom = DOMID_SELF;
        st.port = port;
        REQUIRE(channels.status(st) == 0);
        return st;
    }
    FakeEventBitmaps bits;
    std::vector<uint32_t> upcalls;
    int pendings = 0;
    EventChannels channels;
};

} // namespace

TEST_CASE("interdomain loopback: bind sets pending, send crosses over", "[evtchn]") {
    Fixture f;
    int a = f.channels.allocUnbound(DOMID_SELF, DOMID_SELF);
    REQUIRE(a == 1);
    CHECK(f.status(1).status == EVTCHNSTAT_unbound);
    CHECK(f.status(1).u.unbound.dom == kDomid);
    int b = f.channels.bindInterdomain(DOMID_SELF, 1);
    REQUIRE(b == 2);
    CHECK(f.bits.isPending(2)); // Xen notifies the binding port
    CHECK_FALSE(f.bits.isPending(1));
    REQUIRE(f.upcalls == std::vector<uint32_t>{0});
    f.bits.guestAck(0);
    f.bits.clearPending(2);

    CHECK(f.channels.send(2) == 0);
    CHECK(f.bits.isPending(1));
    CHECK(f.upcalls.size() == 2);
    auto st = f.status(2);
    CHECK(st.status == EVTCHNSTAT_interdomain);
    CHECK(st.u.interdomain.dom == kDomid);
    CHECK(st.u.interdomain.port == 1);

    // A second bind to the now-bound port is refused.
    CHECK(f.channels.bindInterdomain(DOMID_SELF, 1) == -XEN_EINVAL);
    // Close one end: the other falls back to unbound.
    CHECK(f.channels.close(2) == 0);
    CHECK(f.status(1).status == EVTCHNSTAT_unbound);
    CHECK(f.status(2).status == EVTCHNSTAT_closed);
    CHECK_FALSE(f.bits.isPending(2));
    CHECK(f.channels.send(2) == -XEN_EINVAL);
    CHECK(f.channels.close(2) == -XEN_EINVAL);
    CHECK(f.channels.send(1) == 0); // unbound: silently dropped
}

TEST_CASE("hostile ports, domains and vCPUs get Xen's errnos", "[evtchn]") {
    Fixture f;
    CHECK(f.channels.send(0) == -XEN_EINVAL);  // reserved
    CHECK(f.channels.close(0) == -XEN_EINVAL); // reserved
    CHECK(f.channels.send(63) == -XEN_EINVAL); // valid but free
    CHECK(f.channels.send(64) == -XEN_EINVAL); // beyond the first bucket
    CHECK(f.channels.unmask(63) == 0);         // valid: just bits
    CHECK(f.channels.unmask(64) == -XEN_EINVAL);
    CHECK(f.channels.unmask(0xFFFFFFFF) == -XEN_EINVAL);
    CHECK(f.channels.bindVcpu(0xFFFFFF, 0) == -XEN_EINVAL);
    CHECK(f.channels.bindVcpu(1, 2) == -XEN_ENOENT);
    CHECK(f.channels.allocUnbound(0, DOMID_SELF) == -XEN_EPERM);
    CHECK(f.channels.allocUnbound(9, DOMID_SELF) == -XEN_ESRCH);
    CHECK(f.channels.bindInterdomain(9, 1) == -XEN_ESRCH);
    CHECK(f.channels.bindInterdomain(0, 1) == -XEN_EINVAL);
    CHECK(f.channels.bindInterdomain(DOMID_SELF, 5000) == -XEN_EINVAL);
    CHECK(f.channels.bindIpi(2) == -XEN_ENOENT);
    evtchn_status_t st{};
    st.dom = 0;
    CHECK(f.channels.status(st) == -XEN_EPERM);
    st.dom = 5;
    CHECK(f.channels.status(st) == -XEN_ESRCH);
    st.dom = DOMID_SELF;
    st.port = 4096;
    CHECK(f.channels.status(st) == -XEN_EINVAL);
    CHECK(f.channels.reset(9) == -XEN_ESRCH);
    CHECK(f.channels.pollPort(100000) == -XEN_EINVAL);
}

TEST_CASE("VIRQs: per-vCPU and global rules, double bind, delivery", "[evtchn]") {
    Fixture f;
    CHECK(f.channels.bindVirq(NR_VIRQS, 0) == -XEN_EINVAL);
    CHECK(f.channels.bindVirq(VIRQ_CONSOLE, 1) == -XEN_EINVAL); // global: vCPU 0 only
    CHECK(f.channels.bindVirq(VIRQ_TIMER, 2) == -XEN_ENOENT);
    int t0 = f.channels.bindVirq(VIRQ_TIMER, 0);
    int t1 = f.channels.bindVirq(VIRQ_TIMER, 1);
    REQUIRE(t0 > 0);
    REQUIRE(t1 > 0);
    CHECK(f.channels.bindVirq(VIRQ_TIMER, 0) == -XEN_EEXIST);
    auto st = f.status(t1);
    CHECK(st.status == EVTCHNSTAT_virq);
    CHECK(st.u.virq == VIRQ_TIMER);
    CHECK(st.vcpu == 1);
    CHECK(f.channels.bindVcpu(t1, 0) == -XEN_EINVAL); // per-vCPU VIRQ stays put

    f.channels.sendVirq(1, VIRQ_TIMER);
    CHECK(f.bits.isPending(t1));
    CHECK(f.upcalls == std::vector<uint32_t>{1});
    f.channels.sendVirq(1, VIRQ_DEBUG); // not bound: nothing
    CHECK(f.upcalls.size() == 1);

    int con = f.channels.bindVirq(VIRQ_CONSOLE, 0);
    REQUIRE(con > 0);
    CHECK(f.channels.bindVcpu(con, 1) == 0); // a global VIRQ may move
    f.channels.sendGlobalVirq(VIRQ_CONSOLE);
    CHECK(f.upcalls == std::vector<uint32_t>{1}); // vCPU 1 still has upcall_pending

    CHECK(f.channels.send(t0) == -XEN_EINVAL); // a VIRQ port cannot be sent on
    CHECK(f.channels.close(t0) == 0);
    CHECK(f.channels.bindVirq(VIRQ_TIMER, 0) == t0); // free again, lowest port
}

TEST_CASE("IPIs, masking and unmask", "[evtchn]") {
    Fixture f;
    int ipi = f.channels.bindIpi(1);
    REQUIRE(ipi == 1);
    CHECK(f.status(ipi).status == EVTCHNSTAT_ipi);
    CHECK(f.channels.bindVcpu(ipi, 0) == -XEN_EINVAL);
    f.bits.setMask(ipi);
    CHECK(f.channels.send(ipi) == 0);
    CHECK(f.bits.isPending(ipi));
    CHECK(f.upcalls.empty()); // masked: no upcall
    CHECK(f.pendings == 1);   // but pollers wake
    CHECK(f.channels.send(ipi) == 0);
    CHECK(f.pendings == 1); // already pending
    CHECK(f.channels.pollPort(ipi) == 1);
    CHECK(f.channels.unmask(ipi) == 0);
    CHECK(f.upcalls == std::vector<uint32_t>{1});
    CHECK(f.channels.unmask(ipi) == 0); // no longer masked: nothing more
    CHECK(f.upcalls.size() == 1);
}

TEST_CASE("allocation stops at maxPort with -ENOSPC; reset frees everything", "[evtchn]") {
    Fixture f(1, 70);
    for (int i = 1; i <= 70; ++i)
        REQUIRE(f.channels.bindIpi(0) == i);
    CHECK(f.channels.bindIpi(0) == -XEN_ENOSPC);
    CHECK(f.channels.allocUnbound(DOMID_SELF, 0) == -XEN_ENOSPC);
    CHECK(f.channels.send(127) == -XEN_EINVAL); // second bucket exists, port free
    CHECK(f.channels.send(128) == -XEN_EINVAL);
    CHECK(f.channels.reset(DOMID_SELF) == 0);
    CHECK(f.status(5).status == EVTCHNSTAT_closed);
    CHECK(f.channels.bindIpi(0) == 1);
}

TEST_CASE("a 32-bit layout allows 1024 ports", "[evtchn]") {
    FakeEventBitmaps bits(1, false);
    EventChannels ch(
        EventChannelsConfig{kDomid, 1, 4095}, bits, [](uint32_t) {}, [] {});
    for (int i = 1; i < 1024; ++i)
        REQUIRE(ch.bindIpi(0) == i);
    CHECK(ch.bindIpi(0) == -XEN_ENOSPC);
}
