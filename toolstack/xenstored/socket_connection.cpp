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

bool SocketListener::listen(const std::string& path) {
    ::unlink(path.c_str());
    boost::system::error_code ec;
    acceptor_.open(stream(), ec);
    if (!ec)
        acceptor_.bind(stream::endpoint(path), ec);
    if (!ec)
        acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        LOG(XsSocket, Error, "cannot listen on %s: %s", path.c_str(), ec.message().c_str());
        return false;
    }
    ::chmod(path.c_str(), S_IRUSR | S_IWUSR);
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
