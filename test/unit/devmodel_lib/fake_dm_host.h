#pragma once
// An in-test stand-in for basalt-vmm's device-model host: it serves the
// dm_wire protocol on one end of a socketpair from its own thread, and the
// provider libraries find the other end through BASALT_DM_FD, as in QEMU.
// Guest RAM is a memfd of kRamPages pages (backing id kRamBacking); pfns past
// it are holes. Grants are kGrantPages pages of another memfd (backing
// kGrantBacking), refs 1..kGrantPages.

#include "base/unique_fd.h"
#include "devmodel/protocol/dm_wire.h"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>
#include <xen/grant_table.h>

namespace basalt::devmodel::test {

inline constexpr uint32_t kDomid = 1;
inline constexpr uint32_t kRamPages = 64;
inline constexpr uint32_t kRamBacking = 7;
inline constexpr int32_t kHoleErrno = EFAULT;
inline constexpr uint32_t kGrantPages = 4;
inline constexpr uint32_t kGrantBacking = 9;
inline constexpr uint32_t kFirstLocalPort = 5;
inline constexpr uint32_t kKnownHvmParam = 2;
inline constexpr uint64_t kKnownHvmParamValue = 0xfeff0;
inline constexpr size_t kPage = 4096;

class FakeDmHost {
public:
    // The one host of the test process (the libraries' connection is too).
    static FakeDmHost& instance() {
        static FakeDmHost* host = new FakeDmHost(); // its thread outlives main
        return *host;
    }

    // What the RAM page `pfn` holds in its first word until someone writes it.
    static uint64_t ramPattern(uint64_t pfn) { return 0x1111 * (pfn + 1); }

    int ramFd() const { return ram_.get(); }

    // Makes the guest side of `port` signal (as a vCPU's ioreq would).
    void signalPort(uint32_t port) {
        std::lock_guard lock(mutex_);
        uint64_t one = 1;
        (void)!write(ports_.at(port).fromGuest.get(), &one, sizeof(one));
    }
    // How many notifies reached the guest side of `port` since the last call.
    uint64_t takeNotifies(uint32_t port) {
        std::lock_guard lock(mutex_);
        uint64_t count = 0;
        if (read(ports_.at(port).toGuest.get(), &count, sizeof(count)) != sizeof(count))
            return 0;
        return count;
    }
    uint32_t remotePortOf(uint32_t port) {
        std::lock_guard lock(mutex_);
        return ports_.at(port).remote;
    }
    bool portBound(uint32_t port) {
        std::lock_guard lock(mutex_);
        return ports_.count(port) != 0;
    }
    uint8_t* grantPage(uint32_t ref) { return grants_ + (ref - 1) * kPage; }
    size_t liveGrantMaps() {
        std::lock_guard lock(mutex_);
        return grantMaps_.size();
    }
    uint32_t fdsSentForRam() const { return ramFdSent_.load(); }
    uint32_t isaIrqLevel(uint8_t irq) {
        std::lock_guard lock(mutex_);
        return isaIrqs_.count(irq) ? isaIrqs_[irq] : 0;
    }

    // The next request of op `op` gets no reply: the host closes its end.
    void closeOn(DmOp op) { closeOn_.store(static_cast<uint32_t>(op)); }

private:
    struct Port {
        UniqueFd fromGuest; // host side of the pair the lib reads
        UniqueFd toGuest;
        uint32_t remote = 0;
    };

