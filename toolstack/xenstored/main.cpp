// basalt-xenstored: the standalone xenstore daemon (basaltd embeds Server).
//
//   basalt-xenstored [--socket PATH] [--socket-group GROUP] [--persist FILE]
//
// Without --socket it listens where Debian's libxenstore.so.4 looks:
// $XENSTORED_PATH, else $XENSTORED_RUNDIR/socket, else /var/run/xenstored/socket.

#include "base/log.h"
#include "toolstack/xenstored/fd_ring.h"
#include "toolstack/xenstored/persistence.h"
#include "toolstack/xenstored/server.h"
#include "toolstack/xenstored/socket_connection.h"

#include <boost/asio.hpp>
#include <boost/program_options.hpp>
#include <grp.h>
#include <optional>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sys/stat.h>

namespace po = boost::program_options;
using namespace basalt::xenstore;

BASALT_LOG_CATEGORY(XsMain, "xenstored");

namespace {

constexpr char kDefaultRunDir[] = "/var/run/xenstored";
constexpr char kSocketName[] = "/socket";

std::string defaultSocketPath() {
    if (const char* p = std::getenv("XENSTORED_PATH"); p && *p)
        return p;
    if (const char* d = std::getenv("XENSTORED_RUNDIR"); d && *d)
        return std::string(d) + kSocketName;
    return std::string(kDefaultRunDir) + kSocketName;
}

} // namespace

int main(int argc, char** argv) {
    std::string socketPath;
    std::string persistFile;
    std::string socketGroup;
    po::options_description opts("basalt-xenstored options");
    opts.add_options()("help,h", "show this help")(
        "socket", po::value(&socketPath), "UNIX socket path (default: as libxenstore looks)")(
        "socket-group", po::value(&socketGroup),
        "also let GROUP use the socket (mode 0660): the device models' user group, basalt-qemu")(
        "persist", po::value(&persistFile), "keep the store in FILE across restarts");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, opts), vm);
        po::notify(vm);
    } catch (const std::exception& e) {
        std::cerr << "basalt-xenstored: " << e.what() << "\n" << opts;
        return 2;
    }
    if (vm.count("help")) {
        std::cout << opts;
        return 0;
    }
    std::optional<gid_t> groupId;
    if (!socketGroup.empty()) {
        const group* g = ::getgrnam(socketGroup.c_str());
        if (!g) {
            std::cerr << "basalt-xenstored: --socket-group: no group '" << socketGroup
                      << "' (scripts/setup creates basalt-qemu)\n";
            return 2;
        }
        groupId = g->gr_gid;
    }
    if (socketPath.empty()) {
        socketPath = defaultSocketPath();
        if (socketPath == std::string(kDefaultRunDir) + kSocketName)
            ::mkdir(kDefaultRunDir, 0755);
    }

    // Before the server: its connections' sockets must go before their io_context.
    boost::asio::io_context io;
    Server server;
    std::unique_ptr<Persistence> persistence;
    if (!persistFile.empty()) {
        auto p = Persistence::open(persistFile, server.tree());
        if (!p.ok()) {
            LOG(XsMain, Error, "--persist %s: %s", persistFile.c_str(), p.error().message.c_str());
            return 1;
        }
        persistence = std::move(p.value());
        server.setChangeSink(persistence.get());
        server.restoreDomains(persistence->savedDomains());
    }

    // The core hands guest rings over as fds with XS_INTRODUCE.
    server.setFdRingIntroducer(FdRingConnection::introducer(io, server));
    SocketListener listener(io, server);
    if (!listener.listen(socketPath, groupId))
        return 1;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
    std::signal(SIGPIPE, SIG_IGN);
    LOG(XsMain, Info, "listening on %s", socketPath.c_str());
    io.run();

    if (persistence) {
        auto st = persistence->compact();
        if (!st.ok())
            LOG(XsMain, Error, "final snapshot: %s", st.error().message.c_str());
    }
    ::unlink(socketPath.c_str());
    return 0;
}
