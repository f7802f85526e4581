// What survives a daemon restart, and what a failed journal write leaves
// behind (nothing): the tree is rolled back and the client gets EIO.

#include "test/unit/xenstore/xs_test_util.h"
#include "toolstack/xenstored/persistence.h"
#include "toolstack/xenstored/ring_connection.h"

#include <catch2/catch.hpp>

#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <sys/resource.h>
#include <unistd.h>

using namespace basalt;
using namespace basalt::xenstore;
using namespace basalt::xenstore::test;

namespace {

std::string tempDir() {
    char tmpl[] = "/tmp/xs-restart-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    return tmpl;
}

// A journal that can be told to refuse.
struct FailingSink : ChangeSink {
    bool fail = false;
    size_t commits = 0;
    bool commit(const std::vector<StoreOp>&) override {
        commits++;
        return !fail;
    }
    bool saveDomains(const std::vector<SavedDomain>&) override { return !fail; }
};

// Everything observable about the tree, to compare before and after.
std::map<std::string, std::tuple<std::string, Perms, std::vector<std::string>, uint64_t>>
snapshot(Tree& tree) {
    std::map<std::string, std::tuple<std::string, Perms, std::vector<std::string>, uint64_t>> out;
    for (const auto& [path, node] : tree.nodes())
        out[path] = {node.value, node.perms, node.children, node.generation};
    return out;
}

std::string text(const Message& m) {
    return Client::text(m);
}

struct NullChannel : EventChannel {
    void notify() override {}
};

// A guest ring page driven by hand (see test_ring.cpp for the full version).
struct Page {
    alignas(4096) uint8_t bytes[kRingPageSize] = {};
    xenstore_domain_interface* intf() {
        return reinterpret_cast<xenstore_domain_interface*>(bytes);
    }
    void send(const std::string& b) {
        for (char c : b)
            intf()->req[MASK_XENSTORE_IDX(intf()->req_prod++)] = c;
    }
    std::vector<Message> receive() {
        std::vector<Message> out;
        while (intf()->rsp_cons != intf()->rsp_prod) {
            uint8_t c = static_cast<uint8_t>(intf()->rsp[MASK_XENSTORE_IDX(intf()->rsp_cons++)]);
            reader.feed(&c, 1);
            if (reader.hasMessage())
                out.push_back(reader.take());
        }
        return out;
    }
    MessageReader reader;
};

// Stands in for the three SCM_RIGHTS fds of an fd introduction.
void attachFds(Connection& c) {
    for (int i = 0; i < 3; i++)
        c.receivedFds.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

} // namespace

TEST_CASE("a change the journal refuses is rolled back and answered EIO") {
    Server s;
    FailingSink sink;
    s.setChangeSink(&sink);
    auto c = client(s, 0);
    auto watcher = client(s, 0);
    REQUIRE(c.write("/a/b", "1") == "OK");
    REQUIRE(c.write("/local/domain/5", "") == "OK");
    REQUIRE(text(c.call(XS_SET_PERMS, nul("/local/domain/5") + nul("n5"))) == "OK");
    REQUIRE(text(watcher.call(XS_WATCH, nul("/") + nul("w"))) == "OK");
    watcher.events();
    auto guest = client(s, 5);
    REQUIRE(guest.write("data/x", "g") == "OK");
    watcher.events();
    const auto before = snapshot(s.tree());
    const size_t guestNodes = s.tree().nodesOwnedBy(5);

    sink.fail = true;
    CHECK(c.write("/a/b", "2") == "ERR:EIO");
    CHECK(c.write("/new/deep/node", "x") == "ERR:EIO");
    CHECK(text(c.call(XS_MKDIR, nul("/made/here"))) == "ERR:EIO");
    CHECK(text(c.call(XS_RM, nul("/a"))) == "ERR:EIO");
    CHECK(text(c.call(XS_SET_PERMS, nul("/a/b") + nul("r3"))) == "ERR:EIO");
    CHECK(guest.write("data/y", "more") == "ERR:EIO");
    CHECK(guest.write("data/x", "changed") == "ERR:EIO");
    // A transaction whose commit cannot be journaled applies nothing.
    std::string tx = text(c.call(XS_TRANSACTION_START, nul("")));
    uint32_t txId = static_cast<uint32_t>(std::stoul(tx));
    REQUIRE(c.write("/a/b", "tx", txId) == "OK");
    REQUIRE(c.write("/a/c", "tx", txId) == "OK");
    CHECK(text(c.call(XS_TRANSACTION_END, nul("T"), txId)) == "ERR:EIO");

    CHECK(snapshot(s.tree()) == before);
    CHECK(s.tree().nodesOwnedBy(5) == guestNodes);
    std::string problem;
    CHECK(s.tree().checkConsistency(&problem));
    CHECK(watcher.events().empty()); // nobody heard of the refused changes
    CHECK(c.read("/a/b") == "1");

    sink.fail = false;
    CHECK(c.write("/a/b", "3") == "OK");
    CHECK(c.read("/a/b") == "3");
    CHECK(watcher.events().size() == 1);
    // Generations keep moving forward past the rolled-back ones.
    CHECK(s.tree().find("/a/b")->generation > std::get<3>(before.at("/a/b")));
}

TEST_CASE("a journal write that fails leaves nothing to replay") {
    std::string dir = tempDir();
    std::string file = dir + "/store";
    {
        Server s;
        auto p = Persistence::open(file, s.tree());
        REQUIRE(p.ok());
        s.setChangeSink(p->get());
        auto c = client(s, 0);
        REQUIRE(c.write("/kept", "yes") == "OK");
        // The journal may grow by little more: a big record fails midway.
        auto size = std::filesystem::file_size(file + ".journal");
        struct rlimit old {};
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
        auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
        struct rlimit small = old;
        small.rlim_cur = size + 64;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
        CHECK(c.write("/refused", std::string(2000, 'x')) == "ERR:EIO");
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
        std::signal(SIGXFSZ, oldHandler);
        CHECK(std::filesystem::file_size(file + ".journal") == size);
        CHECK(c.read("/refused") == "ERR:ENOENT");
        CHECK(c.write("/after", "ok") == "OK");
    }
    Server s;
    auto p = Persistence::open(file, s.tree());
    REQUIRE(p.ok());
    auto c = client(s, 0);
    CHECK(c.read("/kept") == "yes");
    CHECK(c.read("/after") == "ok");
    CHECK(c.read("/refused") == "ERR:ENOENT");
    std::filesystem::remove_all(dir);
}

TEST_CASE("introduced domains and their rings' watches survive a restart") {
    std::string dir = tempDir();
    std::string file = dir + "/store";
    Page page;
    NullChannel channel;
    auto ringFor = [&](Server& s) {
        return [&s, &page, &channel](DomId domid, RingFds) -> Result<std::shared_ptr<Connection>> {
            return std::shared_ptr<Connection>(
                std::make_shared<RingConnection>(s, domid, page.bytes, channel));
        };
    };
    {
        Server s;
        auto p = Persistence::open(file, s.tree());
        REQUIRE(p.ok());
        s.setChangeSink(p->get());
        s.setFdRingIntroducer(ringFor(s));
        auto d0 = client(s, 0);
        REQUIRE(d0.write("/local/domain/5", "") == "OK");
        REQUIRE(text(d0.call(XS_SET_PERMS, nul("/local/domain/5") + nul("n5"))) == "OK");
        REQUIRE(text(d0.call(XS_INTRODUCE, nul("6") + nul("100") + nul("9"))) == "OK");
        attachFds(*d0.conn);
        REQUIRE(text(d0.call(XS_INTRODUCE, nul("5") + nul("254") + nul("7") + nul("0"))) == "OK");
        REQUIRE(text(d0.call(XS_SET_TARGET, nul("6") + nul("5"))) == "OK");
        // The guest watches through its ring; one watch relative, one absolute.
        page.send(encodeMessage(XS_WATCH, 1, 0, nul("data") + nul("rel")));
        page.send(encodeMessage(XS_WATCH, 2, 0, nul("/local/domain/5/x") + nul("abs")));
        page.send(encodeMessage(XS_TRANSACTION_START, 3, 0, nul("")));
        static_cast<RingConnection&>(*s.domains().at(5).connection).kicked();
        auto replies = page.receive();
        REQUIRE(replies.size() == 5); // 3 replies, 2 initial events
        // no compact, no release: the daemon is killed here
    }
    Server s;
    auto p = Persistence::open(file, s.tree());
    REQUIRE(p.ok());
    s.setChangeSink(p->get());
    s.setFdRingIntroducer(ringFor(s));
    s.restoreDomains(p.value()->savedDomains());
    auto d0 = client(s, 0);
    CHECK(text(d0.call(XS_IS_DOMAIN_INTRODUCED, nul("5"))) == "T");
    CHECK(text(d0.call(XS_IS_DOMAIN_INTRODUCED, nul("6"))) == "T");
    CHECK(s.domains().at(6).target == std::optional<DomId>(5));
    CHECK(s.domains().at(5).port == 7);
    // The core hands the ring over again: its watches are back and fire once.
    attachFds(*d0.conn);
    REQUIRE(text(d0.call(XS_INTRODUCE, nul("5") + nul("254") + nul("7") + nul("0"))) == "OK");
    auto& ring = static_cast<RingConnection&>(*s.domains().at(5).connection);
    REQUIRE(ring.watches.size() == 2);
    auto events = page.receive();
    REQUIRE(events.size() == 2);
    CHECK(events[0].payload == nul("data") + nul("rel"));
    CHECK(events[1].payload == nul("/local/domain/5/x") + nul("abs"));
    REQUIRE(d0.write("/local/domain/5/data/k", "v") == "OK");
    events = page.receive();
    REQUIRE(events.size() == 1);
    CHECK(events[0].payload == nul("data/k") + nul("rel"));
    // Its open transaction is gone: the guest is told to retry.
    page.send(encodeMessage(XS_WRITE, 4, 1, nul("data/t") + "v"));
    ring.kicked();
    auto retry = page.receive();
    REQUIRE(retry.size() == 1);
    CHECK(text(retry[0]) == "ERR:EAGAIN");
    // Released: gone from the saved domains too.
    REQUIRE(text(d0.call(XS_RELEASE, nul("6"))) == "OK");
    std::vector<SavedDomain> saved;
    {
        Tree t;
        auto again = Persistence::open(file, t);
        REQUIRE(again.ok());
        saved = again.value()->savedDomains();
    }
    REQUIRE(saved.size() == 1);
    CHECK(saved[0].domid == 5);
    CHECK(saved[0].watches.size() == 2);
    std::filesystem::remove_all(dir);
}

TEST_CASE("saved domains: encode/decode round trip, truncation and bad values") {
    std::vector<SavedDomain> in{{5, 0xfeffc, 3, std::nullopt, {Watch{"/a", "t", ""}}},
                                {9, uint64_t{1} << 40, 1, DomId{5}, {}}};
    std::vector<SavedDomain> out;
    std::string enc = encodeDomains(in);
    REQUIRE(decodeDomains(enc, &out));
    REQUIRE(out.size() == 2);
    CHECK(out[1].mfn == uint64_t{1} << 40);
    CHECK(out[1].target == std::optional<DomId>(5));
    CHECK(out[0].watches[0].token == "t");
    for (size_t cut = 0; cut < enc.size(); cut++) {
        std::vector<SavedDomain> partial;
        CHECK_FALSE(decodeDomains(std::string_view(enc).substr(0, cut), &partial));
    }
    std::vector<SavedDomain> dom0{{0, 1, 1, std::nullopt, {}}};
    CHECK_FALSE(decodeDomains(encodeDomains(dom0), &out));
}
