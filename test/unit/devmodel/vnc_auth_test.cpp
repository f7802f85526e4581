// basalt-vnc-auth's pure parts: the VNC DES response against vectors
// computed independently with OpenSSL (`openssl enc -des-ecb -K <key with
// each byte bit-reversed> -nopad`), and both RFB handshakes fed by hand,
// including truncated, oversized and garbage input.

#include "devmodel/vnc_auth/rfb_handshake.h"
#include "devmodel/vnc_auth/vnc_des.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

using namespace basalt::vncauth;

namespace {

std::vector<uint8_t> hex(const std::string& text) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < text.size(); i += 2)
        out.push_back(static_cast<uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
    return out;
}

Challenge challengeOf(const std::string& text) {
    Challenge c{};
    const auto bytes = hex(text);
    std::memcpy(c.data(), bytes.data(), c.size());
    return c;
}

std::vector<uint8_t> bytes(const std::string& text) {
    return std::vector<uint8_t>(text.begin(), text.end());
}

std::vector<uint8_t> toVector(const Challenge& c) {
    return std::vector<uint8_t>(c.begin(), c.end());
}

const Challenge kChallenge = challengeOf("000102030405060708090a0b0c0d0e0f");

// Feeds `data` one byte at a time (the relay may read in any chunking) and
// returns the last step.
HandshakeStep feedBytewise(ServerHandshake& h, const std::vector<uint8_t>& data,
                           std::vector<uint8_t>* sent = nullptr) {
    HandshakeStep last;
    for (uint8_t b : data) {
        last = h.feed({&b, 1});
        if (sent)
            sent->insert(sent->end(), last.send.begin(), last.send.end());
        if (last.state != HandshakeState::InProgress)
            break;
    }
    return last;
}

} // namespace

TEST_CASE("VNC DES responses match OpenSSL's DES-ECB with bit-reversed keys") {
    struct Vector {
        const char* password;
        const char* key;
        const char* challenge;
        const char* response;
    };
    const Vector vectors[] = {
        {"password", "0e86ceceeef64e26", "000102030405060708090a0b0c0d0e0f",
         "b866924125c8eebb9debc1db61c538e2"},
        {"password", "0e86ceceeef64e26", "ffeeddccbbaa99887766554433221100",
         "086c5feae21beb59738cfb9621678919"},
        // Longer than 8 bytes: only "secret12" counts.
        {"secret12longer", "cea6c64ea62e8c4c", "000102030405060708090a0b0c0d0e0f",
         "adcd997f8e16fee575e973f93c2b62b4"},
        {"secret12longer", "cea6c64ea62e8c4c", "ffeeddccbbaa99887766554433221100",
         "08618f682ecb37b050209269cde176f2"},
        // Shorter: zero padded.
        {"a", "8600000000000000", "000102030405060708090a0b0c0d0e0f",
         "449407fb6f71bd517aca76866568a4e2"},
        {"a", "8600000000000000", "ffeeddccbbaa99887766554433221100",
         "6c8278a777834ad15e7c6979d22dcb96"},
    };
    for (const Vector& v : vectors) {
        INFO(v.password << " / " << v.challenge);
        const DesKey key = vncDesKey(v.password);
        CHECK(std::vector<uint8_t>(key.begin(), key.end()) == hex(v.key));
        CHECK(toVector(vncAuthResponse(v.password, challengeOf(v.challenge))) == hex(v.response));
    }
    CHECK(vncAuthResponse("secret12", kChallenge) == vncAuthResponse("secret12longer", kChallenge));
    CHECK(vncAuthResponse("secret1", kChallenge) != vncAuthResponse("secret12", kChallenge));
}

TEST_CASE("constantTimeEqual compares contents and sizes") {
    const std::vector<uint8_t> a = {1, 2, 3}, b = {1, 2, 3}, c = {1, 2, 4}, d = {1, 2};
    CHECK(constantTimeEqual(a, b));
    CHECK_FALSE(constantTimeEqual(a, c));
    CHECK_FALSE(constantTimeEqual(a, d));
}

TEST_CASE("RFB versions: 3.3, 3.7 and 3.8 only, exactly 12 bytes") {
    RfbVersion v{};
    CHECK(parseRfbVersion(bytes("RFB 003.003\n"), v));
    CHECK(v == RfbVersion::V3_3);
    CHECK(parseRfbVersion(bytes("RFB 003.007\n"), v));
    CHECK(v == RfbVersion::V3_7);
    CHECK(parseRfbVersion(bytes("RFB 003.008\n"), v));
    CHECK(v == RfbVersion::V3_8);
    for (const char* bad : {"RFB 003.005\n", "RFB 004.000\n", "RFB 003.008 ", "RFB 003.0x8\n",
                            "RFB 003.008", "RFB 003.008\n\n", "GET / HTTP/1.1", ""})
        CHECK_FALSE(parseRfbVersion(bytes(bad), v));
}

