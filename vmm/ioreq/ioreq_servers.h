#pragma once
// Ioreq servers (Xen 4.17 common/ioreq.c, arch/x86/hvm/ioreq.c, hvm/dm.c):
// the device model's claim on the guest's port I/O, MMIO and PCI config
// space, and the shared pages through which each claimed access travels.
//
// Each server owns two core pages (memfds, never in the guest's memslots):
//   ioreq page     shared_iopage_t: vcpu_ioreq[v] is vCPU v's request slot
//   bufioreq page  buffered_iopage_t: a one-way ring of posted writes
// They have "gfns" only so the device model can name them in MapPfns:
// kIoreqGfnBase + 2 * id (+1 for the buffered page). That window starts at
// the architectural 52-bit guest-physical limit, where PhysMap never maps
// anything, so it can never alias guest RAM, ROM or device memory.
//
// A synchronous request, worked example (vCPU 0 reads port 0x3FD):
//   vCPU:  slot.state == NONE (else the DM corrupted it: crash)
//          slot = {addr 0x3FD, size 1, count 1, dir READ, type PIO}
//          release fence; slot.state = IOREQ_READY; write(readyFd[0])
//   DM:    sees its event channel fire, state = INPROCESS, emulates,
//          slot.data = 0x60; state = IORESP_READY; write(doneFd[0])
//   vCPU:  polls the slot (adaptively), then poll(doneFd[0], releaseFd); state ==
//          IORESP_READY with addr/size/count/dir/type unchanged -> data 0x60;
//          state = NONE. Any other state or a changed field is garbage and
//          crashes the guest, as does releaseFd (the DM died) or the server
//          being destroyed under the request. Nothing waits forever.
//
// A buffered write (Xen's ioreq_send_buffered): a buf_ioreq_t at
// write_pointer % 511 (an 8-byte write takes two slots, the second holding
// the high half), write barrier, write_pointer += 1 or 2, signal the bufioreq
// port. If fewer free slots remain than needed, the request goes synchronous.
//
// Thread safety: vCPU threads dispatch concurrently with the device-model
// host thread changing servers. The server table is a shared_mutex; a vCPU
// holds a shared_ptr to its server, not the lock, while it waits.

#include "base/mapped_region.h"
#include "base/result.h"
#include "base/unique_fd.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

namespace basalt::xen {
class EventChannels;
class HostPort;
} // namespace basalt::xen

namespace basalt::ioreq {

// Xen's MAX_NR_IOREQ_SERVERS.
inline constexpr uint32_t kMaxServers = 8;
// The first gfn of the ioreq-page window (see above): 2^52 >> 12.
inline constexpr uint64_t kIoreqGfnBase = uint64_t{1} << 40;
inline constexpr uint64_t kIoreqGfnEnd = kIoreqGfnBase + 2 * kMaxServers;
// One page of ioreq_t slots, 32 bytes each.
inline constexpr uint32_t kMaxVcpus = 4096 / 32;

// XEN_DMOP_IO_RANGE_* (hvm/dm_op.h), restated so the core needs no dm_op.h.
enum class RangeType : uint32_t { Port = 0, Memory = 1, Pci = 2 };

// What an exit turned into.
enum class Outcome {
    Unclaimed, // no enabled server claims it: the caller's usual unclaimed path
    Handled,   // the device model answered (reads are filled in)
    Failed,    // the guest was crashed (reason already reported)
};

struct IoreqConfig {
    uint16_t domid = 1;
    uint32_t vcpuCount = 1;
    // Allocates the guest-side event-channel port a server's vCPU or
    // buffered channel is known by (Xen-attached, remote dom0). Null: ports
    // come from a private counter (tests without event channels).
    xen::EventChannels* channels = nullptr;
    // The guest must die: called once per failure with the reason.
    std::function<void(const std::string& reason)> crash;
};

// A port the device model can bind: BindInterdomain hands it these fds.
struct IoreqPortFds {
    int fromGuest = -1; // readable when the core posts a request
    int toGuest = -1;   // the device model writes here when it answered
    uint32_t hostPort = 0;
};

struct ServerInfo {
    uint64_t ioreqGfn = 0;
    uint64_t bufioreqGfn = 0;
    uint32_t bufioreqPort = 0; // 0 without a buffered ring
};

// Where a server page lives, for MapPfns/MapResource.
struct PageRef {
    int fd = -1;
    uint64_t offset = 0;
};

class IoreqServer;

class IoreqServers {
public:
    static Result<std::unique_ptr<IoreqServers>> create(const IoreqConfig& config);
    ~IoreqServers();
    IoreqServers(const IoreqServers&) = delete;
    IoreqServers& operator=(const IoreqServers&) = delete;

