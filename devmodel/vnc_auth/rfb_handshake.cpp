// The RFB handshakes: see rfb_handshake.h for the exchange.

#include "devmodel/vnc_auth/rfb_handshake.h"

#include <cstring>

namespace basalt::vncauth {
namespace {

constexpr char kVersionPrefix[] = "RFB 003.";
constexpr size_t kVersionPrefixBytes = sizeof(kVersionPrefix) - 1;
constexpr size_t kMinorDigits = 3;
constexpr char kServerVersion[] = "RFB 003.008\n";
constexpr uint32_t kResultOk = 0;
constexpr uint32_t kResultFailed = 1;
constexpr size_t kU32Bytes = 4;
// QEMU's own versions: anything from 3.8 on speaks 3.8 to us.
constexpr unsigned kMinUpstreamMinor = 8;
constexpr const char* kAuthFailedReason = "Authentication failed";

void putU32(std::vector<uint8_t>& out, uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<uint8_t>(value >> shift));
}

uint32_t getU32(std::span<const uint8_t> bytes) {
    return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
           uint32_t{bytes[3]};
}

// "RFB 003.NNN\n" -> NNN, or false.
bool parseMinor(std::span<const uint8_t> text, unsigned& minor) {
    if (text.size() != kRfbVersionBytes ||
        std::memcmp(text.data(), kVersionPrefix, kVersionPrefixBytes) != 0 ||
        text[kRfbVersionBytes - 1] != '\n')
        return false;
    minor = 0;
    for (size_t i = kVersionPrefixBytes; i < kVersionPrefixBytes + kMinorDigits; ++i) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        minor = minor * 10 + (text[i] - '0');
    }
    return true;
}

std::vector<uint8_t> bytesOf(const char* text) {
    return std::vector<uint8_t>(text, text + std::strlen(text));
}

// Appends up to `need` bytes of `in` to `buffer`; true once it has them all.
bool collect(std::vector<uint8_t>& buffer, size_t need, std::span<const uint8_t> in) {
    buffer.insert(buffer.end(), in.begin(), in.end());
    return buffer.size() >= need;
}

} // namespace

bool parseRfbVersion(std::span<const uint8_t> text, RfbVersion& out) {
    unsigned minor = 0;
    if (!parseMinor(text, minor))
        return false;
    switch (minor) {
    case 3:
        out = RfbVersion::V3_3;
        return true;
    case 7:
        out = RfbVersion::V3_7;
        return true;
    case 8:
        out = RfbVersion::V3_8;
        return true;
    default:
        return false;
    }
}

ServerHandshake::ServerHandshake(std::string_view password, const Challenge& challenge)
    : expected_(vncAuthResponse(password, challenge)), challenge_(challenge) {}

std::vector<uint8_t> ServerHandshake::greeting() const {
    return bytesOf(kServerVersion);
}

size_t ServerHandshake::wanted() const {
    size_t need = 0;
    switch (step_) {
    case Step::Version:
        need = kRfbVersionBytes;
        break;
    case Step::SecurityChoice:
        need = 1;
        break;
    case Step::Response:
        need = kChallengeBytes;
        break;
    case Step::Done:
        return 0;
    }
    return need - buffer_.size();
}

HandshakeStep ServerHandshake::fail(std::string error) {
    step_ = Step::Done;
    buffer_.clear();
    return {{}, HandshakeState::Failed, std::move(error)};
}

