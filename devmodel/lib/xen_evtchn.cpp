// libxenevtchn.so.1: event channels between QEMU and the guest's ioreq
// ports, as eventfds.
//
// Xen's /dev/xen/evtchn is one fd per handle that becomes readable when any
// bound port fires; read() yields the port, and the port stays masked until
// the caller writes it back (unmask). Basalt keeps the one-fd shape with an
// epoll fd per handle: each bound port contributes its fromGuest eventfd,
// tagged with the local port number.
//
// Worked example (QEMU's ioreq loop, vCPU 0's port is 5, the buffered port 7):
//   bind_interdomain(1, vp_eport) -> 5, fds [fromGuest5, toGuest5] (the same for 7)
//   host writes 1 to fromGuest5         -> xenevtchn_fd() polls readable
//   xenevtchn_pending()                 -> epoll says 5; its count is read (cleared); 5
//   xenevtchn_unmask(5)                 -> nothing to do (see below)
//   QEMU answers the ioreq, xenevtchn_notify(5) -> writes 1 to toGuest5
// Unmask is a no-op because an eventfd cannot lose or duplicate a signal the
// way an unmasked Xen port could: pending() consumes the count, and a signal
// that arrives any time after that raises the count again and makes the epoll
// fd readable again. No masked state exists to clear.

#include "devmodel/lib/active_handle.h"
#include "devmodel/lib/dm_client.h"

// Xen's tools headers declare C functions without extern "C" themselves.
extern "C" {
#include <xenevtchn.h>
}

#include <dlfcn.h>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <sys/epoll.h>
#include <unistd.h>

using namespace basalt;
using namespace basalt::devmodel;

namespace {

struct BoundPort {
    UniqueFd fromGuest;
    UniqueFd toGuest;
};

// BindInterdomain's reply carries exactly these fds, in this order.
constexpr size_t kBindFds = 2;
constexpr uint64_t kNotifyIncrement = 1;

// Tells the device model's preload (devmodel/launcher/poll_preload.cpp), when
// it is there, which fds are event channel fds: it polls a wait on one of
// them adaptively before sleeping. Outside QEMU the preload is absent.
void tellPreload(int fd, bool watch) {
    using WatchFn = void (*)(int, int);
    static const auto fn = reinterpret_cast<WatchFn>(dlsym(RTLD_DEFAULT, "basalt_poll_watch_fd"));
    if (fn)
        fn(fd, watch ? 1 : 0);
}

} // namespace

struct xenevtchn_handle {
    Xentoolcore__Active_Handle toolcore;
    UniqueFd epoll;
    std::mutex mutex;
    std::map<evtchn_port_t, BoundPort> ports;
};

namespace {

void forgetPort(xenevtchn_handle& xce, std::map<evtchn_port_t, BoundPort>::iterator it) {
    epoll_ctl(xce.epoll.get(), EPOLL_CTL_DEL, it->second.fromGuest.get(), nullptr);
    xce.ports.erase(it);
}

int sendUnbind(evtchn_port_t port) {
    DmPortRequest request{port, 0};
    auto reply = DmClient::instance().callWith(DmOp::Unbind, request);
    return reply ? 0 : failWith(reply.error());
}

} // namespace