TEST_CASE("a 3.8 client with the right password is authenticated") {
    ServerHandshake h("password", kChallenge);
    CHECK(h.greeting() == bytes("RFB 003.008\n"));
    REQUIRE(h.wanted() == 12);
    HandshakeStep s = h.feed(bytes("RFB 003.008\n"));
    CHECK(s.state == HandshakeState::InProgress);
    CHECK(s.send == std::vector<uint8_t>{1, kSecurityTypeVncAuth});
    REQUIRE(h.wanted() == 1);
    s = h.feed(std::vector<uint8_t>{kSecurityTypeVncAuth});
    CHECK(s.send == toVector(kChallenge));
    REQUIRE(h.wanted() == 16);
    s = h.feed(hex("b866924125c8eebb9debc1db61c538e2"));
    CHECK(s.state == HandshakeState::Authenticated);
    CHECK(s.send.empty()); // OK only after QEMU accepted the relay
    CHECK(h.wanted() == 0);
    CHECK(h.okResult() == std::vector<uint8_t>{0, 0, 0, 0});
}

TEST_CASE("a 3.7 client, fed one byte at a time") {
    ServerHandshake h("password", kChallenge);
    std::vector<uint8_t> in = bytes("RFB 003.007\n");
    in.push_back(kSecurityTypeVncAuth);
    const auto response = hex("b866924125c8eebb9debc1db61c538e2");
    in.insert(in.end(), response.begin(), response.end());
    std::vector<uint8_t> sent;
    CHECK(feedBytewise(h, in, &sent).state == HandshakeState::Authenticated);
    std::vector<uint8_t> expected = {1, kSecurityTypeVncAuth};
    expected.insert(expected.end(), kChallenge.begin(), kChallenge.end());
    CHECK(sent == expected);
}

TEST_CASE("a 3.3 client gets the security type as a u32 and the challenge") {
    ServerHandshake h("password", kChallenge);
    HandshakeStep s = h.feed(bytes("RFB 003.003\n"));
    std::vector<uint8_t> expected = {0, 0, 0, kSecurityTypeVncAuth};
    expected.insert(expected.end(), kChallenge.begin(), kChallenge.end());
    CHECK(s.send == expected);
    REQUIRE(h.wanted() == 16);
    // Wrong password: 3.3 gets a bare u32 1, no reason.
    s = h.feed(hex("449407fb6f71bd517aca76866568a4e2"));
    CHECK(s.state == HandshakeState::Failed);
    CHECK(s.send == std::vector<uint8_t>{0, 0, 0, 1});
    CHECK(h.wanted() == 0);
}

TEST_CASE("a wrong password fails with a 3.8 reason") {
    ServerHandshake h("password", kChallenge);
    (void)h.feed(bytes("RFB 003.008\n"));
    (void)h.feed(std::vector<uint8_t>{kSecurityTypeVncAuth});
    // The response of password "a".
    HandshakeStep s = h.feed(hex("449407fb6f71bd517aca76866568a4e2"));
    CHECK(s.state == HandshakeState::Failed);
    CHECK(s.error == "wrong password");
    std::vector<uint8_t> expected = {0, 0, 0, 1, 0, 0, 0, 21};
    const auto reason = bytes("Authentication failed");
    expected.insert(expected.end(), reason.begin(), reason.end());
    CHECK(s.send == expected);
    // Over: nothing more is taken.
    CHECK(h.wanted() == 0);
    uint8_t more = 0;
    CHECK(h.feed({&more, 1}).state == HandshakeState::Failed);
}

TEST_CASE("security type None, or any other, is refused") {
    for (uint8_t type : {uint8_t{0}, kSecurityTypeNone, uint8_t{16}, uint8_t{255}}) {
        ServerHandshake h("password", kChallenge);
        (void)h.feed(bytes("RFB 003.008\n"));
        HandshakeStep s = h.feed(std::vector<uint8_t>{type});
        CHECK(s.state == HandshakeState::Failed);
        CHECK(s.send.size() > 8); // 3.8: failed + reason
        CHECK(h.wanted() == 0);
    }
    ServerHandshake h7("password", kChallenge);
    (void)h7.feed(bytes("RFB 003.007\n"));
    HandshakeStep s = h7.feed(std::vector<uint8_t>{kSecurityTypeNone});
    CHECK(s.state == HandshakeState::Failed);
    CHECK(s.send.empty()); // 3.7 just closes
}

