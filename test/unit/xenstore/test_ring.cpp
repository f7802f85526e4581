// RingConnection against an in-memory page and a fake event channel,
// including a hostile guest scribbling on its indices.

#include "test/unit/xenstore/xs_test_util.h"
#include "toolstack/xenstored/ring_connection.h"

#include <catch2/catch.hpp>

#include <cstring>

using namespace basalt::xenstore;
using namespace basalt::xenstore::test;

namespace {

struct FakeChannel : EventChannel {
    int notified = 0;
    void notify() override { notified++; }
};

// The guest side of the ring, as a frontend would drive it.
struct Guest {
    alignas(4096) uint8_t page[kRingPageSize] = {};
    xenstore_domain_interface* intf() { return reinterpret_cast<xenstore_domain_interface*>(page); }

    bool send(const std::string& bytes) {
        auto* i = intf();
        if (bytes.size() > XENSTORE_RING_SIZE - (i->req_prod - i->req_cons))
            return false;
        for (char c : bytes) {
            i->req[MASK_XENSTORE_IDX(i->req_prod)] = c;
            i->req_prod++;
        }
        return true;
    }
    std::string receive() {
        auto* i = intf();
        std::string out;
        while (i->rsp_cons != i->rsp_prod) {
            out += i->rsp[MASK_XENSTORE_IDX(i->rsp_cons)];
            i->rsp_cons++;
        }
        return out;
    }
    MessageReader r; // replies may arrive split across receive() calls
    std::vector<Message> decode(const std::string& bytes) {
        std::vector<Message> out;
        size_t off = 0;
        while (off < bytes.size() && !r.broken()) {
            off += r.feed(reinterpret_cast<const uint8_t*>(bytes.data()) + off, bytes.size() - off);
            if (r.hasMessage())
                out.push_back(r.take());
        }
        return out;
    }
};

} // namespace

struct RingFixture {
    Server server;
    Client d0 = client(server, 0);
    Guest guest;
    FakeChannel channel;
    std::shared_ptr<RingConnection> ring;

    explicit RingFixture(DomId domid = 3) {
        REQUIRE(d0.write(homePath(domid), "") == "OK");
        REQUIRE(Client::text(d0.call(XS_SET_PERMS, nul(homePath(domid)) +
                                                       nul("n" + std::to_string(domid)))) == "OK");
        ring = std::make_shared<RingConnection>(server, domid, guest.page, channel);
        server.attach(ring);
    }
    std::vector<Message> roundTrip(const std::string& bytes) {
        REQUIRE(guest.send(bytes));
        ring->kicked();
        return guest.decode(guest.receive());
    }
};

TEST_CASE("ring: requests and replies, wrapping many times") {
    RingFixture f;
    CHECK(f.guest.intf()->server_features & XENSTORE_SERVER_FEATURE_ERROR);
    for (uint32_t i = 0; i < 300; i++) {
        std::string v = "value-" + std::to_string(i);
        auto replies = f.roundTrip(encodeMessage(XS_WRITE, i, 0, nul("k") + v));
        REQUIRE(replies.size() == 1);
        CHECK(replies[0].type == XS_WRITE);
        CHECK(replies[0].reqId == i);
        replies = f.roundTrip(encodeMessage(XS_READ, i, 0, nul("k")));
        REQUIRE(replies.size() == 1);
        CHECK(replies[0].payload == v);
    }
    CHECK(f.d0.read("/local/domain/3/k") == "value-299");
    CHECK(f.channel.notified > 0);
    // Other domains' paths are refused.
    auto r = f.roundTrip(encodeMessage(XS_WRITE, 1, 0, nul("/local/domain/0/x") + "y"));
    REQUIRE(r.size() == 1);
    CHECK(r[0].type == XS_ERROR);
    CHECK(r[0].payload == nul("EACCES"));
}