    FakeDmHost() {
        int pair[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
            abort();
        host_ = UniqueFd(pair[0]);
        setenv(kDmSocketEnv, std::to_string(pair[1]).c_str(), 1);
        ram_ = UniqueFd(memfd_create("fake-guest-ram", MFD_CLOEXEC));
        if (!ram_ || ftruncate(ram_.get(), kRamPages * kPage) != 0)
            abort();
        for (uint64_t pfn = 0; pfn < kRamPages; ++pfn) {
            uint64_t value = ramPattern(pfn);
            if (pwrite(ram_.get(), &value, sizeof(value), pfn * kPage) != sizeof(value))
                abort();
        }
        grantFd_ = UniqueFd(memfd_create("fake-grants", MFD_CLOEXEC));
        if (!grantFd_ || ftruncate(grantFd_.get(), kGrantPages * kPage) != 0)
            abort();
        void* grants = mmap(nullptr, kGrantPages * kPage, PROT_READ | PROT_WRITE, MAP_SHARED,
                            grantFd_.get(), 0);
        if (grants == MAP_FAILED)
            abort();
        grants_ = static_cast<uint8_t*>(grants);
        std::thread([this] { serve(); }).detach();
    }

    void serve() {
        std::vector<uint8_t> packet(kDmMaxPacket);
        for (;;) {
            ssize_t n = recv(host_.get(), packet.data(), packet.size(), 0);
            if (n <= 0)
                return;
            DmRequestHeader header{};
            memcpy(&header, packet.data(), sizeof(header));
            if (header.op == closeOn_.load()) {
                host_.reset();
                return;
            }
            const uint8_t* body = packet.data() + sizeof(header);
            const size_t bodySize = static_cast<size_t>(n) - sizeof(header);
            Reply reply;
            handle(static_cast<DmOp>(header.op), body, bodySize, reply);
            send(header.seq, reply);
        }
    }

    struct Reply {
        int32_t error = 0;
        uint64_t value = 0;
        std::vector<uint8_t> body;
        std::vector<int> fds; // borrowed; sent, not closed
        template <typename T> void append(const T& item) {
            auto* raw = reinterpret_cast<const uint8_t*>(&item);
            body.insert(body.end(), raw, raw + sizeof(T));
        }
    };

    template <typename T> static T bodyAs(const uint8_t* body) {
        T out{};
        memcpy(&out, body, sizeof(T));
        return out;
    }

    void handle(DmOp op, const uint8_t* body, size_t size, Reply& reply) {
        std::lock_guard lock(mutex_);
        switch (op) {
        case DmOp::Hello: {
            auto hello = bodyAs<DmHelloRequest>(body);
            if (hello.domid != kDomid) {
                reply.error = EPERM;
                return;
            }
            reply.append(DmHelloReply{kDmProtocolVersion, kDomid, 1, 0});
            return;
        }
        case DmOp::MapPfns: {
            auto request = bodyAs<DmMapPfnsRequest>(body);
            if (size != sizeof(request) + request.count * sizeof(uint64_t)) {
                reply.error = EINVAL;
                return;
            }
            for (uint32_t i = 0; i < request.count; ++i) {
                uint64_t pfn;
                memcpy(&pfn, body + sizeof(request) + i * sizeof(pfn), sizeof(pfn));
                if (pfn >= kRamPages) {
                    reply.append(DmPfnSlot{0, kHoleErrno, 0});
                    continue;
                }
                if (!ramSent_) {
                    ramSent_ = true;
                    ramFdSent_++;
                    reply.fds.push_back(ram_.get());
                }
                reply.append(DmPfnSlot{kRamBacking, 0, pfn * kPage});
            }
            return;
        }
        case DmOp::MapResource:
            reply.error = EOPNOTSUPP;
            return;
        case DmOp::BindInterdomain: {
            auto request = bodyAs<DmBindInterdomainRequest>(body);
            Port port;
            int pairA = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            int pairB = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            port.fromGuest = UniqueFd(pairA);
            port.toGuest = UniqueFd(pairB);
            port.remote = request.remotePort;
            const uint32_t local = nextPort_++;
            reply.value = local;
            reply.fds = {pairA, pairB};
            ports_[local] = std::move(port);
            return;
        }
        case DmOp::Unbind: {
            auto request = bodyAs<DmPortRequest>(body);
            if (!ports_.erase(request.port))
                reply.error = EINVAL;
            return;
        }
        case DmOp::CreateIoreqServer:
            reply.value = 0;
            return;
        case DmOp::SetIsaIrqLevel: {
            auto request = bodyAs<DmIsaIrqRequest>(body);
            isaIrqs_[request.irq] = request.level;
            return;
        }
        case DmOp::GetHvmParam: {
            auto request = bodyAs<DmHvmParamRequest>(body);
            if (request.index != kKnownHvmParam) {
                reply.error = EINVAL;
                return;
            }
            reply.value = kKnownHvmParamValue;
            return;
        }
        case DmOp::GrantCopy:
            grantCopy(body, size, reply);
            return;
        case DmOp::MapGrants:
            mapGrants(body, size, reply);
            return;
        case DmOp::UnmapGrants: {
            auto request = bodyAs<DmUnmapGrantsRequest>(body);
            if (!grantMaps_.erase(request.handle))
                reply.error = EINVAL;
            return;
        }
        default:
            reply.error = ENOSYS;
            return;
        }
    }

    // Grant pages live in their own memfd (backing kGrantBacking), page ref-1.
    void mapGrants(const uint8_t* body, size_t size, Reply& reply) {
        auto request = bodyAs<DmMapGrantsRequest>(body);
        if (size != sizeof(request) + request.count * sizeof(DmGrantRef)) {
            reply.error = EINVAL;
            return;
        }
        std::vector<DmPfnSlot> slots;
        for (uint32_t i = 0; i < request.count; ++i) {
            auto ref = bodyAs<DmGrantRef>(body + sizeof(request) + i * sizeof(DmGrantRef));
            if (ref.domid != kDomid || ref.ref < 1 || ref.ref > kGrantPages) {
                reply.error = EINVAL; // all or none
                return;
            }
            slots.push_back(DmPfnSlot{kGrantBacking, 0, (ref.ref - 1) * kPage});
        }
        if (!grantFdSent_) {
            grantFdSent_ = true;
            reply.fds.push_back(grantFd_.get());
        }
        for (const auto& slot : slots)
            reply.append(slot);
        reply.value = nextGrantMap_;
        grantMaps_.insert(nextGrantMap_++);
    }

    void grantCopy(const uint8_t* body, size_t size, Reply& reply) {
        auto request = bodyAs<DmGrantCopyRequest>(body);
        const uint8_t* segBase = body + sizeof(request);
        const uint8_t* data = segBase + request.count * sizeof(DmGrantCopySegment);
        const uint8_t* end = body + size;
        std::vector<int16_t> status(request.count);
        std::vector<uint8_t> out;
        for (uint32_t i = 0; i < request.count; ++i) {
            auto seg = bodyAs<DmGrantCopySegment>(segBase + i * sizeof(DmGrantCopySegment));
            const bool valid = seg.domid == kDomid && seg.ref >= 1 && seg.ref <= kGrantPages &&
                               seg.offset + seg.length <= kPage;
            status[i] = valid ? GNTST_okay : GNTST_bad_gntref;
            if (seg.toGuest) {
                if (data + seg.length > end) {
                    reply.error = EINVAL;
                    return;
                }
                if (valid)
                    memcpy(grantPage(seg.ref) + seg.offset, data, seg.length);
                data += seg.length;
            } else if (valid) {
                out.insert(out.end(), grantPage(seg.ref) + seg.offset,
                           grantPage(seg.ref) + seg.offset + seg.length);
            }
        }
        for (int16_t s : status)
            reply.append(s);
        reply.body.insert(reply.body.end(), out.begin(), out.end());
    }

    void send(uint64_t seq, const Reply& reply) {
        DmReplyHeader header{};
        header.seq = seq;
        header.error = reply.error;
        header.fdCount = static_cast<uint32_t>(reply.fds.size());
        header.value = reply.value;
        header.length = static_cast<uint32_t>(sizeof(header) + reply.body.size());
        iovec iov[2] = {{&header, sizeof(header)},
                        {const_cast<uint8_t*>(reply.body.data()), reply.body.size()}};
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = 2;
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kDmMaxFdsPerReply)];
        if (!reply.fds.empty()) {
            msg.msg_control = control;
            msg.msg_controllen = CMSG_SPACE(sizeof(int) * reply.fds.size());
            cmsghdr* c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * reply.fds.size());
            memcpy(CMSG_DATA(c), reply.fds.data(), sizeof(int) * reply.fds.size());
        }
        (void)!sendmsg(host_.get(), &msg, MSG_NOSIGNAL);
    }

    UniqueFd host_;
    UniqueFd ram_;
    std::mutex mutex_;
    bool ramSent_ = false;
    std::atomic<uint32_t> ramFdSent_{0};
    std::atomic<uint32_t> closeOn_{0};
    uint32_t nextPort_ = kFirstLocalPort;
    std::map<uint32_t, Port> ports_;
    std::map<uint8_t, uint32_t> isaIrqs_;
    UniqueFd grantFd_;
    uint8_t* grants_ = nullptr; // kGrantPages pages of grantFd_, never unmapped
    bool grantFdSent_ = false;
    uint64_t nextGrantMap_ = 100;
    std::set<uint64_t> grantMaps_;
};

} // namespace basalt::devmodel::test
