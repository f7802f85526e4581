#include "toolstack/xs_client/xs_client.h"

#include "base/log.h"
#include "toolstack/xenstored/wire.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace basalt::xs {

BASALT_LOG_CATEGORY(XsClient, "xs-client");

namespace {

using basalt::xenstore::encodeMessage;
using basalt::xenstore::errorFromString;
using basalt::xenstore::Message;

constexpr char kDefaultSocket[] = "/var/run/xenstored/socket";
constexpr char kSocketName[] = "/socket";
// xenstored answers every request at once; a daemon that does not answer in
// this long is wedged, and the caller is better off with an error.
constexpr std::chrono::milliseconds kReplyTimeout{30000};
constexpr size_t kMaxIntroduceFds = 3;
constexpr char kWaitToken[] = "basalt-xs-client-wait";

std::string defaultSocketPath() {
    if (const char* p = std::getenv("XENSTORED_PATH"); p && *p)
        return p;
    if (const char* d = std::getenv("XENSTORED_RUNDIR"); d && *d)
        return std::string(d) + kSocketName;
    return kDefaultSocket;
}

Error protocolError(const std::string& what) {
    LOG(XsClient, Error, "%s", what.c_str());
    return makeError(EPROTO, what);
}

// Sends all of `bytes`, the fds riding on the first byte.
Status sendAll(int fd, const std::string& bytes, const std::vector<int>& fds) {
    size_t off = 0;
    bool fdsSent = fds.empty();
    while (off < bytes.size()) {
        iovec iov{const_cast<char*>(bytes.data() + off), bytes.size() - off};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxIntroduceFds)] = {};
        if (!fdsSent) {
            size_t len = sizeof(int) * fds.size();
            msg.msg_control = control;
            msg.msg_controllen = CMSG_SPACE(len);
            cmsghdr* c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(len);
            std::memcpy(CMSG_DATA(c), fds.data(), len);
        }
        ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errnoError("xenstore: send");
        }
        fdsSent = true;
        off += static_cast<size_t>(n);
    }
    return {};
}

std::string stripNul(std::string s) {
    if (!s.empty() && s.back() == '\0')
        s.pop_back();
    return s;
}

} // namespace

Result<Client> Client::connect(const std::string& socketPath) {
    std::string path = socketPath.empty() ? defaultSocketPath() : socketPath;
    sockaddr_un addr{};
    if (path.size() >= sizeof(addr.sun_path))
        return makeError(ENAMETOOLONG, "xenstore socket path too long: " + path);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd)
        return errnoError("xenstore: socket");
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
        auto err = errnoError("xenstore: connect " + path);
        LOG(XsClient, Error, "%s", err.message.c_str());
        return err;
    }
    return Client(std::move(fd));
}

std::string Client::domainPath(uint32_t domid) {
    return "/local/domain/" + std::to_string(domid);
}