HandshakeStep ServerHandshake::feed(std::span<const uint8_t> bytes) {
    if (bytes.size() > wanted())
        return fail("the handshake was fed more than it asked for");
    const size_t need = buffer_.size() + wanted();
    if (!collect(buffer_, need, bytes))
        return {};
    HandshakeStep step;
    switch (step_) {
    case Step::Version:
        if (!parseRfbVersion(buffer_, version_))
            return fail("the client's version is not RFB 3.3, 3.7 or 3.8");
        if (version_ == RfbVersion::V3_3) {
            // 3.3: the server decides the type, then the challenge follows.
            putU32(step.send, kSecurityTypeVncAuth);
            step.send.insert(step.send.end(), challenge_.begin(), challenge_.end());
            step_ = Step::Response;
        } else {
            step.send = {1, kSecurityTypeVncAuth};
            step_ = Step::SecurityChoice;
        }
        break;
    case Step::SecurityChoice:
        if (buffer_[0] != kSecurityTypeVncAuth) {
            const std::string error =
                "the client chose security type " + std::to_string(buffer_[0]) + ", not 2";
            HandshakeStep failed = fail(error);
            // 3.8 explains a refused type; 3.7 just closes (RFC 6143 7.1.2).
            if (version_ == RfbVersion::V3_8)
                failed.send = failedResult("Security type not offered");
            return failed;
        }
        step.send.assign(challenge_.begin(), challenge_.end());
        step_ = Step::Response;
        break;
    case Step::Response: {
        const bool good = constantTimeEqual(buffer_, expected_);
        if (!good) {
            HandshakeStep failed = fail("wrong password");
            failed.send = failedResult(kAuthFailedReason);
            return failed;
        }
        step.state = HandshakeState::Authenticated;
        step_ = Step::Done;
        break;
    }
    case Step::Done:
        return fail("the handshake is over");
    }
    buffer_.clear();
    return step;
}

std::vector<uint8_t> ServerHandshake::okResult() const {
    std::vector<uint8_t> out;
    putU32(out, kResultOk);
    return out;
}

std::vector<uint8_t> ServerHandshake::failedResult(const std::string& reason) const {
    std::vector<uint8_t> out;
    putU32(out, kResultFailed);
    if (version_ == RfbVersion::V3_8) {
        putU32(out, static_cast<uint32_t>(reason.size()));
        out.insert(out.end(), reason.begin(), reason.end());
    }
    return out;
}

size_t UpstreamHandshake::wanted() const {
    return step_ == Step::Done ? 0 : need_ - buffer_.size();
}

HandshakeStep UpstreamHandshake::fail(std::string error) {
    step_ = Step::Done;
    buffer_.clear();
    return {{}, HandshakeState::Failed, std::move(error)};
}

HandshakeStep UpstreamHandshake::feed(std::span<const uint8_t> bytes) {
    if (bytes.size() > wanted())
        return fail("the upstream handshake was fed more than it asked for");
    if (!collect(buffer_, need_, bytes))
        return {};
    HandshakeStep step;
    switch (step_) {
    case Step::Version: {
        unsigned minor = 0;
        if (!parseMinor(buffer_, minor) || minor < kMinUpstreamMinor)
            return fail("QEMU's VNC server does not speak RFB 3.8");
        step.send = bytesOf(kServerVersion);
        step_ = Step::TypeCount;
        need_ = 1;
        break;
    }
    case Step::TypeCount:
        if (buffer_[0] == 0) {
            // No types: a reason string follows.
            failurePrefix_ = "QEMU's VNC server refused the connection";
            step_ = Step::ReasonLength;
            need_ = kU32Bytes;
            break;
        }
        step_ = Step::Types;
        need_ = buffer_[0];
        break;
    case Step::Types: {
        bool none = false;
        for (uint8_t type : buffer_)
            none = none || type == kSecurityTypeNone;
        if (!none)
            return fail("QEMU's VNC server does not offer security type None; it must listen "
                        "without a password of its own");
        step.send = {kSecurityTypeNone};
        step_ = Step::Result;
        need_ = kU32Bytes;
        break;
    }
    case Step::Result: {
        const uint32_t result = getU32(buffer_);
        if (result == kResultOk) {
            step.state = HandshakeState::Authenticated;
            step_ = Step::Done;
            need_ = 0;
            break;
        }
        failurePrefix_ = "QEMU's VNC server failed the security handshake";
        step_ = Step::ReasonLength;
        need_ = kU32Bytes;
        break;
    }
    case Step::ReasonLength: {
        const uint32_t length = getU32(buffer_);
        if (length > kMaxReasonBytes)
            return fail(failurePrefix_ + " (with an oversized reason)");
        if (length == 0)
            return fail(failurePrefix_);
        step_ = Step::Reason;
        need_ = length;
        break;
    }
    case Step::Reason: {
        std::string reason;
        for (uint8_t c : buffer_)
            reason += c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '?';
        return fail(failurePrefix_ + ": " + reason);
    }
    case Step::Done:
        return fail("the upstream handshake is over");
    }
    buffer_.clear();
    return step;
}

} // namespace basalt::vncauth
