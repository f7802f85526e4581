#include "toolstack/xenstored/socket_connection.h"

#include "base/log.h"
#include "toolstack/xenstored/server.h"

#include <sys/stat.h>
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
    socket_.async_read_some(asio::buffer(buffer_),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        size_t n) { self->onRead(ec, n); });
}

void SocketConnection::onRead(const boost::system::error_code& ec, size_t n) {
    reading_ = false;
    if (closed())
        return;
    if (ec) {
        close(ec == asio::error::eof ? "client disconnected" : ec.message().c_str());
        return;
    }
    size_t off = 0;
    while (off < n && !closed()) {
        off += reader_.feed(buffer_.data() + off, n - off);
        if (reader_.broken()) {
            LOG_RATELIMITED(XsSocket, Warn, "%s: message longer than XENSTORE_PAYLOAD_MAX",
                            describe().c_str());
            close("protocol violation");
            return;
        }
        if (reader_.hasMessage())
            server_.process(*this, reader_.take());
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
