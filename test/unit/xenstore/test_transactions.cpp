// Generation-count transactions: isolation, atomic commit, EAGAIN on conflict.

#include "test/unit/xenstore/xs_test_util.h"

#include <catch2/catch.hpp>

using namespace basalt::xenstore;
using namespace basalt::xenstore::test;

namespace {
uint32_t start(Client& c) {
    Message m = c.call(XS_TRANSACTION_START, nul(""));
    REQUIRE(m.type == XS_TRANSACTION_START);
    return static_cast<uint32_t>(std::stoul(m.payload));
}
std::string end(Client& c, uint32_t tx, bool commit) {
    return Client::text(c.call(XS_TRANSACTION_END, nul(commit ? "T" : "F"), tx));
}
} // namespace

TEST_CASE("transaction changes are invisible until commit") {
    Server s;
    auto a = client(s, 0);
    auto b = client(s, 0);
    REQUIRE(a.write("/t/x", "0") == "OK");
    uint32_t tx = start(a);
    CHECK(a.write("/t/x", "1", tx) == "OK");
    CHECK(a.write("/t/new/deep", "n", tx) == "OK");
    CHECK(a.read("/t/x", tx) == "1");
    CHECK(a.read("/t/x") == "0");
    CHECK(b.read("/t/x") == "0");
    CHECK(b.read("/t/new/deep") == "ERR:ENOENT");
    CHECK(end(a, tx, true) == "OK");
    CHECK(b.read("/t/x") == "1");
    CHECK(b.read("/t/new/deep") == "n");
    std::string problem;
    CHECK(s.tree().checkConsistency(&problem));
}

TEST_CASE("abort discards everything") {
    Server s;
    auto a = client(s, 0);
    uint32_t tx = start(a);
    CHECK(a.write("/gone", "1", tx) == "OK");
    CHECK(end(a, tx, false) == "OK");
    CHECK(a.read("/gone") == "ERR:ENOENT");
    CHECK(end(a, tx, true) == "ERR:ENOENT");
    CHECK(a.read("/gone", 77) == "ERR:ENOENT"); // unknown transaction
}

TEST_CASE("conflicting transactions: one gets EAGAIN, no update lost") {
    Server s;
    auto a = client(s, 0);
    auto b = client(s, 0);
    REQUIRE(a.write("/counter", "4") == "OK");
    uint32_t ta = start(a);
    uint32_t tb = start(b);
    CHECK(a.read("/counter", ta) == "4");
    CHECK(b.read("/counter", tb) == "4");
    CHECK(a.write("/counter", "5", ta) == "OK");
    CHECK(b.write("/counter", "5", tb) == "OK");
    CHECK(end(a, ta, true) == "OK");
    CHECK(end(b, tb, true) == "ERR:EAGAIN");
    CHECK(a.read("/counter") == "5");
    // A non-transactional write also conflicts with a transaction that read it.
    uint32_t t2 = start(b);
    CHECK(b.read("/counter", t2) == "5");
    CHECK(a.write("/counter", "9") == "OK");
    CHECK(b.write("/other", "x", t2) == "OK");
    CHECK(end(b, t2, true) == "ERR:EAGAIN");
    CHECK(b.read("/other") == "ERR:ENOENT"); // nothing partial
    // Creating a child changes its parent: a directory read conflicts.
    uint32_t t3 = start(b);
    CHECK(b.call(XS_DIRECTORY, nul("/"), t3).type == XS_DIRECTORY);
    CHECK(a.write("/newchild", "x") == "OK");
    CHECK(end(b, t3, true) == "ERR:EAGAIN");
    // Disjoint transactions both commit (a new child changes its parent, so
    // the parents exist already).
    REQUIRE(a.write("/p", "") == "OK");
    REQUIRE(a.write("/q", "") == "OK");
    uint32_t t4 = start(a);
    uint32_t t5 = start(b);
    CHECK(a.write("/p/one", "1", t4) == "OK");
    CHECK(b.write("/q/two", "2", t5) == "OK");
    CHECK(end(a, t4, true) == "OK");
    CHECK(end(b, t5, true) == "OK");
}

TEST_CASE("transaction ops: no nesting, watches fire at commit, rm inside") {
    Server s;
    auto a = client(s, 0);
    auto w = client(s, 0);
    REQUIRE(a.write("/r/a/b", "1") == "OK");
    REQUIRE(Client::text(w.call(XS_WATCH, nul("/r") + nul("tok"))) == "OK");
    w.events();
    uint32_t tx = start(a);
    CHECK(Client::text(a.call(XS_TRANSACTION_START, nul(""), tx)) == "ERR:EBUSY");
    CHECK(Client::text(a.call(XS_RM, nul("/r/a"), tx)) == "OK");
    CHECK(a.read("/r/a/b", tx) == "ERR:ENOENT");
    CHECK(a.read("/r/a/b") == "1");
    CHECK(w.events().empty());
    CHECK(end(a, tx, true) == "OK");
    auto ev = w.events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].payload == nul("/r/a") + nul("tok"));
    CHECK(a.read("/r/a/b") == "ERR:ENOENT");
    std::string problem;
    CHECK(s.tree().checkConsistency(&problem));
}
