#include "devmodel/lib/dm_client.h"

#include "base/log.h"
#include "devmodel/lib/active_handle.h"

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string_view>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace basalt::devmodel {

BASALT_LOG_CATEGORY(DmClient, "dmclient");

namespace {

// errno values travel as small positive ints; anything else is a broken host.
constexpr int32_t kMaxErrno = 4095;

bool plausibleErrno(int32_t code) {
    return code > 0 && code <= kMaxErrno;
}

} // namespace

DmClient& DmClient::instance() {
    // Leaked on purpose: QEMU may close handles from atexit handlers that run
    // after static destructors.
    static DmClient* client = new DmClient();
    return *client;
}

Error DmClient::failLocked(int code, const char* what) {
    if (deadError_ == 0) {
        LOG(DmClient, Error, "device-model connection lost: %s (%s)", what, strerror(code));
        deadError_ = code;
    }
    fd_.reset();
    return makeError(code, what);
}

Status DmClient::connectLocked() {
    if (deadError_)
        return makeError(deadError_, "device-model connection is closed");
    if (fd_.valid())
        return {};
    if (envChecked_)
        return makeError(ENOTCONN, "no device-model connection");
    envChecked_ = true;

    const char* env = getenv(kDmSocketEnv);
    if (!env) {
        LOG(DmClient, Error, "%s is not set: not started by basalt-vmm", kDmSocketEnv);
        return makeError(ENOENT, "device-model socket not given");
    }
    std::string_view text(env);
    int fd = -1;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), fd);
    if (ec != std::errc() || end != text.data() + text.size() || fd < 0) {
        LOG(DmClient, Error, "%s=%s is not a file descriptor number", kDmSocketEnv, env);
        return makeError(EBADF, "bad device-model socket number");
    }
    struct stat st {};
    int type = 0;
    socklen_t typeLen = sizeof(type);
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &typeLen) != 0 || type != SOCK_SEQPACKET) {
        LOG(DmClient, Error, "%s=%d is not a SOCK_SEQPACKET socket", kDmSocketEnv, fd);
        return makeError(EBADF, "device-model socket is not a seqpacket socket");
    }
    // QEMU's own helper children must not inherit the connection.
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
        return errnoError("fcntl(FD_CLOEXEC) on the device-model socket");
    fd_ = UniqueFd(fd);
    return {};
}

Status DmClient::available() {
    std::lock_guard lock(mutex_);
    return connectLocked();
}

bool DmClient::bound() const {
    std::lock_guard lock(mutex_);
    return bound_;
}

uint32_t DmClient::domid() const {
    std::lock_guard lock(mutex_);
    return domid_;
}

Status DmClient::helloLocked(uint32_t domid) {
    DmHelloRequest hello{kDmProtocolVersion, domid};
    auto reply =
        exchangeLocked(DmOp::Hello, {reinterpret_cast<const uint8_t*>(&hello), sizeof(hello)}, {},
                       DmReplyBody::Plain);
    if (!reply)
        return reply.error();
    if (reply->body.size() != sizeof(DmHelloReply))
        return failLocked(EPROTO, "malformed Hello reply");
    DmHelloReply answer{};
    memcpy(&answer, reply->body.data(), sizeof(answer));
    if (answer.version != kDmProtocolVersion || answer.domid != domid)
        return failLocked(EPROTO, "Hello reply names another version or domain");
    bound_ = true;
    domid_ = domid;
    vcpus_ = answer.vcpus;
    LOG(DmClient, Debug, "session for domain %u (%u vCPUs)", domid_, vcpus_);
    return {};
}

Status DmClient::bindDomain(uint32_t domid) {
    std::lock_guard lock(mutex_);
    if (deadError_)
        return makeError(deadError_, "device-model connection is closed");
    if (bound_)
        return domid == domid_ ? Status{} : makeError(EPERM, "connection serves another domain");
    BASALT_TRY(connectLocked());
    return helloLocked(domid);
}

Result<DmReply> DmClient::call(DmOp op, std::span<const uint8_t> head,
                               std::span<const uint8_t> tail, DmReplyBody layout) {
    std::lock_guard lock(mutex_);
    if (deadError_)
        return makeError(deadError_, "device-model connection is closed");
    if (!bound_)
        return makeError(ENOTCONN, "no device-model session yet");
    return exchangeLocked(op, head, tail, layout);
}

