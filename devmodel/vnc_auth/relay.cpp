// The relay loop: see relay.h.

#include "devmodel/vnc_auth/relay.h"

#include "base/log.h"
#include "base/unique_fd.h"
#include "devmodel/vnc_auth/rfb_handshake.h"

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace basalt::vncauth {

BASALT_LOG_CATEGORY(VncAuth, "vnc-auth");

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kSpliceBufferBytes = 64 * 1024;
// Out of fds or memory: let other connections finish before trying again.
constexpr std::chrono::milliseconds kAcceptBackoff{100};
constexpr const char* kUpstreamDownReason = "The VNC server is not available";

// What a log line calls the peer: its address, never anything it sent.
std::string describePeer(int fd) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0)
        return "an unknown peer";
    char host[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
    }
    if (addr.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
    }
    return "a local client";
}

// Reads 1..max bytes before `deadline`; 0 on EOF, -1 on error or timeout.
ssize_t readBefore(int fd, uint8_t* buffer, size_t max, Clock::time_point deadline) {
    while (true) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        pollfd p{fd, POLLIN, 0};
        const int n = poll(&p, 1, static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            continue; // the loop re-checks the deadline
        const ssize_t got = ::read(fd, buffer, max);
        if (got < 0 && errno == EINTR)
            continue;
        return got;
    }
}

bool writeAll(int fd, const uint8_t* data, size_t size) {
    while (size > 0) {
        const ssize_t put = ::send(fd, data, size, MSG_NOSIGNAL);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return false;
        data += put;
        size -= static_cast<size_t>(put);
    }
    return true;
}

bool writeAll(int fd, const std::vector<uint8_t>& data) {
    return writeAll(fd, data.data(), data.size());
}

// Runs a handshake on `fd` to its end. Returns the final step (Failed with
// an I/O reason if the peer went away or was too slow).
template <typename Handshake>
HandshakeStep drive(Handshake& handshake, int fd, Clock::time_point deadline) {
    uint8_t buffer[kMaxReasonBytes];
    while (true) {
        const size_t want = std::min(handshake.wanted(), sizeof(buffer));
        const ssize_t got = readBefore(fd, buffer, want, deadline);
        if (got <= 0)
            return {{},
                    HandshakeState::Failed,
                    got == 0 ? "the peer closed the connection during the handshake"
                             : std::string("reading the handshake failed: ") + strerror(errno)};
        HandshakeStep step = handshake.feed({buffer, static_cast<size_t>(got)});
        if (step.state == HandshakeState::Failed)
            return step;
        if (!step.send.empty() && !writeAll(fd, step.send))
            return {{}, HandshakeState::Failed, "the peer stopped reading during the handshake"};
        if (step.state == HandshakeState::Authenticated)
            return step;
    }
}

Result<UniqueFd> connectUpstream(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path))
        return makeError(ENAMETOOLONG, "the VNC socket path '" + path + "' is too long");
    std::memcpy(addr.sun_path, path.data(), path.size());
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid())
        return errnoError("cannot create a socket");
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) < 0)
        return errnoError("cannot connect to QEMU's VNC socket '" + path + "'");
    return fd;
}

// After authentication: bytes both ways until either side closes.
void splice(int client, int upstream) {
    std::vector<uint8_t> buffer(kSpliceBufferBytes);
    pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    while (true) {
        const int n = poll(fds, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return;
        for (int i = 0; i < 2; ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            const ssize_t got = ::read(fds[i].fd, buffer.data(), buffer.size());
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0 || !writeAll(fds[1 - i].fd, buffer.data(), static_cast<size_t>(got)))
                return;
        }
    }
}

void serveConnection(const RelayConfig& config, UniqueFd client) {
    const std::string peer = describePeer(client.get());
    const auto deadline = Clock::now() + config.handshakeTimeout;
    Challenge challenge{};
    if (getrandom(challenge.data(), challenge.size(), 0) !=
        static_cast<ssize_t>(challenge.size())) {
        LOG(VncAuth, Error, "no randomness for a challenge (%s); closing %s", strerror(errno),
            peer.c_str());
        return;
    }
    ServerHandshake handshake(config.password, challenge);
    if (!writeAll(client.get(), handshake.greeting()))
        return;
    HandshakeStep step = drive(handshake, client.get(), deadline);
    if (step.state != HandshakeState::Authenticated) {
        LOG(VncAuth, Warn, "VNC client %s: %s; closing the connection", peer.c_str(),
            step.error.c_str());
        // Brute force: every refusal costs the client this delay.
        std::this_thread::sleep_for(config.failureDelay);
        if (!step.send.empty())
            (void)writeAll(client.get(), step.send);
        return;
    }
    auto upstream = connectUpstream(config.upstreamPath);
    UpstreamHandshake login;
    HandshakeStep up = upstream.ok() ? drive(login, upstream->get(), deadline)
                                     : HandshakeStep{{}, HandshakeState::Failed, ""};
    if (up.state != HandshakeState::Authenticated) {
        LOG(VncAuth, Error, "VNC client %s authenticated, but %s", peer.c_str(),
            upstream.ok() ? up.error.c_str() : upstream.error().message.c_str());
        (void)writeAll(client.get(), handshake.failedResult(kUpstreamDownReason));
        return;
    }
    if (!writeAll(client.get(), handshake.okResult()))
        return;
    LOG(VncAuth, Info, "VNC client %s authenticated", peer.c_str());
    splice(client.get(), upstream->get());
    LOG(VncAuth, Info, "VNC client %s disconnected", peer.c_str());
}

} // namespace

Status runRelay(const RelayConfig& config) {
    if (config.password.empty())
        return makeError(EINVAL, "no VNC password");
    // Counted by the connection threads; the accept loop only reads it.
    auto active = std::make_shared<std::atomic<size_t>>(0);
    while (true) {
        UniqueFd client(::accept4(config.listenFd, nullptr, nullptr, SOCK_CLOEXEC));
        if (!client.valid()) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE ||
                errno == ENOBUFS || errno == ENOMEM || errno == EPROTO || errno == EAGAIN) {
                LOG_RATELIMITED(VncAuth, Warn, "accept failed: %s", strerror(errno));
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                    std::this_thread::sleep_for(kAcceptBackoff);
                continue;
            }
            return errnoError("accepting VNC clients failed");
        }
        if (active->load() >= config.maxConnections) {
            LOG_RATELIMITED(VncAuth, Warn, "VNC client %s refused: %zu connections already",
                            describePeer(client.get()).c_str(), config.maxConnections);
            continue;
        }
        active->fetch_add(1);
        std::thread([&config, active, fd = client.release()]() mutable {
            serveConnection(config, UniqueFd(fd));
            active->fetch_sub(1);
        }).detach();
    }
}

} // namespace basalt::vncauth
