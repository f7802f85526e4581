#include "vmm/control_socket.h"

#include "base/log.h"

#include <boost/asio.hpp>
#include <unistd.h>

namespace basalt {

BASALT_LOG_CATEGORY(Control, "control");

namespace {

namespace asio = boost::asio;
using Socket = asio::local::stream_protocol::socket;

// A request line longer than this is an error, not something to buffer.
constexpr size_t kMaxRequestBytes = 64 * 1024;

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(Socket socket, ControlTarget& target)
        : socket_(std::move(socket)), target_(target), input_(kMaxRequestBytes) {}

    void start() { readLine(); }

private:
    void readLine() {
        auto self = shared_from_this();
        asio::async_read_until(
            socket_, input_, '\n',
            [self](boost::system::error_code ec, size_t n) { self->onLine(ec, n); });
    }

    void onLine(boost::system::error_code ec, size_t n) {
        if (ec == asio::error::not_found) {
            reply(R"({"ok":false,"error":"request line too long"})", /*close=*/true);
            return;
        }
        if (ec)
            return; // client went away
        std::string line(asio::buffers_begin(input_.data()),
                         asio::buffers_begin(input_.data()) + static_cast<std::ptrdiff_t>(n - 1));
        input_.consume(n);
        reply(handleControlRequest(line, target_), /*close=*/false);
    }

    void reply(std::string text, bool close) {
        auto self = shared_from_this();
        auto out = std::make_shared<std::string>(std::move(text) + "\n");
        asio::async_write(socket_, asio::buffer(*out),
                          [self, out, close](boost::system::error_code ec, size_t) {
                              if (!ec && !close)
                                  self->readLine();
                          });
    }

    Socket socket_;
    ControlTarget& target_;
    asio::streambuf input_;
};

} // namespace

struct ControlSocket::Impl {
    Impl(const std::string& p, ControlTarget& t) : path(p), target(t), acceptor(io) {}

    void accept() {
        acceptor.async_accept([this](boost::system::error_code ec, Socket socket) {
            if (ec)
                return; // acceptor closed
            std::make_shared<Session>(std::move(socket), target)->start();
            accept();
        });
    }

    std::string path;
    ControlTarget& target;
    asio::io_context io;
    asio::local::stream_protocol::acceptor acceptor;
    std::thread thread;
};

Result<std::unique_ptr<ControlSocket>> ControlSocket::listen(const std::string& path,
                                                             ControlTarget& target) {
    auto impl = std::make_unique<Impl>(path, target);
    boost::system::error_code ec;
    ::unlink(path.c_str()); // a stale socket from a dead basalt-vmm
    asio::local::stream_protocol::endpoint endpoint(path);
    impl->acceptor.open(endpoint.protocol(), ec);
    if (!ec)
        impl->acceptor.bind(endpoint, ec);
    if (!ec)
        impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return makeError(ec.value(), "control socket '" + path + "': " + ec.message());
    impl->accept();
    Impl* raw = impl.get();
    impl->thread = std::thread([raw] { raw->io.run(); });
    LOG(Control, Debug, "listening on %s", path.c_str());
    return std::unique_ptr<ControlSocket>(new ControlSocket(std::move(impl)));
}

ControlSocket::ControlSocket(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ControlSocket::~ControlSocket() {
    impl_->io.stop();
    if (impl_->thread.joinable())
        impl_->thread.join();
    ::unlink(impl_->path.c_str());
}

} // namespace basalt