Result<DmReply> DmClient::exchangeLocked(DmOp op, std::span<const uint8_t> head,
                                         std::span<const uint8_t> tail, DmReplyBody layout) {
    const size_t total = sizeof(DmRequestHeader) + head.size() + tail.size();
    if (total > kDmMaxPacket)
        return makeError(EMSGSIZE, "device-model request too large");
    DmRequestHeader header{static_cast<uint32_t>(op), static_cast<uint32_t>(total), nextSeq_++};
    iovec out[3] = {{&header, sizeof(header)},
                    {const_cast<uint8_t*>(head.data()), head.size()},
                    {const_cast<uint8_t*>(tail.data()), tail.size()}};
    msghdr sendHdr{};
    sendHdr.msg_iov = out;
    sendHdr.msg_iovlen = 3;
    ssize_t sent;
    do {
        sent = sendmsg(fd_.get(), &sendHdr, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0)
        return failLocked(errno, "sending a request");
    if (static_cast<size_t>(sent) != total)
        return failLocked(EPROTO, "short send");

    std::vector<uint8_t> packet(kDmMaxPacket);
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kDmMaxFdsPerReply)];
    iovec in{packet.data(), packet.size()};
    msghdr recvHdr{};
    recvHdr.msg_iov = &in;
    recvHdr.msg_iovlen = 1;
    recvHdr.msg_control = control;
    recvHdr.msg_controllen = sizeof(control);
    ssize_t got;
    do {
        got = recvmsg(fd_.get(), &recvHdr, MSG_CMSG_CLOEXEC);
    } while (got < 0 && errno == EINTR);
    if (got < 0)
        return failLocked(errno, "receiving a reply");

    // Take ownership of every fd first, so each error path closes them.
    std::vector<UniqueFd> fds;
    for (cmsghdr* c = CMSG_FIRSTHDR(&recvHdr); c; c = CMSG_NXTHDR(&recvHdr, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; ++i) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            fds.emplace_back(fd);
        }
    }
    if (got == 0)
        return failLocked(EPIPE, "the device-model host closed the connection");
    if (recvHdr.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
        return failLocked(EPROTO, "reply truncated");
    DmReplyHeader reply{};
    if (static_cast<size_t>(got) < sizeof(reply))
        return failLocked(EPROTO, "reply shorter than its header");
    memcpy(&reply, packet.data(), sizeof(reply));
    if (reply.length != static_cast<size_t>(got) || reply.seq != header.seq ||
        reply.fdCount != fds.size())
        return failLocked(EPROTO, "reply header does not match the packet");
    const size_t bodySize = static_cast<size_t>(got) - sizeof(reply);
    if (reply.error != 0) {
        if (!plausibleErrno(reply.error) || bodySize != 0 || !fds.empty())
            return failLocked(EPROTO, "malformed error reply");
        return makeError(reply.error, "device-model host refused the request");
    }

    DmReply result;
    result.value = reply.value;
    result.body.assign(packet.begin() + sizeof(reply), packet.begin() + got);
    size_t nextFd = 0;
    if (layout == DmReplyBody::PfnSlots) {
        if (bodySize % sizeof(DmPfnSlot) != 0)
            return failLocked(EPROTO, "slot array of a broken size");
        const size_t count = bodySize / sizeof(DmPfnSlot);
        result.slotFds.assign(count, -1);
        for (size_t i = 0; i < count; ++i) {
            DmPfnSlot slot{};
            memcpy(&slot, result.body.data() + i * sizeof(slot), sizeof(slot));
            if (slot.error != 0) {
                if (!plausibleErrno(slot.error))
                    return failLocked(EPROTO, "slot with a broken errno");
                continue;
            }
            if (slot.offset % kXenPageSize != 0)
                return failLocked(EPROTO, "slot offset not page aligned");
            auto known = backings_.find(slot.backing);
            if (known == backings_.end()) {
                // A backing first seen here: the next fd of this reply is it.
                if (nextFd == fds.size())
                    return failLocked(EPROTO, "slot names a backing that was never sent");
                known = backings_.emplace(slot.backing, std::move(fds[nextFd++])).first;
            }
            result.slotFds[i] = known->second.get();
        }
    }
    if (layout == DmReplyBody::Fds) {
        result.fds = std::move(fds);
        return result;
    }
    if (nextFd != fds.size())
        return failLocked(EPROTO, "reply carries fds nobody asked for");
    return result;
}

Result<void*> mapSlots(void* addr, int flags, int prot, std::span<const DmPfnSlot> slots,
                       std::span<const int> fds, int* err) {
    const size_t count = slots.size();
    if (count == 0 || fds.size() != count)
        return makeError(EINVAL, "nothing to map");
    const size_t bytes = count * kXenPageSize;
    // Reserve first, so failed pages stay inaccessible and runs map in place.
    void* base = mmap(addr, bytes, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (flags & MAP_FIXED), -1, 0);
    if (base == MAP_FAILED)
        return errnoError("reserving address space for a foreign mapping");
    auto* bytesBase = static_cast<uint8_t*>(base);
    std::vector<int> local;
    if (!err) {
        local.assign(count, 0);
        err = local.data();
    }
    for (size_t i = 0; i < count;) {
        if (slots[i].error != 0) {
            err[i] = -slots[i].error;
            ++i;
            continue;
        }
        size_t end = i + 1;
        while (end < count && slots[end].error == 0 && fds[end] == fds[i] &&
               slots[end].offset == slots[i].offset + (end - i) * kXenPageSize)
            ++end;
        void* at = mmap(bytesBase + i * kXenPageSize, (end - i) * kXenPageSize, prot,
                        MAP_SHARED | MAP_FIXED, fds[i], static_cast<off_t>(slots[i].offset));
        const int code = at == MAP_FAILED ? errno : 0;
        for (size_t k = i; k < end; ++k)
            err[k] = -code;
        i = end;
    }
    if (!local.empty()) {
        // Without an err[] array any failed page fails the whole call (Xen's rule).
        for (size_t i = 0; i < count; ++i) {
            if (local[i] != 0) {
                munmap(base, bytes);
                return makeError(-local[i], "a page of the foreign mapping failed");
            }
        }
    }
    return base;
}

int restrictToDomain(Xentoolcore__Active_Handle*, domid_t domid) {
    return guarded(-1, [&] {
        auto status = DmClient::instance().bindDomain(domid);
        return status ? 0 : failWith(status.error());
    });
}

void registerHandle(Xentoolcore__Active_Handle& handle) {
    handle.restrict_callback = restrictToDomain;
    xentoolcore__register_active_handle(&handle);
}

} // namespace basalt::devmodel
