// Fuzz target: the RFB handshakes of basalt-vnc-auth (devmodel/vnc_auth/),
// which parse bytes from anonymous network peers before authentication.
// The first input byte picks the side (even: a VNC client talking to our
// server; odd: a VNC server answering our login) and the chunk size; the
// rest is fed in chunks of at most wanted() bytes. Beyond "no crash": the
// server side authenticates only on the exact DES response, never asks for
// more than a response's worth at once, and a finished handshake asks for
// nothing.

#include "devmodel/vnc_auth/rfb_handshake.h"
#include "test/fuzz/fuzz_seeds.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

using basalt::fuzz::require;

namespace {

using namespace basalt::vncauth;

constexpr const char* kPassword = "fuzzpass";
constexpr Challenge kChallenge = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

void fuzzServer(const uint8_t* data, size_t size, size_t chunk) {
    ServerHandshake h(kPassword, kChallenge);
    const Challenge expected = vncAuthResponse(kPassword, kChallenge);
    std::vector<uint8_t> last; // the most recent bytes fed, for the check below
    size_t at = 0;
    while (at < size) {
        const size_t want = h.wanted();
        require(want <= kRfbVersionBytes + kChallengeBytes);
        if (want == 0)
            break;
        const size_t n = std::min({want, chunk, size - at});
        last.insert(last.end(), data + at, data + at + n);
        HandshakeStep step = h.feed({data + at, n});
        at += n;
        if (step.state == HandshakeState::Authenticated) {
            require(last.size() >= kChallengeBytes);
            require(std::memcmp(last.data() + last.size() - kChallengeBytes, expected.data(),
                                kChallengeBytes) == 0);
        }
        if (step.state != HandshakeState::InProgress) {
            require(h.wanted() == 0);
            break;
        }
    }
}

void fuzzUpstream(const uint8_t* data, size_t size, size_t chunk) {
    UpstreamHandshake u;
    size_t at = 0;
    while (at < size) {
        const size_t want = u.wanted();
        require(want <= kMaxReasonBytes);
        if (want == 0)
            break;
        const size_t n = std::min({want, chunk, size - at});
        HandshakeStep step = u.feed({data + at, n});
        at += n;
        if (step.state != HandshakeState::InProgress) {
            require(u.wanted() == 0);
            break;
        }
    }
}

std::vector<uint8_t> seed(uint8_t selector, const std::vector<std::vector<uint8_t>>& parts) {
    std::vector<uint8_t> out = {selector};
    for (const auto& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

std::vector<uint8_t> text(const char* s) {
    return std::vector<uint8_t>(s, s + std::strlen(s));
}

} // namespace

namespace basalt::fuzz {

std::vector<std::vector<uint8_t>> seeds() {
    const Challenge response = vncAuthResponse(kPassword, kChallenge);
    const std::vector<uint8_t> good(response.begin(), response.end());
    return {
        seed(0x40, {text("RFB 003.008\n"), {2}, good}),
        seed(0x02, {text("RFB 003.007\n"), {2}, good}),
        seed(0x10, {text("RFB 003.003\n"), good}),
        seed(0x00, {text("RFB 003.008\n"), {1}}),
        seed(0x41, {text("RFB 003.008\n"), {2, 2, 1}, {0, 0, 0, 0}}),
        seed(0x03, {text("RFB 003.008\n"), {0}, {0, 0, 0, 3}, text("bad")}),
        seed(0x21, {text("RFB 003.008\n"), {1, 1}, {0, 0, 0, 1}, {0, 0, 0, 2}, text("no")}),
    };
}

} // namespace basalt::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    const uint8_t selector = data[0];
    // Chunks of 1..64 bytes: the relay's reads may split anywhere.
    const size_t chunk = (selector >> 1) % 64 + 1;
    if (selector & 1)
        fuzzUpstream(data + 1, size - 1, chunk);
    else
        fuzzServer(data + 1, size - 1, chunk);
    return 0;
}