TEST_CASE("ring: a message split across kicks and a full response ring") {
    RingFixture f;
    std::string msg = encodeMessage(XS_READ, 5, 0, nul("nothing"));
    REQUIRE(f.guest.send(msg.substr(0, 7)));
    f.ring->kicked();
    CHECK(f.guest.receive().empty());
    REQUIRE(f.guest.send(msg.substr(7)));
    f.ring->kicked();
    auto replies = f.guest.decode(f.guest.receive());
    REQUIRE(replies.size() == 1);
    CHECK(replies[0].payload == nul("ENOENT"));
    // A guest that does not consume replies: at most the quota is queued.
    REQUIRE(f.d0.write("/local/domain/3/big", std::string(900, 'x')) == "OK");
    for (int i = 0; i < 40; i++) {
        if (!f.guest.send(encodeMessage(XS_READ, i, 0, nul("big"))))
            break;
        f.ring->kicked();
    }
    CHECK(f.ring->queuedMessages() <= f.server.quotas().maxOutstanding);
    CHECK_FALSE(f.ring->closed());
    // Draining resumes processing.
    size_t got = 0;
    for (int i = 0; i < 100; i++) {
        got += f.guest.decode(f.guest.receive()).size();
        f.ring->kicked();
    }
    CHECK(got >= 20);
}

TEST_CASE("ring: hostile indices drop only that connection") {
    RingFixture f;
    Guest other;
    FakeChannel otherChannel;
    REQUIRE(f.d0.write(homePath(4), "") == "OK");
    auto ring4 = std::make_shared<RingConnection>(f.server, 4, other.page, otherChannel);
    f.server.attach(ring4);

    SECTION("producer far ahead of consumer") {
        f.guest.intf()->req_prod = f.guest.intf()->req_cons + 5000;
        f.ring->kicked();
        CHECK(f.ring->closed());
        CHECK(f.guest.intf()->error == XENSTORE_ERROR_RINGIDX);
    }
    SECTION("guest rewrites the server's consumer index") {
        REQUIRE(f.guest.send(encodeMessage(XS_READ, 1, 0, nul("x"))));
        f.guest.intf()->req_cons = 77;
        f.ring->kicked();
        CHECK(f.ring->closed());
    }
    SECTION("guest rewrites the response indices") {
        f.guest.intf()->rsp_cons = 0x80000000u;
        REQUIRE(f.guest.send(encodeMessage(XS_READ, 1, 0, nul("x"))));
        f.ring->kicked();
        CHECK(f.ring->closed());
    }
    SECTION("payload over XENSTORE_PAYLOAD_MAX") {
        xsd_sockmsg h{XS_WRITE, 1, 0, XENSTORE_PAYLOAD_MAX + 1};
        REQUIRE(f.guest.send(std::string(reinterpret_cast<const char*>(&h), sizeof(h))));
        f.ring->kicked();
        CHECK(f.ring->closed());
        CHECK(f.guest.intf()->error == XENSTORE_ERROR_PROTO);
    }
    // Kicks after the drop do nothing.
    f.ring->kicked();
    // The other guest and dom0 carry on.
    REQUIRE(other.send(encodeMessage(XS_GET_DOMAIN_PATH, 9, 0, nul("4"))));
    ring4->kicked();
    auto replies = other.decode(other.receive());
    REQUIRE(replies.size() == 1);
    CHECK(replies[0].payload == nul("/local/domain/4"));
    CHECK(f.d0.write("/still", "fine") == "OK");
}

TEST_CASE("ring: reconnect resets the ring and the connection's state") {
    RingFixture f;
    auto r = f.roundTrip(encodeMessage(XS_WATCH, 1, 0, nul("dev") + nul("t")));
    REQUIRE(r.size() == 2);
    CHECK(f.ring->watches.size() == 1);
    f.guest.intf()->connection = XENSTORE_RECONNECT;
    f.ring->kicked();
    CHECK(f.guest.intf()->connection == XENSTORE_CONNECTED);
    CHECK(f.guest.intf()->req_prod == 0);
    CHECK(f.guest.intf()->rsp_prod == 0);
    CHECK(f.ring->watches.empty());
    r = f.roundTrip(encodeMessage(XS_GET_DOMAIN_PATH, 2, 0, nul("3")));
    REQUIRE(r.size() == 1);
}

TEST_CASE("ring: watch events for a guest arrive through its ring") {
    RingFixture f;
    auto r = f.roundTrip(encodeMessage(XS_WATCH, 1, 0, nul("dev") + nul("t")));
    REQUIRE(r.size() == 2);
    f.channel.notified = 0;
    REQUIRE(f.d0.write("/local/domain/3/dev/x", "1") == "OK");
    CHECK(f.channel.notified == 1);
    auto ev = f.guest.decode(f.guest.receive());
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].type == XS_WATCH_EVENT);
    CHECK(ev[0].payload == nul("dev/x") + nul("t"));
}