extern "C" {

xenevtchn_handle* xenevtchn_open(xentoollog_logger*, unsigned int flags) {
    return guarded<xenevtchn_handle*>(nullptr, [&]() -> xenevtchn_handle* {
        if (flags & ~XENEVTCHN_NO_CLOEXEC) {
            errno = EINVAL;
            return nullptr;
        }
        if (auto ok = DmClient::instance().available(); !ok)
            return failNull(ok.error());
        UniqueFd epoll(epoll_create1((flags & XENEVTCHN_NO_CLOEXEC) ? 0 : EPOLL_CLOEXEC));
        if (!epoll)
            return nullptr;
        auto* xce = new xenevtchn_handle{};
        xce->epoll = std::move(epoll);
        tellPreload(xce->epoll.get(), true);
        registerHandle(xce->toolcore);
        return xce;
    });
}

int xenevtchn_close(xenevtchn_handle* xce) {
    if (!xce)
        return 0;
    xentoolcore__deregister_active_handle(&xce->toolcore);
    tellPreload(xce->epoll.get(), false);
    // Closing Xen's device unbinds every port the handle holds.
    for (auto& [port, bound] : xce->ports)
        guarded(-1, [&] { return sendUnbind(port); });
    delete xce;
    return 0;
}

int xenevtchn_fd(xenevtchn_handle* xce) {
    return xce->epoll.get();
}

int xenevtchn_restrict(xenevtchn_handle* xce, domid_t domid) {
    return restrictToDomain(&xce->toolcore, domid);
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle* xce, uint32_t domid,
                                                     evtchn_port_t remote_port) {
    return guarded<xenevtchn_port_or_error_t>(-1, [&]() -> xenevtchn_port_or_error_t {
        if (auto bound = DmClient::instance().bindDomain(domid); !bound)
            return failWith(bound.error());
        DmBindInterdomainRequest request{domid, remote_port};
        auto reply =
            DmClient::instance().callWith(DmOp::BindInterdomain, request, {}, DmReplyBody::Fds);
        if (!reply)
            return failWith(reply.error());
        const uint64_t port = reply->value;
        if (reply->fds.size() != kBindFds || port > INT32_MAX) {
            // Give the port back if there is one; the reply itself is unusable.
            if (port <= INT32_MAX)
                sendUnbind(static_cast<evtchn_port_t>(port));
            errno = EPROTO;
            return -1;
        }
        BoundPort bound{std::move(reply->fds[0]), std::move(reply->fds[1])};
        // pending() drains the count without blocking even if the host signals
        // from several threads; the host only ever writes this eventfd.
        int fl = fcntl(bound.fromGuest.get(), F_GETFL);
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.u32 = static_cast<uint32_t>(port);
        std::lock_guard lock(xce->mutex);
        if (fl < 0 || fcntl(bound.fromGuest.get(), F_SETFL, fl | O_NONBLOCK) != 0 ||
            xce->ports.count(static_cast<evtchn_port_t>(port)) ||
            epoll_ctl(xce->epoll.get(), EPOLL_CTL_ADD, bound.fromGuest.get(), &event) != 0) {
            int saved = xce->ports.count(static_cast<evtchn_port_t>(port)) ? EPROTO : errno;
            sendUnbind(static_cast<evtchn_port_t>(port));
            errno = saved;
            return -1;
        }
        xce->ports.emplace(static_cast<evtchn_port_t>(port), std::move(bound));
        return static_cast<xenevtchn_port_or_error_t>(port);
    });
}

int xenevtchn_unbind(xenevtchn_handle* xce, evtchn_port_t port) {
    return guarded(-1, [&] {
        {
            std::lock_guard lock(xce->mutex);
            auto it = xce->ports.find(port);
            if (it == xce->ports.end()) {
                errno = ENOTCONN; // Linux's evtchn device for a port this handle lacks
                return -1;
            }
            forgetPort(*xce, it);
        }
        return sendUnbind(port);
    });
}

int xenevtchn_notify(xenevtchn_handle* xce, evtchn_port_t port) {
    std::lock_guard lock(xce->mutex);
    auto it = xce->ports.find(port);
    if (it == xce->ports.end()) {
        errno = ENOTCONN;
        return -1;
    }
    const uint64_t one = kNotifyIncrement;
    ssize_t n;
    do {
        n = write(it->second.toGuest.get(), &one, sizeof(one));
    } while (n < 0 && errno == EINTR);
    return n == sizeof(one) ? 0 : -1;
}

// One ready port per call. Like Xen's device, it blocks while nothing is
// pending unless the caller made xenevtchn_fd() non-blocking, in which case it
// fails with EAGAIN.
xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle* xce) {
    // QEMU calls this when the fd polled readable: look without waiting
    // first, and ask whether the caller wants to block only if nothing is
    // there (one syscall fewer on every ioreq).
    int timeout = 0;
    for (;;) {
        epoll_event event{};
        int n = epoll_wait(xce->epoll.get(), &event, 1, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            const int fl = fcntl(xce->epoll.get(), F_GETFL);
            if (fl < 0)
                return -1;
            if (fl & O_NONBLOCK) {
                errno = EAGAIN;
                return -1;
            }
            timeout = -1;
            continue;
        }
        const evtchn_port_t port = event.data.u32;
        std::lock_guard lock(xce->mutex);
        auto it = xce->ports.find(port);
        if (it == xce->ports.end())
            continue; // unbound by another thread meanwhile
        uint64_t count = 0;
        if (read(it->second.fromGuest.get(), &count, sizeof(count)) == sizeof(count))
            return static_cast<xenevtchn_port_or_error_t>(port);
        if (errno != EAGAIN)
            return -1;
        // Another thread drained it first: wait for the next signal.
    }
}

int xenevtchn_unmask(xenevtchn_handle*, evtchn_port_t) {
    return 0; // see the block comment: eventfds have no masked state
}
}
