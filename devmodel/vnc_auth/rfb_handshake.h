#pragma once
// The two RFB handshakes basalt-vnc-auth runs (RFC 6143 section 7.1), as pure
// state machines: bytes in, bytes to send out, no I/O. The relay reads
// exactly wanted() bytes at a time, so nothing beyond the handshake is ever
// buffered here, and every size is bounded.
//
// Toward the VNC client (ServerHandshake), e.g. a 3.8 client:
//   us   -> "RFB 003.008\n"
//   them -> "RFB 003.008\n"            (3.3, 3.7 and 3.8 are accepted)
//   us   -> [1][2]                     one security type: VNC Authentication
//   them -> [2]                        anything else fails the handshake
//   us   -> challenge (16 random bytes)
//   them -> DES response (16 bytes)    compared in constant time
//   state Authenticated: the relay now logs in to QEMU (UpstreamHandshake)
//   and only then sends okResult() = [0 0 0 0]; everything after (ClientInit,
//   ServerInit, ...) is spliced unchanged.
// A 3.3 client gets the type as a u32 [0 0 0 2] instead of a list and picks
// nothing. A wrong response gets failedResult(): u32 1, plus (3.8 only) a
// length-prefixed reason.
//
// Toward QEMU (UpstreamHandshake), whose VNC server listens on a private UNIX
// socket with no authentication:
//   QEMU -> "RFB 003.00x\n"  (x >= 8) ; us -> "RFB 003.008\n"
//   QEMU -> [n][types...]              type 1 (None) must be among them
//   us   -> [1]
//   QEMU -> [0 0 0 0]                  SecurityResult OK: Done

#include "devmodel/vnc_auth/vnc_des.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace basalt::vncauth {

inline constexpr size_t kRfbVersionBytes = 12; // "RFB 003.008\n"
inline constexpr uint8_t kSecurityTypeNone = 1;
inline constexpr uint8_t kSecurityTypeVncAuth = 2;
// The longest failure reason read from QEMU; a longer one fails the handshake.
inline constexpr uint32_t kMaxReasonBytes = 1024;

enum class RfbVersion : uint8_t { V3_3, V3_7, V3_8 };

// "RFB 003.003\n", "RFB 003.007\n" or "RFB 003.008\n"; anything else (other
// numbers, missing newline, non-digits) is an error naming it.
bool parseRfbVersion(std::span<const uint8_t> text, RfbVersion& out);

// The result of feeding bytes: what to send, and where the handshake is.
enum class HandshakeState : uint8_t { InProgress, Authenticated, Failed };

struct HandshakeStep {
    std::vector<uint8_t> send; // bytes for the peer, possibly empty
    HandshakeState state = HandshakeState::InProgress;
    std::string error; // Failed: why, for the log (never secrets)
};

class ServerHandshake {
public:
    // `password` is the secret (first 8 bytes count); `challenge` is fresh
    // randomness for this connection.
    ServerHandshake(std::string_view password, const Challenge& challenge);

    // The server speaks first: the version greeting.
    std::vector<uint8_t> greeting() const;
    // How many more bytes the current step needs (0 when finished).
    size_t wanted() const;
    // Takes at most wanted() bytes (more is an error of the caller).
    HandshakeStep feed(std::span<const uint8_t> bytes);
    // Set once the client's version is read.
    RfbVersion version() const { return version_; }
    // The SecurityResult bytes for the end of the handshake.
    std::vector<uint8_t> okResult() const;
    std::vector<uint8_t> failedResult(const std::string& reason) const;

private:
    enum class Step : uint8_t { Version, SecurityChoice, Response, Done };
    HandshakeStep fail(std::string error);

    Challenge expected_;
    Challenge challenge_;
    Step step_ = Step::Version;
    RfbVersion version_ = RfbVersion::V3_8;
    std::vector<uint8_t> buffer_;
};

class UpstreamHandshake {
public:
    size_t wanted() const;
    HandshakeStep feed(std::span<const uint8_t> bytes);

private:
    enum class Step : uint8_t { Version, TypeCount, Types, Result, ReasonLength, Reason, Done };
    HandshakeStep fail(std::string error);

    Step step_ = Step::Version;
    size_t need_ = kRfbVersionBytes;
    std::string failurePrefix_;
    std::vector<uint8_t> buffer_;
};

} // namespace basalt::vncauth
