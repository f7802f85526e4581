#pragma once
// An in-process xenstored (Server + SocketListener) on a temporary socket,
// served by its own thread, for tests of socket clients.

#include "toolstack/xenstored/fd_ring.h"
#include "toolstack/xenstored/server.h"
#include "toolstack/xenstored/socket_connection.h"

#include <boost/asio.hpp>

#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <unistd.h>

namespace basalt::xenstore::test {

class ServerThread {
public:
    ServerThread() : listener_(io_, server_) {
        server_.setFdRingIntroducer(FdRingConnection::introducer(io_, server_));
        char dir[] = "/tmp/xs-test-XXXXXX";
        dir_ = ::mkdtemp(dir);
        path_ = dir_ + "/socket";
        ok_ = listener_.listen(path_);
        thread_ = std::thread([this] {
            auto guard = boost::asio::make_work_guard(io_);
            io_.run();
        });
    }
    ~ServerThread() {
        io_.stop();
        thread_.join();
        ::unlink(path_.c_str());
        ::rmdir(dir_.c_str());
    }
    bool listening() const { return ok_; }
    const std::string& path() const { return path_; }
    // Runs `fn` on the server's thread and waits for it.
    template <typename Fn> auto run(Fn fn) {
        std::packaged_task<decltype(fn())()> task(std::move(fn));
        auto result = task.get_future();
        boost::asio::post(io_, [&task] { task(); });
        return result.get();
    }
    Server& server() { return server_; }
    boost::asio::io_context& io() { return io_; }

private:
    boost::asio::io_context io_;
    Server server_;
    SocketListener listener_;
    std::string dir_;
    std::string path_;
    bool ok_ = false;
    std::thread thread_;
};

} // namespace basalt::xenstore::test
