// Journal + snapshot: acknowledged changes survive, torn records do not matter.

#include "test/unit/xenstore/xs_test_util.h"
#include "toolstack/xenstored/persistence.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

using namespace basalt::xenstore;
using namespace basalt::xenstore::test;

namespace {
std::string tempDir() {
    char tmpl[] = "/tmp/xs-persist-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    return tmpl;
}
} // namespace

TEST_CASE("encode/decode round trip") {
    std::vector<StoreOp> ops;
    StoreOp put;
    put.path = "/a";
    put.node.value = std::string("x\0y", 3);
    put.node.perms = {Perm{1, kPermRead}, Perm{2, kPermRead | kPermWrite}};
    put.node.children = {"b", "c"};
    ops.push_back(put);
    ops.push_back(StoreOp{StoreOp::Kind::Erase, "/gone", {}});
    std::vector<StoreOp> back;
    REQUIRE(decodeOps(encodeOps(ops), &back));
    REQUIRE(back.size() == 2);
    CHECK(back[0].node.value == put.node.value);
    CHECK(back[0].node.perms == put.node.perms);
    CHECK(back[0].node.children == put.node.children);
    CHECK(back[1].kind == StoreOp::Kind::Erase);
    std::string enc = encodeOps(ops);
    for (size_t cut = 0; cut < enc.size(); cut++) {
        std::vector<StoreOp> partial;
        CHECK_FALSE(decodeOps(std::string_view(enc).substr(0, cut), &partial));
    }
}

TEST_CASE("store survives restart via journal, snapshot and torn tail") {
    std::string dir = tempDir();
    std::string file = dir + "/store";
    {
        Server s;
        auto p = Persistence::open(file, s.tree());
        REQUIRE(p.ok());
        s.setChangeSink(p->get());
        auto c = client(s, 0);
        REQUIRE(c.write("/keep/a", "1") == "OK");
        REQUIRE(c.write("/keep/b", "2") == "OK");
        REQUIRE(Client::text(c.call(XS_RM, nul("/keep/a"))) == "OK");
        REQUIRE(Client::text(c.call(XS_SET_PERMS, nul("/keep/b") + nul("n5") + nul("r6"))) == "OK");
        // no compact(): as if killed
    }
    {
        Server s;
        auto p = Persistence::open(file, s.tree());
        REQUIRE(p.ok());
        s.setChangeSink(p->get());
        auto c = client(s, 0);
        CHECK(c.read("/keep/a") == "ERR:ENOENT");
        CHECK(c.read("/keep/b") == "2");
        CHECK(c.call(XS_GET_PERMS, nul("/keep/b")).payload == nul("n5") + nul("r6"));
        REQUIRE((*p)->compact().ok());
        REQUIRE(c.write("/after", "snap") == "OK");
    }
    // A torn record at the end of the journal is ignored.
    {
        int fd = ::open((file + ".journal").c_str(), O_WRONLY | O_APPEND);
        REQUIRE(fd >= 0);
        REQUIRE(::write(fd, "BXSJ\x10\0\0\0garbage", 15) == 15);
        ::close(fd);
    }
    {
        Server s;
        auto p = Persistence::open(file, s.tree());
        REQUIRE(p.ok());
        s.setChangeSink(p->get());
        auto c = client(s, 0);
        CHECK(c.read("/keep/b") == "2");
        CHECK(c.read("/after") == "snap");
        CHECK(c.write("/more", "x") == "OK");
    }
    {
        Server s;
        auto p = Persistence::open(file, s.tree());
        REQUIRE(p.ok());
        auto c = client(s, 0);
        CHECK(c.read("/more") == "x");
    }
    std::filesystem::remove_all(dir);
}
