// Per-domain quotas hit only the offender.

#include "test/unit/xenstore/xs_test_util.h"

#include <catch2/catch.hpp>

using namespace basalt::xenstore;
using namespace basalt::xenstore::test;

namespace {
Quotas small() {
    Quotas q;
    q.maxNodes = 10;
    q.maxNodeSize = 100;
    q.maxWatches = 3;
    q.maxTransactions = 2;
    return q;
}

void giveHome(Client& d0, DomId id) {
    std::string home = homePath(id);
    REQUIRE(d0.write(home, "") == "OK");
    REQUIRE(Client::text(d0.call(XS_SET_PERMS, nul(home) + nul("n" + std::to_string(id)))) == "OK");
}
} // namespace

TEST_CASE("node count quota") {
    Server s(small());
    auto d0 = client(s, 0);
    giveHome(d0, 1);
    giveHome(d0, 2);
    auto g1 = client(s, 1);
    auto g2 = client(s, 2);
    int ok = 0;
    for (int i = 0; i < 20; i++)
        if (g1.write("n" + std::to_string(i), "v") == "OK")
            ok++;
    CHECK(ok == 9); // home + 9 = 10 nodes owned by domain 1
    CHECK(g1.write("more", "v") == "ERR:ENOSPC");
    CHECK(g2.write("mine", "v") == "OK"); // others unaffected
    CHECK(d0.write("/dom0/lots/of/nodes/a/b/c/d/e/f/g/h/i", "v") == "OK");
    // Freeing nodes restores the budget.
    CHECK(Client::text(g1.call(XS_RM, nul("n0"))) == "OK");
    CHECK(g1.write("more", "v") == "OK");
    // Inside a transaction the limit holds too.
    Message m = g1.call(XS_TRANSACTION_START, nul(""));
    uint32_t tx = static_cast<uint32_t>(std::stoul(m.payload));
    CHECK(g1.write("t1", "v", tx) == "ERR:ENOSPC");
}

TEST_CASE("node size, watch, transaction and permission quotas") {
    Server s(small());
    auto d0 = client(s, 0);
    giveHome(d0, 1);
    auto g1 = client(s, 1);
    CHECK(g1.write("big", std::string(200, 'x')) == "ERR:ENOSPC");
    CHECK(g1.write("big", std::string(50, 'x')) == "OK");
    CHECK(d0.write("/big", std::string(4000, 'x')) == "OK");
    for (int i = 0; i < 3; i++)
        CHECK(Client::text(g1.call(XS_WATCH, nul("w" + std::to_string(i)) + nul("t"))) == "OK");
    CHECK(Client::text(g1.call(XS_WATCH, nul("w9") + nul("t"))) == "ERR:E2BIG");
    CHECK(g1.call(XS_TRANSACTION_START, nul("")).type == XS_TRANSACTION_START);
    CHECK(g1.call(XS_TRANSACTION_START, nul("")).type == XS_TRANSACTION_START);
    CHECK(Client::text(g1.call(XS_TRANSACTION_START, nul(""))) == "ERR:ENOSPC");
    CHECK(d0.call(XS_TRANSACTION_START, nul("")).type == XS_TRANSACTION_START);
    std::string perms = nul("big");
    for (int i = 0; i < 7; i++)
        perms += nul("r" + std::to_string(1));
    CHECK(Client::text(g1.call(XS_SET_PERMS, perms)) == "ERR:ENOSPC");
}
