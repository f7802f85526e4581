#include "vmm/ioreq/ioreq_servers.h"

#include "base/adaptive_poll.h"

#include "base/log.h"
#include "vmm/xen/event_channels.h"
#include "vmm/xen/xen_headers.h"

#include <xen/hvm/ioreq.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

namespace basalt::ioreq {

BASALT_LOG_CATEGORY(Ioreq, "ioreq");

namespace {

constexpr uint64_t kPageBytes = 4096;
// PCI configuration mechanism #1 (Xen's CF8_* macros in hvm/io.h).
constexpr uint16_t kPciAddressPort = 0xCF8;
constexpr uint16_t kPciDataPort = 0xCFC;
constexpr uint32_t kCf8Enable = 0x80000000u;
constexpr uint32_t kCf8RegisterLow = 0xFC;
constexpr unsigned kCf8BdfShift = 8;
constexpr uint32_t kCf8BdfMask = 0xFFFF;
// The legacy VGA window, whose writes Xen's stdvga posts to the buffered ring.
constexpr uint64_t kVgaWindowStart = 0xA0000;
constexpr uint64_t kVgaWindowEnd = 0xC0000;
// buf_ioreq_t.addr has 20 bits: only the first MiB can be posted.
constexpr uint64_t kBufferedAddrLimit = 0x100000;
// How long a vCPU polls its slot for the answer before sleeping in poll():
// adaptive (base/adaptive_poll.h), so that a device model answering within
// microseconds is never woken across CPUs twice per request, and a slow or
// CPU-starved one costs no polling. 50 us is above a QEMU round trip on
// hardware and in line with QEMU's own poll-max-ns (32 us) and KVM's
// halt_poll_ns (200 us).
constexpr std::chrono::microseconds kMaxAnswerPoll{50};
constexpr std::chrono::microseconds kStartAnswerPoll{5};
// Read the clock only every so many pause instructions while polling.
constexpr int kPausesPerClockRead = 16;
// The state byte of ioreq_t (state:4 | data_is_ptr:1 | dir:1 | df:1).
constexpr size_t kStateByteOffset = 30;
constexpr uint8_t kStateMask = 0x0F;
constexpr uint8_t kDirBit = 0x20;

UniqueFd makeEventFd() {
    return UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
}

void signal(int fd) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
}

void drain(int fd) {
    uint64_t count;
    [[maybe_unused]] ssize_t n = ::read(fd, &count, sizeof count);
}

Result<std::pair<UniqueFd, MappedRegion>> makeSharedPage(const char* name) {
    UniqueFd fd(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd)
        return errnoError(std::string("memfd_create ") + name);
    if (::ftruncate(fd.get(), kPageBytes) < 0)
        return errnoError(std::string("sizing ") + name);
    // The device model must not shrink the page under the core.
    if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
        return errnoError(std::string("sealing ") + name);
    auto map = MappedRegion::map(kPageBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (!map)
        return map.error();
    return std::pair{std::move(fd), std::move(*map)};
}

bool rangeContains(const std::map<uint64_t, uint64_t>& ranges, uint64_t start, uint64_t end) {
    auto it = ranges.upper_bound(start);
    if (it == ranges.begin())
        return false;
    --it;
    return it->first <= start && end <= it->second;
}

bool rangeOverlaps(const std::map<uint64_t, uint64_t>& ranges, uint64_t start, uint64_t end) {
    auto it = ranges.upper_bound(end);
    if (it == ranges.begin())
        return false;
    --it;
    return it->second >= start;
}

} // namespace

// One event channel between the core and the device model: readyFd is the
// core's "I posted something" (the DM's fromGuest), doneFd the DM's answer.
struct IoreqChannel {
    UniqueFd readyFd;
    UniqueFd doneFd;
    uint32_t guestPort = 0;
    uint32_t hostPort = 0;
    AdaptivePoll answerPoll{kMaxAnswerPoll, kStartAnswerPoll}; // the vCPU's thread only
};

class IoreqServer {
public:
    uint32_t id = 0;
    uint32_t handling = HVM_IOREQSRV_BUFIOREQ_OFF;
    std::atomic<bool> enabled{false};
    std::atomic<bool> destroyed{false};
    UniqueFd destroyedFd; // eventfd, readable once destroyed
    UniqueFd ioreqFd;
    MappedRegion ioreqPage;
    UniqueFd bufFd;
    MappedRegion bufPage;
    std::vector<IoreqChannel> vcpus;
    IoreqChannel buffered;
    std::vector<std::unique_ptr<xen::HostPort>> ports; // keeps the guest port numbers taken
    std::map<uint64_t, uint64_t> ranges[3];            // start -> end, per RangeType
    std::mutex bufMutex;