    // --- dm_op (each returns 0 or a positive errno, as the wire wants)
    int createServer(uint32_t handleBufioreq, uint32_t& id);
    int getInfo(uint32_t id, bool wantGfns, ServerInfo& info);
    int setState(uint32_t id, bool enabled);
    int destroyServer(uint32_t id);
    int mapRange(uint32_t id, RangeType type, uint64_t start, uint64_t end);
    int unmapRange(uint32_t id, RangeType type, uint64_t start, uint64_t end);
    // PCI devices are PCI-type ranges of one sbdf (XEN_DMOP_PCI_SBDF).
    static uint64_t sbdf(uint16_t segment, uint8_t bus, uint8_t device, uint8_t function);

    // The page behind gfn (see above) or behind a MapResource frame
    // (0 = buffered page, 1 = ioreq page); ENOENT / EINVAL as Xen.
    int pageForGfn(uint64_t gfn, PageRef& page) const;
    int pageForResource(uint32_t id, uint64_t frame, PageRef& page) const;
    // The eventfds behind a guest-side ioreq port (a vp_eport or a
    // bufioreq port); ENOENT if the port is not an ioreq port.
    int portFds(uint32_t guestPort, IoreqPortFds& fds) const;

    // --- exits (vCPU threads)
    Outcome handlePio(uint32_t vcpu, uint16_t port, uint8_t size, bool isWrite, uint32_t count,
                      uint8_t* data);
    Outcome handleMmio(uint32_t vcpu, uint64_t gpa, uint8_t size, bool isWrite, uint8_t* data);

    // IOREQ_TYPE_TIMEOFFSET to every enabled server, buffered as Xen does.
    void broadcastTimeOffset(int64_t seconds);
    // IOREQ_TYPE_INVALIDATE: the device model must drop its mapcache. Sent
    // synchronously by the next vCPU that dispatches (or by `vcpu` now, when
    // the caller is that vCPU's thread), as Xen does on the vCPU's resume.
    void broadcastInvalidate(std::optional<uint32_t> vcpu = std::nullopt);

    // The device model is gone, or the domain is stopping: every vCPU
    // waiting on a request returns at once (Failed), and so does every later
    // request. `reason` is what the crash says.
    void release(const std::string& reason);

    // The CF8 latch (for tests and the save path).
    uint32_t cf8() const { return cf8_.load(); }

private:
    explicit IoreqServers(const IoreqConfig& config);
    std::shared_ptr<IoreqServer> findLocked(uint32_t id) const;
    // Highest id first, as Xen's FOR_EACH_IOREQ_SERVER.
    std::shared_ptr<IoreqServer> select(RangeType type, uint64_t start, uint64_t end) const;
    Result<uint32_t> allocatePort(std::vector<std::unique_ptr<xen::HostPort>>& keep);
    Outcome send(uint32_t vcpu, const std::shared_ptr<IoreqServer>& server, uint8_t type,
                 uint64_t addr, uint32_t size, bool isWrite, uint64_t& data);
    Outcome sendPendingInvalidate(uint32_t vcpu);
    void fail(const std::string& reason);

    IoreqConfig config_;
    UniqueFd releaseFd_; // eventfd, readable forever once released
    std::atomic<bool> released_{false};
    std::string releaseReason_; // written once before released_
    std::atomic<uint32_t> cf8_{0};
    std::atomic<bool> invalidatePending_{false};
    uint32_t nextPrivatePort_ = 1;

    mutable std::shared_mutex mutex_;
    std::map<uint32_t, std::shared_ptr<IoreqServer>> servers_;
};

} // namespace basalt::ioreq
