#include "vmm/xen/host_event_channel.h"

#include "base/log.h"
#include "vmm/xen/event_channels.h"
#include "vmm/xen/host_event_pump.h"

#include <cerrno>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace basalt::xen {

BASALT_LOG_CATEGORY(HostEvtchn, "evtchn");

namespace {

constexpr int kMaxEventsPerWait = 16;

void addOne(int fd) {
    uint64_t one = 1;
    // EAGAIN only when the counter is about to overflow: it is pending anyway.
    [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
}

} // namespace

void HostEndpoint::signalHost() const {
    addOne(guestToHost.get());
}

HostPort::HostPort(EventChannels& channels, std::shared_ptr<HostEndpoint> endpoint)
    : channels_(channels), endpoint_(std::move(endpoint)) {}

HostPort::~HostPort() {
    channels_.closeHostEnd(endpoint_);
}

void HostPort::notify() {
    channels_.notifyFromHost(*endpoint_);
}

HostEventPump::HostEventPump(EventChannels& channels)
    : channels_(channels), epoll_(epoll_create1(EPOLL_CLOEXEC)),
      stop_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (!ok()) {
        LOG(HostEvtchn, Error, "host event pump: cannot create epoll/eventfd (errno %d)", errno);
        return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = stop_.get();
    epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, stop_.get(), &ev);
    thread_ = std::thread([this] { loop(); });
}

HostEventPump::~HostEventPump() {
    if (thread_.joinable()) {
        addOne(stop_.get());
        thread_.join();
    }
}

void HostEventPump::add(const std::shared_ptr<HostEndpoint>& endpoint) {
    std::lock_guard lock(mutex_);
    int fd = endpoint->hostToGuest.get();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
        LOG(HostEvtchn, Error, "host port %u: epoll_ctl failed (errno %d)", endpoint->hostPort,
            errno);
        return;
    }
    byFd_[fd] = endpoint;
}

void HostEventPump::remove(const HostEndpoint& endpoint) {
    std::lock_guard lock(mutex_);
    int fd = endpoint.hostToGuest.get();
    if (byFd_.erase(fd))
        epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

void HostEventPump::loop() {
    epoll_event events[kMaxEventsPerWait];
    for (;;) {
        int n = epoll_wait(epoll_.get(), events, kMaxEventsPerWait, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            LOG(HostEvtchn, Error, "host event pump: epoll_wait failed (errno %d)", errno);
            return;
        }
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (fd == stop_.get())
                return;
            std::shared_ptr<HostEndpoint> endpoint;
            {
                std::lock_guard lock(mutex_);
                auto it = byFd_.find(fd);
                if (it == byFd_.end())
                    continue;
                endpoint = it->second;
            }
            uint64_t count = 0;
            if (::read(fd, &count, sizeof count) == sizeof count && count)
                channels_.notifyFromHost(*endpoint);
        }
    }
}

} // namespace basalt::xen
