#pragma once
// RFB "VNC Authentication" (RFC 6143 7.2.2): the client DES-encrypts the
// server's 16-byte challenge with the password as the key. The password is
// cut or zero-padded to 8 bytes, and each key byte is used with its bits in
// reverse order (a quirk of the original VNC code that every client keeps).
// The cipher itself is Debian's nettle; nothing here implements DES.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace basalt::vncauth {

inline constexpr size_t kChallengeBytes = 16;
// DES keys are 8 bytes: RFB uses only the first 8 bytes of a password.
inline constexpr size_t kVncPasswordBytes = 8;

using Challenge = std::array<uint8_t, kChallengeBytes>;
using DesKey = std::array<uint8_t, kVncPasswordBytes>;

// The password as RFB's DES key: first 8 bytes, zero padded, bits reversed.
DesKey vncDesKey(std::string_view password);

// What a client holding `password` answers to `challenge`.
Challenge vncAuthResponse(std::string_view password, const Challenge& challenge);

// Compares without an early exit, so the time taken does not tell an
// attacker how many leading bytes were right.
bool constantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b);

} // namespace basalt::vncauth
