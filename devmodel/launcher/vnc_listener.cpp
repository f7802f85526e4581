// listenForVnc: see vnc_listener.h.

#include "devmodel/launcher/vnc_listener.h"

#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace basalt::devmodel {
namespace {

constexpr const char* kUnixPrefix = "unix:";
constexpr int kListenBacklog = 16;

Result<UniqueFd> listenUnix(const std::string& path, uid_t uid, gid_t gid) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path))
        return makeError(ENAMETOOLONG, "the VNC socket path '" + path + "' is too long");
    std::memcpy(addr.sun_path, path.data(), path.size());
    // A previous run's socket, as QEMU replaces it; never any other file.
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return makeError(EEXIST, "'" + path + "' exists and is not a socket");
        ::unlink(path.c_str());
    }
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid())
        return errnoError("cannot create a socket");
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) < 0)
        return errnoError("cannot bind the VNC socket '" + path + "'");
    if (::chown(path.c_str(), uid, gid) < 0)
        return errnoError("cannot give the VNC socket '" + path + "' to the device-model user");
    if (::listen(fd.get(), kListenBacklog) < 0)
        return errnoError("cannot listen on the VNC socket '" + path + "'");
    return fd;
}

Result<UniqueFd> listenTcp(const std::string& address) {
    const size_t colon = address.rfind(':');
    std::string host = address.substr(0, colon);
    const uint32_t port =
        kVncBasePort + static_cast<uint32_t>(std::stoul(address.substr(colon + 1)));
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
        return makeError(EINVAL, "cannot resolve the VNC host '" + host + "': " + gai_strerror(rc));
    std::string why = "no address";
    UniqueFd result;
    for (addrinfo* ai = found; ai && !result.valid(); ai = ai->ai_next) {
        UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
        const int one = 1;
        if (fd.valid() &&
            ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
            ::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0 &&
            ::listen(fd.get(), kListenBacklog) == 0)
            result = std::move(fd);
        else
            why = strerror(errno);
    }
    ::freeaddrinfo(found);
    if (!result.valid())
        return makeError(EADDRINUSE,
                         "cannot listen for VNC on " + host + " port " + service + ": " + why);
    return result;
}

} // namespace

std::string vncUnixPath(const std::string& address) {
    const std::string prefix = kUnixPrefix;
    return address.rfind(prefix, 0) == 0 ? address.substr(prefix.size()) : std::string();
}

Result<UniqueFd> listenForVnc(const std::string& address, uid_t uid, gid_t gid) {
    const std::string path = vncUnixPath(address);
    if (!path.empty())
        return listenUnix(path, uid, gid);
    return listenTcp(address);
}

} // namespace basalt::devmodel
