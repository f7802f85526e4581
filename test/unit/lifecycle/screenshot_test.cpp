#include "vmm/control_protocol.h"
#include "vmm/screenshot.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <zlib.h>

using namespace basalt;

namespace {

std::vector<uint8_t> bytesOf(const std::string& text) {
    return {text.begin(), text.end()};
}

uint32_t be32(const std::vector<uint8_t>& b, size_t at) {
    return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | b[at + 3];
}

RgbImage gradient(uint32_t w, uint32_t h) {
    RgbImage image{w, h, {}};
    for (uint32_t y = 0; y < h; ++y)
        for (uint32_t x = 0; x < w; ++x)
            image.rgb.insert(image.rgb.end(), {uint8_t(x * 7), uint8_t(y * 13), uint8_t(x ^ y)});
    return image;
}

// A control target that only records screenshots.
class ShotTarget final : public ControlTarget {
public:
    void pause() override {}
    void resume() override {}
    void destroy() override {}
    DomainStatus status() const override { return {}; }
    Status screenshot(const std::string& path) override {
        lastPath = path;
        if (failWith.empty())
            return {};
        return makeError(EIO, failWith);
    }
    std::string lastPath;
    std::string failWith;
};

} // namespace

TEST_CASE("PPM: QEMU's P6 dumps parse; malformed ones are refused", "[screenshot]") {
    std::string pixels(2 * 1 * 3, '\x10');
    auto ok = parsePpm(bytesOf("P6\n# comment\n2 1\n255\n" + pixels));
    REQUIRE(ok.ok());
    CHECK(ok->width == 2);
    CHECK(ok->height == 1);
    CHECK(ok->rgb.size() == 6);
    CHECK_FALSE(parsePpm(bytesOf("P3\n2 1\n255\n" + pixels)).ok());
    CHECK_FALSE(parsePpm(bytesOf("P6\n2 1\n65535\n" + pixels)).ok());
    CHECK_FALSE(parsePpm(bytesOf("P6\n2 1\n255\n" + pixels + "x")).ok());
    CHECK_FALSE(parsePpm(bytesOf("P6\n2 1\n255\n" + pixels.substr(1))).ok());
    CHECK_FALSE(parsePpm(bytesOf("P6\n0 1\n255\n")).ok());
    CHECK_FALSE(parsePpm(bytesOf("P6\n99999999999 1\n255\n")).ok());
    CHECK_FALSE(parsePpm(bytesOf("P6\n16385 1\n255\n")).ok());
    CHECK_FALSE(parsePpm(bytesOf("P6\n2 1\n255")).ok());
    CHECK_FALSE(parsePpm(bytesOf("P6")).ok());
}

TEST_CASE("PNG: signature, IHDR and pixels that inflate back", "[screenshot]") {
    RgbImage image = gradient(37, 11);
    auto png = encodePng(image);
    REQUIRE(png.ok());
    const std::vector<uint8_t>& b = *png;
    const uint8_t signature[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    REQUIRE(b.size() > 8 + 25 + 12);
    CHECK(std::memcmp(b.data(), signature, 8) == 0);
    CHECK(be32(b, 8) == 13);
    CHECK(std::memcmp(b.data() + 12, "IHDR", 4) == 0);
    CHECK(be32(b, 16) == 37);
    CHECK(be32(b, 20) == 11);
    CHECK(b[24] == 8); // bit depth
    CHECK(b[25] == 2); // RGB
    CHECK(be32(b, 29) == crc32(0, b.data() + 12, 17));
    // IDAT: zlib data of filter-0 rows.
    size_t idat = 33;
    REQUIRE(std::memcmp(b.data() + idat + 4, "IDAT", 4) == 0);
    uint32_t len = be32(b, idat);
    std::vector<uint8_t> raw((37 * 3 + 1) * 11);
    uLongf rawLen = raw.size();
    REQUIRE(uncompress(raw.data(), &rawLen, b.data() + idat + 8, len) == Z_OK);
    REQUIRE(rawLen == raw.size());
    for (uint32_t y = 0; y < 11; ++y) {
        CHECK(raw[y * (37 * 3 + 1)] == 0);
        CHECK(std::memcmp(&raw[y * (37 * 3 + 1) + 1], &image.rgb[y * 37 * 3], 37 * 3) == 0);
    }
    CHECK(be32(b, idat + 8 + len) == crc32(0, b.data() + idat + 4, len + 4));
    size_t iend = idat + 12 + len;
    CHECK(be32(b, iend) == 0);
    CHECK(std::memcmp(b.data() + iend + 4, "IEND", 4) == 0);
    CHECK(b.size() == iend + 12);
}

TEST_CASE("PNG: an image with the wrong byte count is refused", "[screenshot]") {
    RgbImage image = gradient(4, 4);
    image.rgb.pop_back();
    CHECK_FALSE(encodePng(image).ok());
    CHECK_FALSE(encodePng(RgbImage{}).ok());
}

TEST_CASE("control socket: the screenshot command", "[screenshot]") {
    ShotTarget target;
    std::string reply =
        handleControlRequest(R"({"command":"screenshot","path":"/tmp/x.png"})", target);
    CHECK(reply == R"({"ok":true,"path":"/tmp/x.png"})");
    CHECK(target.lastPath == "/tmp/x.png");
    target.failWith = "no QMP";
    reply = handleControlRequest(R"({"command":"screenshot","path":"/tmp/y.png"})", target);
    CHECK(reply.find("\"ok\":false") != std::string::npos);
    CHECK(reply.find("no QMP") != std::string::npos);
    reply = handleControlRequest(R"({"command":"screenshot","path":"relative.png"})", target);
    CHECK(reply.find("absolute") != std::string::npos);
    reply = handleControlRequest(R"({"command":"screenshot"})", target);
    CHECK(reply.find("\"ok\":false") != std::string::npos);
}
