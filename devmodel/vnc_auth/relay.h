#pragma once
// basalt-vnc-auth's server: accepts VNC clients on an inherited listening
// socket, runs the RFB password handshake with each (rfb_handshake.h), logs
// in to QEMU's private VNC socket, and then copies bytes both ways.
//
// Limits, because everything before authentication is an anonymous peer:
//   - every read before authentication has a deadline (handshakeTimeout);
//   - at most maxConnections at once, authenticated or not; one more is
//     accepted and closed at once (so the backlog cannot pin it open);
//   - a failed attempt is answered only after failureDelay, which with the
//     connection cap bounds password guesses to maxConnections per delay;
//   - a malformed or failed handshake ends that connection with a log line,
//     never the program.

#include "base/result.h"

#include <chrono>
#include <cstddef>
#include <string>

namespace basalt::vncauth {

inline constexpr std::chrono::milliseconds kDefaultHandshakeTimeout{10000};
inline constexpr std::chrono::milliseconds kDefaultFailureDelay{2000};
inline constexpr size_t kDefaultMaxConnections = 8;

struct RelayConfig {
    int listenFd = -1;        // a listening socket (TCP or UNIX), owned by the caller
    std::string upstreamPath; // QEMU's VNC UNIX socket
    std::string password;     // non-empty; only its first 8 bytes count
    std::chrono::milliseconds handshakeTimeout = kDefaultHandshakeTimeout;
    std::chrono::milliseconds failureDelay = kDefaultFailureDelay;
    size_t maxConnections = kDefaultMaxConnections;
};

// Serves until accept() fails for a reason other than a transient one.
Status runRelay(const RelayConfig& config);

} // namespace basalt::vncauth
