#include "devmodel/host/dm_host.h"

#include "base/log.h"
#include "npt/phys_map.h"
#include "vmm/domain.h"
#include "vmm/exit_status.h"
#include "vmm/ioreq/ioreq_servers.h"
#include "vmm/kvm/vm.h"
#include "vmm/xen/xen_events.h"
#include "vmm/xen/xen_headers.h"
#include "vmm/xen/xen_memory.h"
#include "vmm/xen/xen_platform.h"

#include <cstring>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <vector>

namespace basalt::devmodel {

BASALT_LOG_CATEGORY(DmServe, "dmhost");

namespace {

// Room for the most fds a peer could attach, so they can all be closed.
constexpr size_t kControlBytes = CMSG_SPACE(sizeof(int) * 64);

void closeReceivedFds(msghdr& msg) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            UniqueFd drop(fd);
        }
    }
}

HostServices servicesOf(Domain& domain) {
    HostServices s;
    xen::XenPlatform& xen = domain.xen();
    s.domid = xen.config().domid;
    s.vcpus = xen.config().vcpuCount;
    s.physMap = &domain.physMap();
    s.ioreq = &domain.ioreqServers();
    s.channels = &xen.events().channels();
    s.params = &xen.params();
    if (xen.xenMemory())
        s.grants = &xen.xenMemory()->grantHost();
    s.setGsi = [&domain](uint32_t gsi, bool level) { return domain.vm().setIrqLine(gsi, level); };
    s.signalMsi = [&domain](uint64_t address, uint32_t data) -> Status {
        // An MSI the guest has masked is not an error for the device model.
        auto delivered = domain.vm().signalMsi(address, data);
        if (!delivered)
            return delivered.error();
        return {};
    };
    s.shutdown = [&domain](uint32_t reason) {
        switch (reason) {
        case SHUTDOWN_poweroff:
            domain.requestStop(kExitPoweredOff, "device model powered the guest off");
            break;
        case SHUTDOWN_reboot:
        case SHUTDOWN_soft_reset:
            domain.requestStop(kExitRebootRequested, "device model asked to reboot the guest");
            break;
        default:
            domain.requestStop(kExitCrashed, "crashed: device model reported shutdown reason " +
                                                 std::to_string(reason));
            break;
        }
    };
    return s;
}

} // namespace

Host::Host(HostServices services, std::function<void(const std::string&)> died)
    : services_(services), died_(std::move(died)), dispatcher_(std::move(services)) {}

Host::~Host() {
    stop();
}

Result<std::unique_ptr<Host>> Host::start(Domain& domain) {
    return start(servicesOf(domain), [&domain](const std::string& reason) {
        domain.requestStop(kExitCrashed, "crashed: device model " + reason);
    });
}

Result<std::unique_ptr<Host>> Host::start(HostServices services,
                                          std::function<void(const std::string&)> died) {
    std::unique_ptr<Host> host(new Host(std::move(services), std::move(died)));
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
        return errnoError("device-model socketpair");
    host->socket_.reset(pair[0]);
    host->peer_.reset(pair[1]);
    host->stopFd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!host->stopFd_)
        return errnoError("device-model host eventfd");
    host->thread_ = std::thread([h = host.get()] { h->serve(); });
    return host;
}

void Host::deviceModelDied(const std::string& reason) {
    if (dead_.exchange(true))
        return;
    // The launcher's reasons name the device model already.
    const char* subject = reason.starts_with("device model") ? "" : "device model ";
    LOG(DmServe, Error, "%s%s", subject, reason.c_str());
    if (services_.ioreq)
        services_.ioreq->release(reason);
    if (!stopping_.load() && died_)
        died_(reason);
}

void Host::stop() {
    if (!stopping_.exchange(true)) {
        uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(stopFd_.get(), &one, sizeof one);
    }
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id())
        thread_.join();
}

void Host::serve() {
    std::vector<uint8_t> buffer(kDmMaxPacket);
    alignas(cmsghdr) uint8_t control[kControlBytes];
    for (;;) {
        pollfd fds[2] = {{socket_.get(), POLLIN, 0}, {stopFd_.get(), POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            deviceModelDied("connection failed: poll: " + std::string(strerror(errno)));
            return;
        }
        if (fds[1].revents)
            return;
        iovec iov{buffer.data(), buffer.size()};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        ssize_t n = ::recvmsg(socket_.get(), &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0) {
            if (n == 0 && expectingExit_.load())
                LOG(DmServe, Info, "device model closed its connection on its way out");
            else if (!stopping_.load())
                deviceModelDied(n == 0 ? "closed its connection"
                                       : "connection failed: " + std::string(strerror(errno)));
            return;
        }
        // The device model never sends fds; any it attached are closed.
        closeReceivedFds(msg);
        size_t len = static_cast<size_t>(n);
        if (msg.msg_flags & MSG_TRUNC)
            len = 0; // an oversized packet is answered as a malformed one
        DmReply reply = dispatcher_.handle({buffer.data(), len});

        iovec out{reply.bytes.data(), reply.bytes.size()};
        msghdr rmsg{};
        rmsg.msg_iov = &out;
        rmsg.msg_iovlen = 1;
        alignas(cmsghdr) uint8_t rcontrol[CMSG_SPACE(sizeof(int) * kDmMaxFdsPerReply)];
        if (!reply.fds.empty()) {
            rmsg.msg_control = rcontrol;
            rmsg.msg_controllen = CMSG_SPACE(sizeof(int) * reply.fds.size());
            cmsghdr* c = CMSG_FIRSTHDR(&rmsg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * reply.fds.size());
            std::memcpy(CMSG_DATA(c), reply.fds.data(), sizeof(int) * reply.fds.size());
        }
        if (::sendmsg(socket_.get(), &rmsg, MSG_NOSIGNAL) < 0) {
            if (!stopping_.load())
                deviceModelDied("connection failed: " + std::string(strerror(errno)));
            return;
        }
    }
}

} // namespace basalt::devmodel
