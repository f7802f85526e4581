// XS_INTRODUCE with the store page and event channel as fds: the daemon maps
// the page, serves the guest's ring, and drops it with its introducer.

#include "test/unit/xenstore/xs_server_thread.h"
#include "toolstack/xs_client/xs_client.h"

#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include <cstring>

using namespace std::chrono_literals;
using namespace basalt;
using basalt::xenstore::test::ServerThread;
using basalt::xs::Client;
using basalt::xs::Permission;

namespace {

constexpr uint32_t kGuest = 5;
constexpr uint32_t kPort = 3;
constexpr uint64_t kPageOffset = 2 * 4096;
constexpr size_t kMemfdSize = 4 * 4096;

// The guest's side: RAM as a memfd, its store page mapped, its event channel
// as the two eventfds the core would make.
struct GuestRing {
    UniqueFd memfd{::memfd_create("guest-ram", MFD_CLOEXEC)};
    UniqueFd toStore{::eventfd(0, EFD_CLOEXEC)};
    UniqueFd fromStore{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    MappedRegion map;
    uint32_t reqId = 1;

    GuestRing() {
        REQUIRE(memfd);
        REQUIRE(::ftruncate(memfd.get(), kMemfdSize) == 0);
        auto m =
            MappedRegion::map(4096, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), kPageOffset);
        REQUIRE(m.ok());
        map = std::move(m.value());
    }
    xenstore_domain_interface* intf() {
        return reinterpret_cast<xenstore_domain_interface*>(map.data());
    }
    void kick() {
        uint64_t one = 1;
        REQUIRE(::write(toStore.get(), &one, sizeof(one)) == sizeof(one));
    }
    void put(const std::string& bytes) {
        auto* i = intf();
        for (char c : bytes) {
            REQUIRE(i->req_prod - i->req_cons < XENSTORE_RING_SIZE);
            i->req[MASK_XENSTORE_IDX(i->req_prod)] = c;
            __atomic_store_n(&i->req_prod, i->req_prod + 1, __ATOMIC_RELEASE);
        }
        kick();
    }
    // Waits for the store's notification, then for one whole reply.
    xenstore::Message reply() {
        xenstore::MessageReader reader;
        auto* i = intf();
        while (!reader.hasMessage()) {
            pollfd p{fromStore.get(), POLLIN, 0};
            REQUIRE(::poll(&p, 1, 5000) == 1);
            uint64_t count;
            REQUIRE(::read(fromStore.get(), &count, sizeof(count)) == sizeof(count));
            while (!reader.hasMessage() &&
                   __atomic_load_n(&i->rsp_prod, __ATOMIC_ACQUIRE) != i->rsp_cons) {
                uint8_t c = static_cast<uint8_t>(i->rsp[MASK_XENSTORE_IDX(i->rsp_cons)]);
                i->rsp_cons++;
                reader.feed(&c, 1);
            }
        }
        return reader.take();
    }
    // "OK", the value, or "ERR:<name>".
    std::string call(uint32_t type, const std::string& body) {
        put(xenstore::encodeMessage(type, reqId++, 0, body));
        auto m = reply();
        std::string s = m.payload;
        if (!s.empty() && s.back() == '\0')
            s.pop_back();
        return m.type == XS_ERROR ? "ERR:" + s : s;
    }
    Status introduce(Client& c, uint64_t offset = kPageOffset) {
        return c.introduce(kGuest, 0xfeffc, kPort, memfd.get(), offset, toStore.get(),
                           fromStore.get());
    }
};

size_t domains(ServerThread& st) {
    return st.run([&] { return st.server().domains().size(); });
}

} // namespace