    ioreq_t* slot(uint32_t vcpu) {
        return &reinterpret_cast<shared_iopage_t*>(ioreqPage.data())->vcpu_ioreq[vcpu];
    }
    buffered_iopage_t* ring() { return reinterpret_cast<buffered_iopage_t*>(bufPage.data()); }
    bool hasBuffered() const { return handling != HVM_IOREQSRV_BUFIOREQ_OFF; }
};

namespace {

std::atomic_ref<uint8_t> stateByte(ioreq_t* slot) {
    return std::atomic_ref<uint8_t>(reinterpret_cast<uint8_t*>(slot)[kStateByteOffset]);
}

} // namespace

IoreqServers::IoreqServers(const IoreqConfig& config) : config_(config) {}

IoreqServers::~IoreqServers() = default;

Result<std::unique_ptr<IoreqServers>> IoreqServers::create(const IoreqConfig& config) {
    if (config.vcpuCount == 0 || config.vcpuCount > kMaxVcpus)
        return makeError(EINVAL, "ioreq servers serve 1.." + std::to_string(kMaxVcpus) +
                                     " vCPUs, not " + std::to_string(config.vcpuCount));
    std::unique_ptr<IoreqServers> servers(new IoreqServers(config));
    servers->releaseFd_ = makeEventFd();
    if (!servers->releaseFd_)
        return errnoError("eventfd for ioreq release");
    return servers;
}

uint64_t IoreqServers::sbdf(uint16_t segment, uint8_t bus, uint8_t device, uint8_t function) {
    return (uint64_t{segment} << 16) | (uint64_t{bus} << 8) | ((device & 0x1Fu) << 3) |
           (function & 0x7u);
}

Result<uint32_t> IoreqServers::allocatePort(std::vector<std::unique_ptr<xen::HostPort>>& keep) {
    if (!config_.channels)
        return nextPrivatePort_++;
    auto port = config_.channels->allocateHostPort({.xenAttached = true});
    if (!port)
        return port.error();
    uint32_t guestPort = (*port)->guestPort();
    keep.push_back(std::move(*port));
    return guestPort;
}

int IoreqServers::createServer(uint32_t handleBufioreq, uint32_t& id) {
    if (handleBufioreq > HVM_IOREQSRV_BUFIOREQ_ATOMIC)
        return EINVAL;
    std::unique_lock lock(mutex_);
    uint32_t freeId = 0;
    while (freeId < kMaxServers && servers_.count(freeId))
        ++freeId;
    if (freeId == kMaxServers)
        return ENOSPC;

    auto server = std::make_shared<IoreqServer>();
    server->id = freeId;
    server->handling = handleBufioreq;
    server->destroyedFd = makeEventFd();
    auto page = makeSharedPage("basalt-ioreq");
    if (!page || !server->destroyedFd) {
        LOG(Ioreq, Error, "creating ioreq server: %s",
            page ? "eventfd failed" : page.error().message.c_str());
        return ENOMEM;
    }
    server->ioreqFd = std::move(page->first);
    server->ioreqPage = std::move(page->second);
    auto makeChannel = [&](IoreqChannel& channel) -> int {
        channel.readyFd = makeEventFd();
        channel.doneFd = makeEventFd();
        if (!channel.readyFd || !channel.doneFd)
            return ENOMEM;
        auto port = allocatePort(server->ports);
        if (!port) {
            LOG(Ioreq, Error, "ioreq event channel: %s", port.error().message.c_str());
            return port.error().code;
        }
        channel.guestPort = *port;
        channel.hostPort = server->ports.empty() ? *port : server->ports.back()->hostPort();
        return 0;
    };
    server->vcpus.resize(config_.vcpuCount);
    for (uint32_t v = 0; v < config_.vcpuCount; ++v) {
        if (int rc = makeChannel(server->vcpus[v]))
            return rc;
        server->slot(v)->vp_eport = server->vcpus[v].guestPort;
    }
    if (server->hasBuffered()) {
        auto buf = makeSharedPage("basalt-bufioreq");
        if (!buf)
            return ENOMEM;
        server->bufFd = std::move(buf->first);
        server->bufPage = std::move(buf->second);
        if (int rc = makeChannel(server->buffered))
            return rc;
    }
    servers_[freeId] = server;
    id = freeId;
    LOG(Ioreq, Info, "ioreq server %u created (bufioreq mode %u)", id, handleBufioreq);
    return 0;
}

std::shared_ptr<IoreqServer> IoreqServers::findLocked(uint32_t id) const {
    auto it = servers_.find(id);
    return it == servers_.end() ? nullptr : it->second;
}

int IoreqServers::getInfo(uint32_t id, bool wantGfns, ServerInfo& info) {
    std::shared_lock lock(mutex_);
    auto server = findLocked(id);
    if (!server)
        return ENOENT;
    info = {};
    if (wantGfns)
        info.ioreqGfn = kIoreqGfnBase + 2 * uint64_t{id};
    if (server->hasBuffered()) {
        if (wantGfns)
            info.bufioreqGfn = kIoreqGfnBase + 2 * uint64_t{id} + 1;
        info.bufioreqPort = server->buffered.guestPort;
    }
    return 0;
}

int IoreqServers::setState(uint32_t id, bool enabled) {
    std::unique_lock lock(mutex_);
    auto server = findLocked(id);
    if (!server)
        return ENOENT;
    server->enabled.store(enabled);
    return 0;
}

int IoreqServers::destroyServer(uint32_t id) {
    std::shared_ptr<IoreqServer> server;
    {
        std::unique_lock lock(mutex_);
        server = findLocked(id);
        if (!server)
            return ENOENT;
        servers_.erase(id);
    }
    server->enabled.store(false);
    server->destroyed.store(true);
    signal(server->destroyedFd.get()); // a vCPU waiting on it gives up
    LOG(Ioreq, Info, "ioreq server %u destroyed", id);
    return 0;
}

int IoreqServers::mapRange(uint32_t id, RangeType type, uint64_t start, uint64_t end) {
    if (static_cast<uint32_t>(type) > static_cast<uint32_t>(RangeType::Pci) || start > end)
        return EINVAL;
    std::unique_lock lock(mutex_);
    auto server = findLocked(id);
    if (!server)
        return ENOENT;
    auto& ranges = server->ranges[static_cast<uint32_t>(type)];
    // As Xen's rangeset: a server may not claim a range twice.
    if (rangeOverlaps(ranges, start, end))
        return EEXIST;
    ranges[start] = end;
    return 0;
}

int IoreqServers::unmapRange(uint32_t id, RangeType type, uint64_t start, uint64_t end) {
    if (static_cast<uint32_t>(type) > static_cast<uint32_t>(RangeType::Pci) || start > end)
        return EINVAL;
    std::unique_lock lock(mutex_);
    auto server = findLocked(id);
    if (!server)
        return ENOENT;
    auto& ranges = server->ranges[static_cast<uint32_t>(type)];
    if (!rangeContains(ranges, start, end))
        return ENOENT;
    auto it = std::prev(ranges.upper_bound(start));
    uint64_t oldStart = it->first, oldEnd = it->second;
    ranges.erase(it);
    if (oldStart < start)
        ranges[oldStart] = start - 1;
    if (end < oldEnd)
        ranges[end + 1] = oldEnd;
    return 0;
}

int IoreqServers::pageForGfn(uint64_t gfn, PageRef& page) const {
    if (gfn < kIoreqGfnBase || gfn >= kIoreqGfnEnd)
        return ENOENT;
    uint32_t id = static_cast<uint32_t>((gfn - kIoreqGfnBase) / 2);
    return pageForResource(id, (gfn - kIoreqGfnBase) % 2 ? 0 : 1, page);
}

int IoreqServers::pageForResource(uint32_t id, uint64_t frame, PageRef& page) const {
    std::shared_lock lock(mutex_);
    auto server = findLocked(id);
    if (!server)
        return ENOENT;
    if (frame == 0) {
        if (!server->hasBuffered())
            return EINVAL;
        page = {server->bufFd.get(), 0};
        return 0;
    }
    if (frame == 1) {
        page = {server->ioreqFd.get(), 0};
        return 0;
    }
    return EINVAL;
}

int IoreqServers::portFds(uint32_t guestPort, IoreqPortFds& fds) const {
    std::shared_lock lock(mutex_);
    auto pick = [&](const IoreqChannel& channel) {
        fds = {channel.readyFd.get(), channel.doneFd.get(), channel.hostPort};
    };
    for (const auto& [id, server] : servers_) {
        for (const auto& channel : server->vcpus)
            if (channel.guestPort == guestPort) {
                pick(channel);
                return 0;
            }
        if (server->hasBuffered() && server->buffered.guestPort == guestPort) {
            pick(server->buffered);
            return 0;
        }
    }
    return ENOENT;
}

std::shared_ptr<IoreqServer> IoreqServers::select(RangeType type, uint64_t start,
                                                  uint64_t end) const {
    std::shared_lock lock(mutex_);
    for (auto it = servers_.rbegin(); it != servers_.rend(); ++it) {
        const auto& server = it->second;
        if (server->enabled.load() &&
            rangeContains(server->ranges[static_cast<uint32_t>(type)], start, end))
            return server;
    }
    return nullptr;
}

void IoreqServers::fail(const std::string& reason) {
    if (config_.crash)
        config_.crash(reason);
}

void IoreqServers::release(const std::string& reason) {
    if (released_.load())
        return;
    {
        std::unique_lock lock(mutex_);
        if (released_.load())
            return;
        releaseReason_ = reason;
        released_.store(true);
    }
    signal(releaseFd_.get());
}

Outcome IoreqServers::sendPendingInvalidate(uint32_t vcpu) {
    if (!invalidatePending_.exchange(false))
        return Outcome::Handled;
    std::vector<std::shared_ptr<IoreqServer>> targets;
    {
        std::shared_lock lock(mutex_);
        for (const auto& [id, server] : servers_)
            if (server->enabled.load())
                targets.push_back(server);
    }
    for (const auto& server : targets) {
        uint64_t data = ~uint64_t{0}; // flush everything
        Outcome o = send(vcpu, server, IOREQ_TYPE_INVALIDATE, 0, 4, true, data);
        if (o != Outcome::Handled)
            return o;
    }
    return Outcome::Handled;
}

void IoreqServers::broadcastInvalidate(std::optional<uint32_t> vcpu) {
    invalidatePending_.store(true);
    if (vcpu && *vcpu < config_.vcpuCount)
        (void)sendPendingInvalidate(*vcpu);
}

Outcome IoreqServers::send(uint32_t vcpu, const std::shared_ptr<IoreqServer>& server, uint8_t type,
                           uint64_t addr, uint32_t size, bool isWrite, uint64_t& data) {
    if (vcpu >= config_.vcpuCount)
        return Outcome::Unclaimed;
    auto dead = [&](const std::string& why) {
        fail("device model " + why);
        return Outcome::Failed;
    };
    if (released_.load())
        return dead(releaseReason_);
    if (type != IOREQ_TYPE_INVALIDATE) {
        Outcome pending = sendPendingInvalidate(vcpu);
        if (pending != Outcome::Handled)
            return pending;
    }

    ioreq_t* slot = server->slot(vcpu);
    auto state = stateByte(slot);
    if ((state.load(std::memory_order_acquire) & kStateMask) != STATE_IOREQ_NONE)
        return dead("left vCPU " + std::to_string(vcpu) + "'s ioreq slot busy (state " +
                    std::to_string(state.load() & kStateMask) + ")");
    const uint32_t count = type == IOREQ_TYPE_INVALIDATE ? 0 : 1;
    slot->addr = addr;
    slot->data = isWrite ? data : 0;
    slot->count = count;
    slot->size = size;
    slot->vp_eport = server->vcpus[vcpu].guestPort;
    reinterpret_cast<uint8_t*>(slot)[kStateByteOffset + 1] = type;
    // Every field is visible before the state says READY.
    state.store(STATE_IOREQ_READY | (isWrite ? 0 : kDirBit), std::memory_order_release);
    signal(server->vcpus[vcpu].readyFd.get());

    IoreqChannel& channel = server->vcpus[vcpu];
    const int doneFd = channel.doneFd.get();
    const auto waitStart = std::chrono::steady_clock::now();
    const auto pollUntil = waitStart + channel.answerPoll.window();
    bool polling = channel.answerPoll.window() > std::chrono::nanoseconds::zero();
    int pauses = 0;
    for (;;) {
        uint8_t now = state.load(std::memory_order_acquire);
        uint8_t st = now & kStateMask;
        if (st == STATE_IORESP_READY)
            break;
        if (st != STATE_IOREQ_READY && st != STATE_IOREQ_INPROCESS)
            return dead("answered vCPU " + std::to_string(vcpu) + " with garbage (state " +
                        std::to_string(st) + ")");
        if (released_.load())
            return dead(releaseReason_);
        if (server->destroyed.load())
            return dead("destroyed ioreq server " + std::to_string(server->id) + " while vCPU " +
                        std::to_string(vcpu) + " waited on it");
        if (polling) {
            __builtin_ia32_pause();
            if (++pauses % kPausesPerClockRead == 0)
                polling = std::chrono::steady_clock::now() < pollUntil;
            continue;
        }
        // doneFd is drained only here, before sleeping, not after every answer:
        // the DM sets the state before it signals, so a signal consumed here
        // either belongs to an older answer or is followed by the state check.
        drain(doneFd);
        if ((state.load(std::memory_order_acquire) & kStateMask) == STATE_IORESP_READY)
            break;
        pollfd fds[3] = {{doneFd, POLLIN, 0},
                         {releaseFd_.get(), POLLIN, 0},
                         {server->destroyedFd.get(), POLLIN, 0}};
        if (::poll(fds, 3, -1) < 0 && errno != EINTR)
            return dead("wait failed: " + std::string(strerror(errno)));
    }
    channel.answerPoll.record(std::chrono::steady_clock::now() - waitStart);

    // Validate, then use: only data and state are the device model's to change.
    ioreq_t answer;
    std::memcpy(&answer, slot, sizeof answer);
    uint8_t flags = reinterpret_cast<uint8_t*>(&answer)[kStateByteOffset];
    bool dirRead = (flags & kDirBit) != 0;
    if (answer.addr != addr || answer.size != size || answer.count != count ||
        answer.type != type || dirRead == isWrite || answer.data_is_ptr || answer.df)
        return dead("changed vCPU " + std::to_string(vcpu) + "'s request while answering it");
    state.store(STATE_IOREQ_NONE | (isWrite ? 0 : kDirBit), std::memory_order_release);
    if (!isWrite)
        data = size >= 8 ? answer.data : answer.data & ((uint64_t{1} << (size * 8)) - 1);
    return Outcome::Handled;
}

namespace {

// Xen's size encoding for buf_ioreq_t: log2 of the byte count.
bool bufferedSizeCode(uint32_t size, uint8_t& code) {
    switch (size) {
    case 1:
        code = 0;
        return true;
    case 2:
        code = 1;
        return true;
    case 4:
        code = 2;
        return true;
    case 8:
        code = 3;
        return true;
    default:
        return false;
    }
}

} // namespace

// Posts a write to `server`'s buffered ring; false when Xen would not (no
// ring, address beyond 20 bits, ring full), and the caller decides.
static bool postBuffered(IoreqServer& server, uint8_t type, uint64_t addr, uint32_t size,
                         uint64_t data) {
    uint8_t code;
    if (!server.hasBuffered() || addr >= kBufferedAddrLimit || !bufferedSizeCode(size, code))
        return false;
    const uint32_t slots = size == 8 ? 2 : 1;
    std::lock_guard lock(server.bufMutex);
    buffered_iopage_t* ring = server.ring();
    // read_pointer then write_pointer: one 8-byte word, as Xen's union sees it.
    std::atomic_ref<uint64_t> ptrs(*reinterpret_cast<uint64_t*>(server.bufPage.data()));
    uint64_t both = ptrs.load(std::memory_order_acquire);
    uint32_t readPtr = static_cast<uint32_t>(both);
    uint32_t writePtr = static_cast<uint32_t>(both >> 32);
    uint32_t used = writePtr - readPtr;
    if (used > IOREQ_BUFFER_SLOT_NUM) {
        LOG_RATELIMITED(Ioreq, Warn,
                        "ioreq server %u: buffered ring pointers are garbage "
                        "(read %u write %u); sending synchronously",
                        server.id, readPtr, writePtr);
        return false;
    }
    if (used >= IOREQ_BUFFER_SLOT_NUM - (slots - 1))
        return false; // full: Xen falls back to a synchronous request
    buf_ioreq_t entry{};
    entry.type = type;
    entry.dir = IOREQ_WRITE;
    entry.size = code;
    entry.addr = static_cast<uint32_t>(addr);
    entry.data = static_cast<uint32_t>(data);
    ring->buf_ioreq[writePtr % IOREQ_BUFFER_SLOT_NUM] = entry;
    if (slots == 2) {
        entry.data = static_cast<uint32_t>(data >> 32);
        ring->buf_ioreq[(writePtr + 1) % IOREQ_BUFFER_SLOT_NUM] = entry;
    }
    std::atomic_ref<uint32_t>(
        *reinterpret_cast<uint32_t*>(server.bufPage.data() + sizeof(uint32_t)))
        .store(writePtr + slots, std::memory_order_release);
    // In atomic mode the pointers are rebased so they never overflow.
    // A device model rewriting read_pointer cannot keep the core here: the
    // attempts are bounded, as in Xen.
    if (server.handling == HVM_IOREQSRV_BUFIOREQ_ATOMIC) {
        uint64_t old = ptrs.load(std::memory_order_acquire);
        for (uint32_t attempt = slots;
             attempt < IOREQ_BUFFER_SLOT_NUM && static_cast<uint32_t>(old) >= IOREQ_BUFFER_SLOT_NUM;
             ++attempt) {
            uint32_t n = static_cast<uint32_t>(old) / IOREQ_BUFFER_SLOT_NUM;
            uint32_t r = static_cast<uint32_t>(old) - n * IOREQ_BUFFER_SLOT_NUM;
            uint32_t w = static_cast<uint32_t>(old >> 32) - n * IOREQ_BUFFER_SLOT_NUM;
            if (ptrs.compare_exchange_strong(old, (uint64_t{w} << 32) | r))
                break;
        }
    }
    signal(server.buffered.readyFd.get());
    return true;
}

void IoreqServers::broadcastTimeOffset(int64_t seconds) {
    std::vector<std::shared_ptr<IoreqServer>> targets;
    {
        std::shared_lock lock(mutex_);
        // As Xen's ioreq_broadcast: servers without a ring are not asked.
        for (const auto& [id, server] : servers_)
            if (server->enabled.load() && server->hasBuffered())
                targets.push_back(server);
    }
    for (const auto& server : targets)
        if (!postBuffered(*server, IOREQ_TYPE_TIMEOFFSET, 0, 8, static_cast<uint64_t>(seconds)))
            LOG_RATELIMITED(Ioreq, Warn, "ioreq server %u: time offset update not delivered",
                            server->id);
}

Outcome IoreqServers::handlePio(uint32_t vcpu, uint16_t port, uint8_t size, bool isWrite,
                                uint32_t count, uint8_t* data) {
    if (size != 1 && size != 2 && size != 4)
        return Outcome::Unclaimed;
    // One ioreq per item of a string instruction: the items are in KVM's run
    // page, not in guest memory, so there is nothing data_is_ptr could name.
    for (uint32_t i = 0; i < count; ++i) {
        uint8_t* item = data + size_t{i} * size;
        uint64_t value = 0;
        if (isWrite)
            std::memcpy(&value, item, size);
        // Xen latches CF8 and still forwards the write to the device model.
        if (port == kPciAddressPort && size == 4 && isWrite)
            cf8_.store(static_cast<uint32_t>(value));
        uint32_t cf8 = cf8_.load();
        std::shared_ptr<IoreqServer> server;
        uint8_t type = IOREQ_TYPE_PIO;
        uint64_t addr = port;
        if ((port & ~3u) == kPciDataPort && (cf8 & kCf8Enable)) {
            // sbdf << 32 | register; the extended-register bits of CF8 count
            // only on AMD hosts with NB_CFG's CF8 extension, which a Basalt
            // guest cannot enable, so they are ignored as Xen ignores them.
            uint64_t sbdf = (cf8 >> kCf8BdfShift) & kCf8BdfMask;
            addr = (sbdf << 32) | (cf8 & kCf8RegisterLow) | (port & 3u);
            server = select(RangeType::Pci, sbdf, sbdf);
            type = IOREQ_TYPE_PCI_CONFIG;
        } else {
            server = select(RangeType::Port, port, uint64_t{port} + size - 1);
        }
        if (!server) {
            if (i == 0)
                return Outcome::Unclaimed;
            if (!isWrite)
                std::memset(item, 0xFF, size);
            continue;
        }
        Outcome o = send(vcpu, server, type, addr, size, isWrite, value);
        if (o != Outcome::Handled)
            return o;
        if (!isWrite)
            std::memcpy(item, &value, size);
    }
    return Outcome::Handled;
}

Outcome IoreqServers::handleMmio(uint32_t vcpu, uint64_t gpa, uint8_t size, bool isWrite,
                                 uint8_t* data) {
    if (size == 0 || size > 8 || gpa > UINT64_MAX - size)
        return Outcome::Unclaimed;
    auto server = select(RangeType::Memory, gpa, gpa + size - 1);
    if (!server)
        return Outcome::Unclaimed;
    uint64_t value = 0;
    if (isWrite)
        std::memcpy(&value, data, size);
    // Legacy VGA writes are posted, as Xen's stdvga posts them. Xen does so
    // only while its stdvga cache is on; posting always is still ordered,
    // because QEMU drains the ring before it serves any synchronous request.
    if (isWrite && gpa >= kVgaWindowStart && gpa + size <= kVgaWindowEnd &&
        !invalidatePending_.load() && !released_.load() &&
        postBuffered(*server, IOREQ_TYPE_COPY, gpa, size, value))
        return Outcome::Handled;
    Outcome o = send(vcpu, server, IOREQ_TYPE_COPY, gpa, size, isWrite, value);
    if (o == Outcome::Handled && !isWrite)
        std::memcpy(data, &value, size);
    return o;
}

} // namespace basalt::ioreq
