#include "test/unit/xen/fake_event_bitmaps.h"
#include "vmm/xen/event_channels.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <poll.h>
#include <thread>
#include <unistd.h>

using namespace basalt::xen;
using basalt::xen::test::FakeEventBitmaps;

namespace {

bool readable(int fd, int timeoutMs = 0) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeoutMs) == 1;
}

uint64_t drain(int fd) {
    uint64_t v = 0;
    return ::read(fd, &v, sizeof v) == sizeof v ? v : 0;
}

template <typename Pred> bool eventually(Pred pred) {
    for (int i = 0; i < 2000; ++i) {
        if (pred())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

} // namespace

TEST_CASE("host port: both directions through eventfds", "[evtchn][host]") {
    FakeEventBitmaps bits(1);
    int upcalls = 0;
    EventChannels ch(
        EventChannelsConfig{1, 1, 1023}, bits, [&](uint32_t) { ++upcalls; }, [] {});
    auto port = ch.allocateHostPort({});
    REQUIRE(port.ok());
    HostPort& hp = **port;
    CHECK(hp.guestPort() == 1);
    CHECK(hp.connected());
    evtchn_status_t st{};
    st.dom = DOMID_SELF;
    st.port = hp.guestPort();
    REQUIRE(ch.status(st) == 0);
    CHECK(st.status == EVTCHNSTAT_interdomain);
    CHECK(st.u.interdomain.dom == 0);
    CHECK(st.u.interdomain.port == hp.hostPort());

    // guest -> host
    CHECK_FALSE(readable(hp.guestToHostFd()));
    CHECK(ch.send(hp.guestPort()) == 0);
    CHECK(ch.send(hp.guestPort()) == 0);
    REQUIRE(readable(hp.guestToHostFd()));
    CHECK(drain(hp.guestToHostFd()) == 2);

    // host -> guest, by eventfd (the pump thread) and by notify()
    uint64_t one = 1;
    REQUIRE(::write(hp.hostToGuestFd(), &one, sizeof one) == sizeof one);
    CHECK(eventually([&] { return bits.isPending(1); }));
    bits.clearPending(1);
    hp.notify();
    CHECK(bits.isPending(1));

    // The guest closes its end: the host sees it, notify() is harmless.
    CHECK(ch.close(1) == 0);
    CHECK_FALSE(hp.connected());
    bits.clearPending(1);
    hp.notify();
    CHECK_FALSE(bits.isPending(1));
}

TEST_CASE("host port: dom0 closing leaves the guest port unbound", "[evtchn][host]") {
    FakeEventBitmaps bits(1);
    EventChannels ch(
        EventChannelsConfig{1, 1, 1023}, bits, [](uint32_t) {}, [] {});
    uint32_t guestPort;
    {
        auto port = ch.allocateHostPort({});
        REQUIRE(port.ok());
        guestPort = (*port)->guestPort();
    }
    evtchn_status_t st{};
    st.dom = DOMID_SELF;
    st.port = guestPort;
    REQUIRE(ch.status(st) == 0);
    CHECK(st.status == EVTCHNSTAT_unbound);
    CHECK(st.u.unbound.dom == 0);
    CHECK(ch.send(guestPort) == 0); // dropped

    // A backend binds to it again (it is unbound for domain 0).
    auto again = ch.bindHostPort(guestPort);
    REQUIRE(again.ok());
    CHECK(readable((*again)->guestToHostFd())); // the bind notifies dom0's side
    drain((*again)->guestToHostFd());
    CHECK(ch.send(guestPort) == 0);
    CHECK(readable((*again)->guestToHostFd()));
    // Not bindable twice, nor a port unbound for another domain.
    CHECK_FALSE(ch.bindHostPort(guestPort).ok());
    int selfPort = ch.allocUnbound(DOMID_SELF, DOMID_SELF);
    REQUIRE(selfPort > 0);
    CHECK_FALSE(ch.bindHostPort(static_cast<uint32_t>(selfPort)).ok());
    CHECK_FALSE(ch.bindHostPort(100000).ok());
}

TEST_CASE("host port: Xen-attached ports are off limits to the guest", "[evtchn][host]") {
    FakeEventBitmaps bits(2);
    EventChannels ch(
        EventChannelsConfig{1, 2, 1023}, bits, [](uint32_t) {}, [] {});
    auto port = ch.allocateHostPort({true, 1});
    REQUIRE(port.ok());
    uint32_t p = (*port)->guestPort();
    CHECK(ch.send(p) == -XEN_EINVAL);
    CHECK(ch.close(p) == -XEN_EINVAL);
    CHECK(ch.bindVcpu(p, 0) == -XEN_EINVAL);
    evtchn_status_t st{};
    st.dom = DOMID_SELF;
    st.port = p;
    CHECK(ch.status(st) == -XEN_EACCES);
    CHECK(ch.pollPort(p) == 0);
    CHECK(ch.reset(DOMID_SELF) == 0);
    CHECK((*port)->connected());                       // reset cannot close it either
    CHECK_FALSE(ch.allocateHostPort({false, 2}).ok()); // no vCPU 2
}
