#pragma once
// Clients on the UNIX socket (libxenstore, xenstore-utils, QEMU, basaltd's
// own tools). They are dom0 and privileged, as in Xen. Each connection reads
// one buffer at a time and stops reading while many replies are waiting for
// it, so a client that does not read its replies cannot make the server
// buffer without bound; if it still falls too far behind (watch events) the
// bounded queue in Connection drops it.

#include "toolstack/xenstored/connection.h"
#include "toolstack/xenstored/wire.h"

#include <boost/asio.hpp>

#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>

namespace basalt::xenstore {

class Server;

constexpr size_t kSocketReadChunk = 16384;
constexpr size_t kSocketPauseReplies = 256;
// Fds one read may carry (SCM_RIGHTS); XS_INTRODUCE sends three. The kernel
// closes any beyond this (MSG_CTRUNC).
constexpr size_t kSocketMaxFds = 4;

class SocketConnection : public Connection, public std::enable_shared_from_this<SocketConnection> {
public:
    SocketConnection(Server& server, boost::asio::local::stream_protocol::socket socket,
                     unsigned serial);
    void start();
    std::string describe() const override;

private:
    void readMore();
    void onReadable(const boost::system::error_code& ec);
    // One recvmsg(): the bytes, and any fds that came with them.
    ssize_t receive(std::vector<UniqueFd>& fds);
    void transmit() override;
    void writeNext();
    void onClose() override;

    Server& server_;
    boost::asio::local::stream_protocol::socket socket_;
    unsigned serial_;
    MessageReader reader_;
    // Fds that belong to the message being assembled: a sender attaches them
    // to the first byte of its message, and the kernel never merges bytes
    // from two sendmsg() calls with fds into one read.
    std::vector<UniqueFd> pendingFds_;
    std::array<uint8_t, kSocketReadChunk> buffer_;
    bool reading_ = false;
    bool writing_ = false;
};

class SocketListener {
public:
    SocketListener(boost::asio::io_context& io, Server& server);
    // Binds `path` (replacing a stale socket file), mode 0600.
    // The socket is the root user's (0600), or also `group`'s (0660) when a
    // group id is given: the deprivileged device models' group. Its mode is
    // final before it accepts anyone, so nobody can race a chmod after start.
    bool listen(const std::string& path, std::optional<gid_t> group = std::nullopt);

private:
    void acceptNext();

    Server& server_;
    boost::asio::local::stream_protocol::acceptor acceptor_;
    unsigned serial_ = 0;
};

} // namespace basalt::xenstore
