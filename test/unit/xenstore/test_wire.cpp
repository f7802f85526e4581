// The message reader and argument splitting.

#include "toolstack/xenstored/wire.h"

#include <catch2/catch.hpp>

using namespace basalt::xenstore;

TEST_CASE("reader reassembles messages split anywhere") {
    std::string a = encodeMessage(XS_READ, 7, 0, std::string("/a\0", 3));
    std::string b = encodeMessage(XS_WRITE, 8, 3, std::string("/b\0v", 4));
    std::string stream = a + b;
    for (size_t chunk = 1; chunk <= stream.size(); chunk++) {
        MessageReader r;
        std::vector<Message> out;
        size_t off = 0;
        while (off < stream.size()) {
            size_t n = std::min(chunk, stream.size() - off);
            size_t used = 0;
            while (used < n) {
                used +=
                    r.feed(reinterpret_cast<const uint8_t*>(stream.data()) + off + used, n - used);
                if (r.hasMessage())
                    out.push_back(r.take());
            }
            off += n;
        }
        REQUIRE(out.size() == 2);
        CHECK(out[0].type == XS_READ);
        CHECK(out[0].reqId == 7);
        CHECK(out[1].txId == 3);
        CHECK(out[1].payload == std::string("/b\0v", 4));
    }
}

TEST_CASE("oversized payload breaks the stream") {
    xsd_sockmsg h{XS_READ, 1, 0, XENSTORE_PAYLOAD_MAX + 1};
    MessageReader r;
    r.feed(reinterpret_cast<const uint8_t*>(&h), sizeof(h));
    CHECK(r.broken());
    CHECK_FALSE(r.hasMessage());
    xsd_sockmsg ok{XS_READ, 1, 0, XENSTORE_PAYLOAD_MAX};
    MessageReader r2;
    r2.feed(reinterpret_cast<const uint8_t*>(&ok), sizeof(ok));
    CHECK_FALSE(r2.broken());
}

TEST_CASE("argument splitting") {
    CHECK(splitStrings(std::string("a\0b\0", 4)).size() == 2);
    CHECK(splitStrings(std::string("a\0b", 3)).size() == 1);
    CHECK(splitStrings("").empty());
    CHECK(oneArg(std::string("a\0", 2)) == std::optional<std::string_view>("a"));
    CHECK_FALSE(oneArg("a"));
    CHECK_FALSE(oneArg(std::string("a\0b\0", 4)));
    CHECK_FALSE(oneArg(""));
    CHECK(std::string(errorString(EAGAIN)) == "EAGAIN");
    CHECK(std::string(errorString(12345)) == "EINVAL");
    CHECK(errorFromString("ENOENT") == ENOENT);
}
