// basalt-vmm's --xenstore and --domid flags.

#include "vmm/options.h"

#include <catch2/catch.hpp>

using namespace basalt;

TEST_CASE("--xenstore and --domid", "[options]") {
    auto o = parseVmmOptions({"--kernel", "k", "--xenstore", "/tmp/xs.sock", "--domid", "7"});
    REQUIRE(o.ok());
    CHECK(o->xenstorePath == "/tmp/xs.sock");
    CHECK(o->domid == 7);

    auto d = parseVmmOptions({"--kernel", "k"});
    REQUIRE(d.ok());
    CHECK(d->xenstorePath.empty());
    CHECK(d->domid == kDefaultGuestDomid);

    auto hex = parseVmmOptions({"--kernel", "k", "--domid", "0x7fef"});
    REQUIRE(hex.ok());
    CHECK(hex->domid == kMaxGuestDomid);
}

TEST_CASE("--domid rejects dom0, reserved ids and junk", "[options]") {
    for (const char* bad : {"0", "0x7ff0", "32768", "-1", "1x", ""}) {
        INFO(bad);
        auto o = parseVmmOptions({"--kernel", "k", "--domid", bad});
        CHECK_FALSE(o.ok());
    }
    CHECK_FALSE(parseVmmOptions({"--kernel", "k", "--xenstore", ""}).ok());
}
