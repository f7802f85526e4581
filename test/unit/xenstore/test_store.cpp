// Node operations, paths and permissions through the wire handlers.

#include "test/unit/xenstore/xs_test_util.h"
#include "toolstack/xenstored/path.h"

#include <catch2/catch.hpp>

using namespace basalt::xenstore;
using namespace basalt::xenstore::test;

TEST_CASE("paths are validated like Xen's") {
    size_t max = XENSTORE_REL_PATH_MAX;
    CHECK(isValidNodeName("/", max));
    CHECK(isValidNodeName("/local/domain/1/data-x_y@z", max));
    CHECK_FALSE(isValidNodeName("", max));
    CHECK_FALSE(isValidNodeName("a/b", max));
    CHECK_FALSE(isValidNodeName("/a/", max));
    CHECK_FALSE(isValidNodeName("/a//b", max));
    CHECK_FALSE(isValidNodeName("/a b", max));
    CHECK_FALSE(isValidNodeName("/a\nb", max));
    CHECK_FALSE(isValidNodeName("/" + std::string(XENSTORE_ABS_PATH_MAX, 'a'), max));
    CHECK(isValidNodeName("/local/domain/3/" + std::string(max, 'a'), max));
    CHECK_FALSE(isValidNodeName("/local/domain/3/" + std::string(max + 1, 'a'), max));
    CHECK(canonicalize(5, "data") == "/local/domain/5/data");
    CHECK(canonicalize(5, "/x") == "/x");
    CHECK(parentOf("/a/b") == "/a");
    CHECK(parentOf("/a") == "/");
    CHECK(isChildOrSelf("/a/b", "/a"));
    CHECK(isChildOrSelf("/a", "/a"));
    CHECK_FALSE(isChildOrSelf("/ab", "/a"));
    CHECK(isChildOrSelf("/ab", "/"));
}

TEST_CASE("read, write, mkdir, directory, rm") {
    Server s;
    auto c = client(s, 0);
    CHECK(c.write("/a/b/c", "v") == "OK");
    CHECK(c.read("/a/b/c") == "v");
    CHECK(c.read("/a/b") == "");
    CHECK(c.read("/nope") == "ERR:ENOENT");
    CHECK(c.read("relative") == "ERR:ENOENT");
    CHECK(c.write("/a/b/d", std::string("bin\0ary", 7)) == "OK");
    CHECK(c.call(XS_READ, nul("/a/b/d")).payload == std::string("bin\0ary", 7));
    CHECK(c.call(XS_DIRECTORY, nul("/a/b")).payload == std::string("c\0d\0", 4));
    CHECK(Client::text(c.call(XS_MKDIR, nul("/a/b"))) == "OK");
    CHECK(Client::text(c.call(XS_MKDIR, nul("/m/n"))) == "OK");
    CHECK(c.read("/m/n") == "");
    CHECK(Client::text(c.call(XS_RM, nul("/a/b"))) == "OK");
    CHECK(c.read("/a/b/c") == "ERR:ENOENT");
    CHECK(c.call(XS_DIRECTORY, nul("/a")).payload.empty());
    CHECK(Client::text(c.call(XS_RM, nul("/a/zz"))) == "OK"); // parent exists
    CHECK(Client::text(c.call(XS_RM, nul("/q/zz"))) == "ERR:ENOENT");
    CHECK(Client::text(c.call(XS_RM, nul("/"))) == "ERR:EINVAL");
    CHECK(c.write("/bad path", "x") == "ERR:EINVAL");
    CHECK(Client::text(c.call(XS_READ, "/a")) == "ERR:EINVAL");       // no NUL
    CHECK(Client::text(c.call(XS_READ, "/a\0/b\0")) == "ERR:EINVAL"); // two args
    CHECK(Client::text(c.call(XS_WRITE, "/nonul")) == "ERR:EINVAL");
    std::string problem;
    CHECK(s.tree().checkConsistency(&problem));
}

TEST_CASE("directory_part pages through long child lists") {
    Server s;
    auto c = client(s, 0);
    std::string expected;
    for (int i = 0; i < 400; i++) {
        std::string name = "child-with-a-long-name-" + std::to_string(i);
        REQUIRE(c.write("/big/" + name, "") == "OK");
        expected += name + '\0';
    }
    std::string got;
    uint32_t offset = 0;
    for (int guard = 0; guard < 100; guard++) {
        Message m = c.call(XS_DIRECTORY_PART, nul("/big") + nul(std::to_string(offset)));
        REQUIRE(m.type == XS_DIRECTORY_PART);
        REQUIRE(m.payload.size() <= XENSTORE_PAYLOAD_MAX);
        std::string body = m.payload.substr(m.payload.find('\0') + 1);
        bool last = body.size() >= 1 && body.back() == '\0' &&
                    (body.size() == 1 || body[body.size() - 2] == '\0');
        if (last)
            body.pop_back();
        got += body;
        offset += static_cast<uint32_t>(body.size());
        if (last)
            break;
    }
    CHECK(got == expected);
}

