#include "toolstack/xenstored/socket_connection.h"

#include "base/log.h"
#include "toolstack/xenstored/server.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <cstring>
#include <unistd.h>

namespace basalt::xenstore {

BASALT_LOG_CATEGORY(XsSocket, "xenstore-socket");

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;

SocketConnection::SocketConnection(Server& server, stream::socket socket, unsigned serial)
    : Connection(kDom0), server_(server), socket_(std::move(socket)), serial_(serial) {}

std::string SocketConnection::describe() const {
    return "socket " + std::to_string(serial_);
}

void SocketConnection::start() {
    readMore();
}

void SocketConnection::readMore() {
    if (reading_ || closed() || queuedMessages() >= kSocketPauseReplies)
        return;
    reading_ = true;
    socket_.async_wait(
        stream::socket::wait_read,
        [self = shared_from_this()](const boost::system::error_code& ec) { self->onReadable(ec); });
}

ssize_t SocketConnection::receive(std::vector<UniqueFd>& fds) {
    iovec iov{buffer_.data(), buffer_.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kSocketMaxFds)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n;
    do {
        n = ::recvmsg(socket_.native_handle(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return n;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            fds.emplace_back(fd);
        }
    }
    return n;
}

void SocketConnection::onReadable(const boost::system::error_code& ec) {
    reading_ = false;
    if (closed())
        return;
    if (ec) {
        close(ec.message().c_str());
        return;
    }
    std::vector<UniqueFd> fds;
    ssize_t got = receive(fds);
    if (got < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            readMore();
            return;
        }
        close(strerror(errno));
        return;
    }
    if (got == 0) {
        close("client disconnected");
        return;
    }
    if (!fds.empty()) {
        if (!pendingFds_.empty()) {
            LOG_RATELIMITED(XsSocket, Warn, "%s: two sets of fds for one message",
                            describe().c_str());
            close("protocol violation");
            return;
        }
        pendingFds_ = std::move(fds);
    }
    size_t n = static_cast<size_t>(got);
    size_t off = 0;
    while (off < n && !closed()) {
        off += reader_.feed(buffer_.data() + off, n - off);
        if (reader_.broken()) {
            LOG_RATELIMITED(XsSocket, Warn, "%s: message longer than XENSTORE_PAYLOAD_MAX",
                            describe().c_str());
            close("protocol violation");
            return;
        }
        if (reader_.hasMessage()) {
            receivedFds = std::move(pendingFds_);
            pendingFds_.clear();
            server_.process(*this, reader_.take());
        }
    }
    readMore();
}

void SocketConnection::transmit() {
    if (!writing_)
        writeNext();
}

void SocketConnection::writeNext() {
    if (queue_.empty() || closed()) {
        writing_ = false;
        return;
    }
    writing_ = true;
    const std::string& front = queue_.front();
    socket_.async_write_some(
        asio::buffer(front.data() + frontOffset_, front.size() - frontOffset_),
        [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
            if (self->closed())
                return;
            if (ec) {
                self->close(ec.message().c_str());
                return;
            }
            self->consumed(n);
            self->writeNext();
            self->readMore();
        });
}

void SocketConnection::onClose() {
    pendingFds_.clear();
    boost::system::error_code ignored;
    socket_.close(ignored);
    // Detach later: the server may be iterating its connections right now.
    asio::post(socket_.get_executor(),
               [self = shared_from_this()] { self->server_.detach(self.get()); });
}

SocketListener::SocketListener(asio::io_context& io, Server& server)
    : server_(server), acceptor_(io) {}

bool SocketListener::listen(const std::string& path, std::optional<gid_t> group) {
    // Bound, owned, moded and listening under a temporary name, then renamed
    // into place: whoever sees `path` can connect at once, with the final
    // permissions (a chmod after start could race a client or a test's chgrp).
    const std::string staging = path + ".new";
    ::unlink(staging.c_str());
    auto failed = [&](const char* what, const std::string& why) {
        LOG(XsSocket, Error, "cannot listen on %s: %s: %s", path.c_str(), what, why.c_str());
        ::unlink(staging.c_str());
        return false;
    };
    boost::system::error_code ec;
    acceptor_.open(stream(), ec);
    if (!ec)
        acceptor_.bind(stream::endpoint(staging), ec);
    if (ec)
        return failed("bind", ec.message());
    const mode_t mode = group ? (S_IRUSR | S_IWUSR | S_IRGRP | S_IWGRP) : (S_IRUSR | S_IWUSR);
    if (group && ::chown(staging.c_str(), static_cast<uid_t>(-1), *group) < 0)
        return failed("chown", strerror(errno));
    if (::chmod(staging.c_str(), mode) < 0)
        return failed("chmod", strerror(errno));
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return failed("listen", ec.message());
    if (::rename(staging.c_str(), path.c_str()) < 0)
        return failed("rename", strerror(errno));
    acceptNext();
    return true;
}

void SocketListener::acceptNext() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, stream::socket socket) {
        if (!ec) {
            auto conn = std::make_shared<SocketConnection>(server_, std::move(socket), ++serial_);
            server_.attach(conn);
            conn->start();
        } else if (ec == asio::error::operation_aborted) {
            return;
        } else {
            LOG_RATELIMITED(XsSocket, Warn, "accept: %s", ec.message().c_str());
        }
        acceptNext();
    });
}

} // namespace basalt::xenstore
