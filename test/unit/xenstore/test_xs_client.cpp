// basalt::xs::Client against an in-process xenstored on a temporary socket.

#include "test/unit/xenstore/xs_server_thread.h"
#include "toolstack/xs_client/xs_client.h"

#include <catch2/catch.hpp>

#include <sys/eventfd.h>

using namespace std::chrono_literals;
using basalt::xenstore::test::ServerThread;
using basalt::xs::Client;
using basalt::xs::Permission;

namespace {

Client connectTo(const ServerThread& st) {
    auto c = Client::connect(st.path());
    REQUIRE(c.ok());
    return std::move(c.value());
}

} // namespace

TEST_CASE("xs client: read, write, mkdir, directory, remove") {
    ServerThread st;
    REQUIRE(st.listening());
    Client c = connectTo(st);
    REQUIRE(c.write("/a/b", "hello").ok());
    auto v = c.read("/a/b");
    REQUIRE(v.ok());
    CHECK(v.value() == "hello");
    // Values are bytes, not strings: an embedded NUL survives.
    REQUIRE(c.write("/a/bin", std::string("x\0y", 3)).ok());
    CHECK(c.read("/a/bin").value() == std::string("x\0y", 3));
    REQUIRE(c.mkdir("/a/dir").ok());
    CHECK(c.read("/a/dir").value().empty());
    auto d = c.directory("/a");
    REQUIRE(d.ok());
    CHECK(d.value() == std::vector<std::string>{"b", "bin", "dir"});
    REQUIRE(c.remove("/a/b").ok());
    auto gone = c.read("/a/b");
    REQUIRE(!gone.ok());
    CHECK(gone.error().code == ENOENT);
    CHECK(c.remove("/a/b").ok()); // a missing node is not an error
    auto bad = c.write("/bad path", "x");
    REQUIRE(!bad.ok());
    CHECK(bad.error().code == EINVAL);
    CHECK(c.connected());
}

TEST_CASE("xs client: permissions are enforced for the domain given them") {
    ServerThread st;
    Client c = connectTo(st);
    REQUIRE(c.write("/local/domain/7/x", "1").ok());
    REQUIRE(c.setPermissions("/local/domain/7", {Permission{'n', 7}}).ok());
    REQUIRE(c.setPermissions("/secret", {Permission{'n', 0}}).ok() == false); // no such node
    REQUIRE(c.write("/secret", "s").ok());
    REQUIRE(c.setPermissions("/secret", {Permission{'n', 0}, Permission{'r', 7}}).ok());
    CHECK(!c.setPermissions("/secret", {Permission{'q', 0}}).ok());
    auto perms = st.run([&] {
        const auto* n = st.server().tree().find("/secret");
        return n ? n->perms.size() : size_t{0};
    });
    CHECK(perms == 2);
    auto home = st.run([&] { return st.server().tree().find("/local/domain/7")->perms[0].id; });
    CHECK(home == 7);
}

TEST_CASE("xs client: watches and waitForValue") {
    ServerThread st;
    Client c = connectTo(st);
    Client writer = connectTo(st);
    REQUIRE(c.watch("/dm/state", "tok").ok());
    auto first = c.waitWatch(2s); // a new watch fires once at once
    REQUIRE(first.ok());
    CHECK(first->path == "/dm/state");
    CHECK(first->token == "tok");
    auto none = c.waitWatch(50ms);
    REQUIRE(!none.ok());
    CHECK(none.error().code == ETIMEDOUT);
    REQUIRE(writer.write("/dm/state", "starting").ok());
    auto ev = c.waitWatch(2s);
    REQUIRE(ev.ok());
    CHECK(ev->path == "/dm/state");

    std::thread later([&] {
        std::this_thread::sleep_for(20ms);
        REQUIRE(writer.write("/dm/state", "running").ok());
    });
    auto st2 = c.waitForValue("/dm/state", "running", 10s);
    later.join();
    CHECK(st2.ok());
    // The wait's own events do not leak into waitWatch(); "tok" still fires.
    REQUIRE(writer.write("/dm/state", "paused").ok());
    auto ev2 = c.waitWatch(2s);
    REQUIRE(ev2.ok());
    CHECK(ev2->token == "tok");
    REQUIRE(c.unwatch("/dm/state", "tok").ok());

    auto timeout = c.waitForValue("/dm/state", "never", 30ms);
    REQUIRE(!timeout.ok());
    CHECK(timeout.error().code == ETIMEDOUT);
    CHECK(c.connected());

    int abandon = ::eventfd(1, EFD_CLOEXEC); // already readable
    REQUIRE(abandon >= 0);
    auto gaveUp = c.waitForValue("/dm/state", "never", 10s, abandon);
    ::close(abandon);
    REQUIRE(!gaveUp.ok());
    CHECK(gaveUp.error().code == ECHILD);
    CHECK(c.read("/dm/state").value() == "paused");
}

TEST_CASE("xs client: plain introduce and release") {
    ServerThread st;
    Client c = connectTo(st);
    REQUIRE(c.watch("@introduceDomain", "i").ok());
    REQUIRE(c.waitWatch(2s).ok());
    REQUIRE(c.introduce(5, 0xfeffc, 3, -1, 0, -1, -1).ok());
    auto ev = c.waitWatch(2s);
    REQUIRE(ev.ok());
    CHECK(ev->path == "@introduceDomain");
    CHECK(st.run([&] { return st.server().domains().count(5); }) == 1);
    REQUIRE(c.release(5).ok());
    CHECK(st.run([&] { return st.server().domains().count(5); }) == 0);
    auto again = c.release(5);
    REQUIRE(!again.ok());
    CHECK(again.error().code == ENOENT);
    CHECK(Client::domainPath(5) == "/local/domain/5");
}

TEST_CASE("xs client: connect failures and XENSTORED_PATH") {
    auto missing = Client::connect("/nonexistent/xenstored/socket");
    REQUIRE(!missing.ok());
    CHECK(missing.error().code == ENOENT);
    ServerThread st;
    ::setenv("XENSTORED_PATH", st.path().c_str(), 1);
    auto viaEnv = Client::connect();
    ::unsetenv("XENSTORED_PATH");
    REQUIRE(viaEnv.ok());
    CHECK(viaEnv->write("/env", "1").ok());
}