TEST_CASE("permissions: owner, r/w/b/n, dom0 privileged, errno hiding") {
    Server s;
    auto d0 = client(s, 0);
    auto d1 = client(s, 1);
    auto d2 = client(s, 2);
    REQUIRE(d0.write("/local/domain/1/x", "1") == "OK");
    REQUIRE(Client::text(d0.call(XS_SET_PERMS, nul("/local/domain/1") + nul("n1"))) == "OK");
    REQUIRE(Client::text(d0.call(XS_SET_PERMS, nul("/local/domain/1/x") + nul("n1"))) == "OK");
    CHECK(d1.read("x") == "1"); // relative to home
    CHECK(d1.write("y", "2") == "OK");
    CHECK(d2.read("/local/domain/1/x") == "ERR:EACCES");
    CHECK(d2.read("/local/domain/1/nothere") == "ERR:EACCES"); // no leak of existence
    CHECK(d2.write("/local/domain/1/z", "evil") == "ERR:EACCES");
    CHECK(d2.write("/rootnode", "x") == "ERR:EACCES");
    CHECK(d1.read("/local/domain/1/nothere") == "ERR:ENOENT");
    // The new node belongs to domain 1.
    CHECK(d0.call(XS_GET_PERMS, nul("/local/domain/1/y")).payload == nul("n1"));
    // Grant domain 2 read access.
    CHECK(Client::text(d1.call(XS_SET_PERMS, nul("x") + nul("n1") + nul("r2"))) == "OK");
    CHECK(d2.read("/local/domain/1/x") == "1");
    CHECK(d2.write("/local/domain/1/x", "no") == "ERR:EACCES");
    CHECK(Client::text(d1.call(XS_SET_PERMS, nul("x") + nul("n1") + nul("b2"))) == "OK");
    CHECK(d2.write("/local/domain/1/x", "yes") == "OK");
    CHECK(d1.read("x") == "yes");
    // Only the owner sets perms; an unprivileged owner cannot give nodes away.
    CHECK(Client::text(d2.call(XS_SET_PERMS, nul("/local/domain/1/x") + nul("b2"))) ==
          "ERR:EACCES");
    CHECK(Client::text(d1.call(XS_SET_PERMS, nul("x") + nul("n2"))) == "ERR:EPERM");
    CHECK(Client::text(d1.call(XS_SET_PERMS, nul("x") + nul("q1"))) == "ERR:EINVAL");
    CHECK(Client::text(d1.call(XS_SET_PERMS, nul("x"))) == "ERR:EINVAL");
    // Default permission in entry 0 applies to others.
    CHECK(Client::text(d1.call(XS_SET_PERMS, nul("x") + nul("r1"))) == "OK");
    CHECK(d2.read("/local/domain/1/x") == "yes");
    // dom0 sees everything.
    CHECK(d0.read("/local/domain/1/x") == "yes");
    // Privileged operations are refused to guests.
    CHECK(Client::text(d1.call(XS_INTRODUCE, nul("5") + nul("1") + nul("1"))) == "ERR:EACCES");
    CHECK(Client::text(d1.call(XS_CONTROL, nul("check"))) == "ERR:EACCES");
}

TEST_CASE("domain messages") {
    Server s;
    auto d0 = client(s, 0);
    auto d3 = client(s, 3);
    CHECK(d3.call(XS_GET_DOMAIN_PATH, nul("3")).payload == nul("/local/domain/3"));
    CHECK(d0.call(XS_IS_DOMAIN_INTRODUCED, nul("3")).payload == nul("F"));
    REQUIRE(Client::text(d0.call(XS_WATCH, nul("@introduceDomain") + nul("i"))) == "OK");
    REQUIRE(Client::text(d0.call(XS_WATCH, nul("@releaseDomain") + nul("r"))) == "OK");
    d0.events();
    CHECK(Client::text(d0.call(XS_INTRODUCE, nul("3") + nul("4096") + nul("7"))) == "OK");
    CHECK(d0.call(XS_IS_DOMAIN_INTRODUCED, nul("3")).payload == nul("T"));
    auto ev = d0.events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].payload == nul("@introduceDomain") + nul("i"));
    CHECK(Client::text(d0.call(XS_INTRODUCE, nul("4") + nul("1") + nul("8"))) == "OK");
    CHECK(Client::text(d0.call(XS_SET_TARGET, nul("4") + nul("3"))) == "OK");
    // Domain 4 (a device model for 3) acts as 3's owner.
    REQUIRE(d0.write("/local/domain/3/dm", "x") == "OK");
    REQUIRE(Client::text(d0.call(XS_SET_PERMS, nul("/local/domain/3/dm") + nul("n3"))) == "OK");
    auto d4 = client(s, 4);
    CHECK(d4.read("/local/domain/3/dm") == "x");
    CHECK(Client::text(d0.call(XS_RESUME, nul("3"))) == "OK");
    d0.events();
    CHECK(Client::text(d0.call(XS_RESUME, nul("9"))) == "ERR:ENOENT");
    CHECK(Client::text(d0.call(XS_RELEASE, nul("3"))) == "OK");
    CHECK(Client::text(d0.call(XS_RELEASE, nul("3"))) == "ERR:ENOENT");
    ev = d0.events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].payload == nul("@releaseDomain") + nul("r"));
    // Guests do not see special events unless granted.
    CHECK(Client::text(d3.call(XS_WATCH, nul("@releaseDomain") + nul("g"))) == "OK");
    d3.events();
    CHECK(Client::text(d0.call(XS_RELEASE, nul("4"))) == "OK");
    CHECK(d3.events().empty());
    CHECK(Client::text(d0.call(XS_SET_PERMS, nul("@releaseDomain") + nul("r0"))) == "OK");
    CHECK(Client::text(d0.call(XS_INTRODUCE, nul("4") + nul("1") + nul("8"))) == "OK");
    CHECK(Client::text(d0.call(XS_RELEASE, nul("4"))) == "OK");
    CHECK(d3.events().size() == 1);
    CHECK(Client::text(d0.call(XS_CONTROL, nul("check"))) == "OK");
    CHECK(Client::text(d0.call(XS_CONTROL, nul("bogus"))) == "ERR:EINVAL");
    CHECK(Client::text(d0.call(XS_WATCH_EVENT, nul("x"))) == "ERR:ENOSYS");
    CHECK(Client::text(d0.call(9999, nul("x"))) == "ERR:ENOSYS");
}
