// Watches: path and children, tokens, relative paths, permissions, unwatch.

#include "test/unit/xenstore/xs_test_util.h"

#include <catch2/catch.hpp>

using namespace basalt::xenstore;
using namespace basalt::xenstore::test;

namespace {
std::vector<std::string> payloads(std::vector<Message> ms) {
    std::vector<std::string> out;
    for (auto& m : ms) {
        REQUIRE(m.type == XS_WATCH_EVENT);
        out.push_back(m.payload);
    }
    return out;
}
} // namespace

TEST_CASE("watches fire on the path and its children with the token") {
    Server s;
    auto w = client(s, 0);
    auto c = client(s, 0);
    REQUIRE(Client::text(w.call(XS_WATCH, nul("/a") + nul("T1"))) == "OK");
    CHECK(payloads(w.events()) == std::vector<std::string>{nul("/a") + nul("T1")}); // initial
    c.write("/a/b/c", "1");
    CHECK(payloads(w.events()) == std::vector<std::string>{nul("/a/b/c") + nul("T1")});
    c.write("/ab", "1"); // not a child
    CHECK(w.events().empty());
    c.write("/", "root"); // an ancestor does not fire
    CHECK(w.events().empty());
    CHECK(Client::text(w.call(XS_WATCH, nul("/a") + nul("T1"))) == "ERR:EEXIST");
    CHECK(Client::text(w.call(XS_WATCH, nul("/a/b/c") + nul("T2"))) == "OK");
    w.events();
    // Removing /a/b fires /a (ancestor) and /a/b/c (exact, removed child).
    c.call(XS_RM, nul("/a/b"));
    auto ev = payloads(w.events());
    CHECK(ev.size() == 2);
    CHECK(std::count(ev.begin(), ev.end(), nul("/a/b/c") + nul("T2")) == 1);
    CHECK(std::count(ev.begin(), ev.end(), nul("/a/b") + nul("T1")) == 1);
    CHECK(Client::text(w.call(XS_UNWATCH, nul("/a") + nul("T1"))) == "OK");
    CHECK(Client::text(w.call(XS_UNWATCH, nul("/a") + nul("T1"))) == "ERR:ENOENT");
    c.write("/a/x", "1");
    CHECK(w.events().empty());
    CHECK(Client::text(w.call(XS_WATCH, nul("/z") + nul("T"))) == "OK");
    CHECK(Client::text(w.call(XS_RESET_WATCHES, "")) == "OK");
    w.events();
    c.write("/z", "1");
    CHECK(w.events().empty());
}

TEST_CASE("relative watches report relative paths") {
    Server s;
    auto d0 = client(s, 0);
    REQUIRE(d0.write("/local/domain/7/dev", "") == "OK");
    REQUIRE(Client::text(d0.call(XS_SET_PERMS, nul("/local/domain/7") + nul("n7"))) == "OK");
    REQUIRE(Client::text(d0.call(XS_SET_PERMS, nul("/local/domain/7/dev") + nul("n7"))) == "OK");
    auto g = client(s, 7);
    REQUIRE(Client::text(g.call(XS_WATCH, nul("dev") + nul("tk"))) == "OK");
    CHECK(payloads(g.events()) == std::vector<std::string>{nul("dev") + nul("tk")});
    d0.write("/local/domain/7/dev/vif/0/state", "1");
    CHECK(payloads(g.events()) == std::vector<std::string>{nul("dev/vif/0/state") + nul("tk")});
}

TEST_CASE("watch events only for watchers with read permission") {
    Server s;
    auto d0 = client(s, 0);
    auto g = client(s, 5);
    REQUIRE(Client::text(g.call(XS_WATCH, nul("/secret") + nul("x"))) == "OK");
    g.events();
    d0.write("/secret/key", "hidden");
    CHECK(g.events().empty());
    REQUIRE(Client::text(d0.call(XS_SET_PERMS, nul("/secret/key") + nul("n0") + nul("r5"))) ==
            "OK");
    CHECK(g.events().size() == 1); // the permission change itself is now visible
    d0.write("/secret/key", "visible");
    CHECK(payloads(g.events()) == std::vector<std::string>{nul("/secret/key") + nul("x")});
}