TEST_CASE("garbage, truncated and oversized input") {
    {
        ServerHandshake h("password", kChallenge);
        CHECK(h.feed(bytes("GET / HTTP/1.")).state == HandshakeState::Failed); // 13 > wanted
    }
    {
        ServerHandshake h("password", kChallenge);
        CHECK(h.feed(bytes("GET / HTTP/1")).state == HandshakeState::Failed);
    }
    {
        // Truncated: 11 bytes are not a version yet.
        ServerHandshake h("password", kChallenge);
        HandshakeStep s = h.feed(bytes("RFB 003.008"));
        CHECK(s.state == HandshakeState::InProgress);
        CHECK(s.send.empty());
        CHECK(h.wanted() == 1);
        CHECK(h.feed(bytes(" ")).state == HandshakeState::Failed);
    }
    {
        // A truncated response never authenticates.
        ServerHandshake h("password", kChallenge);
        (void)h.feed(bytes("RFB 003.008\n"));
        (void)h.feed(std::vector<uint8_t>{kSecurityTypeVncAuth});
        auto response = hex("b866924125c8eebb9debc1db61c538e2");
        response.pop_back();
        CHECK(h.feed(response).state == HandshakeState::InProgress);
        CHECK(h.wanted() == 1);
    }
    {
        // More than asked for at once is refused, not buffered.
        ServerHandshake h("password", kChallenge);
        (void)h.feed(bytes("RFB 003.008\n"));
        CHECK(h.feed(std::vector<uint8_t>{2, 0}).state == HandshakeState::Failed);
    }
}

TEST_CASE("logging in to QEMU: version 3.8, security type None") {
    UpstreamHandshake u;
    REQUIRE(u.wanted() == 12);
    HandshakeStep s = u.feed(bytes("RFB 003.008\n"));
    CHECK(s.send == bytes("RFB 003.008\n"));
    REQUIRE(u.wanted() == 1);
    s = u.feed(std::vector<uint8_t>{2});
    CHECK(s.send.empty());
    REQUIRE(u.wanted() == 2);
    s = u.feed(std::vector<uint8_t>{kSecurityTypeVncAuth, kSecurityTypeNone});
    CHECK(s.send == std::vector<uint8_t>{kSecurityTypeNone});
    REQUIRE(u.wanted() == 4);
    s = u.feed(std::vector<uint8_t>{0, 0, 0, 0});
    CHECK(s.state == HandshakeState::Authenticated);
    CHECK(u.wanted() == 0);
}

TEST_CASE("QEMU's refusals and malformed replies fail the login") {
    {
        UpstreamHandshake u;
        CHECK(u.feed(bytes("RFB 003.003\n")).state == HandshakeState::Failed);
    }
    {
        // No None among the types (QEMU with a password of its own).
        UpstreamHandshake u;
        (void)u.feed(bytes("RFB 003.008\n"));
        (void)u.feed(std::vector<uint8_t>{1});
        CHECK(u.feed(std::vector<uint8_t>{kSecurityTypeVncAuth}).state == HandshakeState::Failed);
    }
    {
        // Zero types: the reason is read (printable only) and reported.
        UpstreamHandshake u;
        (void)u.feed(bytes("RFB 003.008\n"));
        (void)u.feed(std::vector<uint8_t>{0});
        (void)u.feed(std::vector<uint8_t>{0, 0, 0, 4});
        HandshakeStep s = u.feed(std::vector<uint8_t>{'b', 'u', 's', 1});
        CHECK(s.state == HandshakeState::Failed);
        CHECK(s.error.find("bus?") != std::string::npos);
    }
    {
        // An oversized reason is not read.
        UpstreamHandshake u;
        (void)u.feed(bytes("RFB 003.008\n"));
        (void)u.feed(std::vector<uint8_t>{1});
        (void)u.feed(std::vector<uint8_t>{kSecurityTypeNone});
        (void)u.feed(std::vector<uint8_t>{0, 0, 0, 1});
        CHECK(u.feed(std::vector<uint8_t>{0x7f, 0xff, 0xff, 0xff}).state == HandshakeState::Failed);
        CHECK(u.wanted() == 0);
    }
}