TEST_CASE("fd introduce: the guest's ring is served, with its own permissions") {
    ServerThread st;
    Client dom0 = Client::connect(st.path()).value();
    REQUIRE(dom0.write("/local/domain/5", "").ok());
    REQUIRE(dom0.setPermissions("/local/domain/5", {Permission{'n', kGuest}}).ok());
    REQUIRE(dom0.write("/local/domain/9/secret", "s").ok());
    REQUIRE(dom0.setPermissions("/local/domain/9", {Permission{'n', 9}}).ok());
    REQUIRE(dom0.watch("@introduceDomain", "in").ok());
    REQUIRE(dom0.watch("@releaseDomain", "out").ok());
    REQUIRE(dom0.waitWatch(2s).ok());
    REQUIRE(dom0.waitWatch(2s).ok());

    GuestRing guest;
    Client introducer = Client::connect(st.path()).value();
    // A request queued before the introduction is answered once it lands.
    guest.put(xenstore::encodeMessage(XS_WRITE, guest.reqId++, 0,
                                      "data/test" + std::string(1, '\0') + "early"));
    REQUIRE(guest.introduce(introducer).ok());
    CHECK(guest.reply().type == XS_WRITE);
    CHECK(dom0.waitWatch(2s)->path == "@introduceDomain");

    CHECK(guest.call(XS_WRITE, std::string("data/test\0hello", 15)) == "OK");
    CHECK(guest.call(XS_READ, std::string("/local/domain/5/data/test\0", 26)) == "hello");
    CHECK(guest.call(XS_READ, std::string("/local/domain/9/secret\0", 23)) == "ERR:EACCES");
    CHECK(dom0.read("/local/domain/5/data/test").value() == "hello");
    CHECK(domains(st) == 1);

    // The same port again without fds is the Xen no-op; another port is refused.
    CHECK(introducer.introduce(kGuest, 0xfeffc, kPort, -1, 0, -1, -1).ok());
    CHECK(!introducer.introduce(kGuest, 0xfeffc, kPort + 1, -1, 0, -1, -1).ok());

    // The introducer going away releases the domain.
    { Client gone = std::move(introducer); }
    auto ev = dom0.waitWatch(5s);
    REQUIRE(ev.ok());
    CHECK(ev->path == "@releaseDomain");
    CHECK(domains(st) == 0);
}

TEST_CASE("fd introduce: XS_RELEASE tears the ring down") {
    ServerThread st;
    Client dom0 = Client::connect(st.path()).value();
    REQUIRE(dom0.write("/local/domain/5", "").ok());
    REQUIRE(dom0.setPermissions("/local/domain/5", {Permission{'n', kGuest}}).ok());
    GuestRing guest;
    REQUIRE(guest.introduce(dom0).ok());
    CHECK(guest.call(XS_WRITE, std::string("a\0b", 3)) == "OK");
    REQUIRE(dom0.release(kGuest).ok());
    CHECK(domains(st) == 0);
    // Nobody answers the ring any more.
    guest.put(xenstore::encodeMessage(XS_READ, 99, 0, std::string("a\0", 2)));
    pollfd p{guest.fromStore.get(), POLLIN, 0};
    uint64_t drained;
    (void)!::read(guest.fromStore.get(), &drained, sizeof(drained));
    CHECK(::poll(&p, 1, 200) == 0);
    CHECK(guest.intf()->rsp_prod == guest.intf()->rsp_cons);
}

TEST_CASE("fd introduce: bad pages and fds are refused") {
    ServerThread st;
    Client dom0 = Client::connect(st.path()).value();
    GuestRing guest;
    auto misaligned = guest.introduce(dom0, 100);
    REQUIRE(!misaligned.ok());
    CHECK(misaligned.error().code == EINVAL);
    auto pastEnd = guest.introduce(dom0, kMemfdSize);
    REQUIRE(!pastEnd.ok());
    CHECK(pastEnd.error().code == EINVAL);
    auto huge = guest.introduce(dom0, ~uint64_t{0} & ~uint64_t{4095});
    REQUIRE(!huge.ok());
    // An eventfd is not a page.
    auto notFile = dom0.introduce(kGuest, 1, kPort, guest.toStore.get(), 0, guest.toStore.get(),
                                  guest.fromStore.get());
    REQUIRE(!notFile.ok());
    CHECK(domains(st) == 0);
    // The refusals left the connection usable.
    CHECK(dom0.write("/x", "1").ok());
    CHECK(dom0.connected());
}