// Reads one whole message, waiting at most until `deadline`. ETIMEDOUT when
// it passes; ECHILD when `abandon` becomes readable first.
Result<Message> Client::receive(std::chrono::steady_clock::time_point deadline, int abandon) {
    basalt::xenstore::MessageReader reader;
    if (!inBuffer_.empty()) {
        size_t used =
            reader.feed(reinterpret_cast<const uint8_t*>(inBuffer_.data()), inBuffer_.size());
        inBuffer_.erase(0, used);
    }
    while (!reader.hasMessage()) {
        if (reader.broken())
            return protocolError("xenstore: reply longer than XENSTORE_PAYLOAD_MAX");
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() < 0)
            return makeError(ETIMEDOUT, "xenstore: no answer in time");
        pollfd pfds[2] = {{fd_.get(), POLLIN, 0}, {abandon, POLLIN, 0}};
        int r = ::poll(pfds, abandon >= 0 ? 2 : 1, static_cast<int>(left.count()) + 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errnoError("xenstore: poll");
        }
        if (abandon >= 0 && (pfds[1].revents & (POLLIN | POLLHUP | POLLERR)))
            return makeError(ECHILD, "xenstore: wait abandoned");
        if (!(pfds[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        char buf[4096];
        ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return errnoError("xenstore: recv");
        }
        if (n == 0)
            return makeError(ECONNRESET, "xenstore: daemon closed the connection");
        size_t used = reader.feed(reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(n));
        inBuffer_.append(buf + used, static_cast<size_t>(n) - used);
    }
    return reader.take();
}

Result<std::string> Client::request(uint32_t type, const std::string& body,
                                    const std::vector<int>& fds) {
    if (!fd_)
        return makeError(ENOTCONN, "xenstore: not connected");
    if (body.size() > basalt::xenstore::kPayloadMax)
        return makeError(E2BIG, "xenstore: request too long");
    uint32_t reqId = nextReqId_++;
    BASALT_TRY(sendAll(fd_.get(), encodeMessage(type, reqId, 0, body), fds));
    auto deadline = std::chrono::steady_clock::now() + kReplyTimeout;
    for (;;) {
        auto m = receive(deadline, -1);
        if (!m.ok()) {
            // The stream is out of step now; nothing more can be trusted on it.
            fd_.reset();
            return m.error();
        }
        if (m->type == XS_WATCH_EVENT) {
            queueEvent(m->payload);
            continue;
        }
        if (m->reqId != reqId) {
            fd_.reset();
            return protocolError("xenstore: reply to request " + std::to_string(m->reqId) +
                                 ", expected " + std::to_string(reqId));
        }
        if (m->type == XS_ERROR) {
            std::string name = stripNul(m->payload);
            int code = errorFromString(name);
            return makeError(code ? code : EINVAL, "xenstore: " + name);
        }
        if (m->type != type) {
            fd_.reset();
            return protocolError("xenstore: reply of type " + std::to_string(m->type) +
                                 " to request of type " + std::to_string(type));
        }
        return std::move(m->payload);
    }
}

void Client::queueEvent(const std::string& payload) {
    auto parts = basalt::xenstore::splitStrings(payload);
    if (parts.size() < 2) {
        LOG_RATELIMITED(XsClient, Warn, "malformed watch event dropped");
        return;
    }
    pendingEvents_.push_back(WatchEvent{std::string(parts[0]), std::string(parts[1])});
}

Result<std::string> Client::read(const std::string& path) {
    auto r = request(XS_READ, path + '\0');
    if (!r.ok())
        return r.error();
    return std::move(r.value());
}

Status Client::write(const std::string& path, const std::string& value) {
    std::string body = path + '\0' + value;
    BASALT_TRY(request(XS_WRITE, body));
    return {};
}

Status Client::mkdir(const std::string& path) {
    BASALT_TRY(request(XS_MKDIR, path + '\0'));
    return {};
}

Status Client::remove(const std::string& path) {
    auto r = request(XS_RM, path + '\0');
    if (!r.ok() && r.error().code != ENOENT)
        return r.error();
    return {};
}

Result<std::vector<std::string>> Client::directory(const std::string& path) {
    auto r = request(XS_DIRECTORY, path + '\0');
    if (!r.ok())
        return r.error();
    std::vector<std::string> out;
    for (auto name : basalt::xenstore::splitStrings(r.value()))
        out.emplace_back(name);
    return out;
}

Status Client::setPermissions(const std::string& path, const std::vector<Permission>& perms) {
    if (perms.empty())
        return makeError(EINVAL, "xenstore: set_permissions needs an owner entry");
    std::string body = path + '\0';
    for (const auto& p : perms) {
        if (p.access != 'n' && p.access != 'r' && p.access != 'w' && p.access != 'b')
            return makeError(EINVAL, std::string("xenstore: bad permission '") + p.access + "'");
        body += p.access + std::to_string(p.domid) + '\0';
    }
    BASALT_TRY(request(XS_SET_PERMS, body));
    return {};
}

Status Client::watch(const std::string& path, const std::string& token) {
    BASALT_TRY(request(XS_WATCH, path + '\0' + token + '\0'));
    return {};
}

Status Client::unwatch(const std::string& path, const std::string& token) {
    BASALT_TRY(request(XS_UNWATCH, path + '\0' + token + '\0'));
    return {};
}

Result<WatchEvent> Client::waitWatch(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pendingEvents_.empty()) {
        if (!fd_)
            return makeError(ENOTCONN, "xenstore: not connected");
        auto m = receive(deadline, -1);
        if (!m.ok()) {
            if (m.error().code != ETIMEDOUT)
                fd_.reset();
            return m.error();
        }
        if (m->type != XS_WATCH_EVENT) {
            fd_.reset();
            return protocolError("xenstore: unsolicited reply while waiting for a watch");
        }
        queueEvent(m->payload);
    }
    WatchEvent e = std::move(pendingEvents_.front());
    pendingEvents_.erase(pendingEvents_.begin());
    return e;
}

Status Client::waitForValue(const std::string& path, const std::string& value,
                            std::chrono::milliseconds timeout, int abandon) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    BASALT_TRY(watch(path, kWaitToken));
    auto finish = [&](Status st) -> Status {
        if (fd_) {
            auto un = unwatch(path, kWaitToken);
            if (!un.ok() && st.ok())
                return un;
        }
        // Our own events must not leak to a later waitWatch().
        std::erase_if(pendingEvents_, [](const WatchEvent& e) { return e.token == kWaitToken; });
        return st;
    };
    for (;;) {
        auto current = read(path);
        if (current.ok() && current.value() == value)
            return finish({});
        if (!current.ok() && current.error().code != ENOENT)
            return finish(current.error());
        // Wait for our watch to fire again; other tokens' events stay queued.
        bool fired = false;
        while (!fired) {
            auto it = std::find_if(pendingEvents_.begin(), pendingEvents_.end(),
                                   [](const WatchEvent& e) { return e.token == kWaitToken; });
            if (it != pendingEvents_.end()) {
                pendingEvents_.erase(it);
                fired = true;
                break;
            }
            auto m = receive(deadline, abandon);
            if (!m.ok()) {
                if (m.error().code != ETIMEDOUT && m.error().code != ECHILD)
                    fd_.reset();
                return finish(m.error());
            }
            if (m->type != XS_WATCH_EVENT) {
                fd_.reset();
                return finish(protocolError("xenstore: unsolicited reply while waiting"));
            }
            queueEvent(m->payload);
        }
    }
}

Status Client::introduce(uint32_t domid, uint64_t mfn, uint32_t port, int pageFd,
                         uint64_t pageOffset, int guestToStoreFd, int storeToGuestFd) {
    std::string body =
        std::to_string(domid) + '\0' + std::to_string(mfn) + '\0' + std::to_string(port) + '\0';
    std::vector<int> fds;
    if (pageFd >= 0) {
        if (guestToStoreFd < 0 || storeToGuestFd < 0)
            return makeError(EINVAL, "xenstore: introduce needs both event fds with the page");
        body += std::to_string(pageOffset) + '\0';
        fds = {pageFd, guestToStoreFd, storeToGuestFd};
    }
    BASALT_TRY(request(XS_INTRODUCE, body, fds));
    return {};
}

Status Client::release(uint32_t domid) {
    BASALT_TRY(request(XS_RELEASE, std::to_string(domid) + '\0'));
    return {};
}

} // namespace basalt::xs
