#pragma once
// A domain's event channels, the 2-level ABI (xen/event_channel.h), as Xen
// 4.17's event_channel.c and event_2l.c keep them.
//
// Each port is in one state:
//
//   Free --alloc_unbound--> Unbound --bind_interdomain (by the far end)--> Interdomain
//   Free --bind_virq--> Virq        Free --bind_ipi--> Ipi
//   any bound state --close--> Free (an Interdomain far end falls back to Unbound)
//
// Port 0 is Reserved. Ports are valid (errno -EINVAL beyond) up to the
// allocated "buckets" of 64, as Xen's valid_evtchns; a valid Free port reads
// as closed. Allocation takes the lowest free port up to maxPort (libxl's
// default event_channels=1023) and the layout's limit, else -ENOSPC.
//
// Worked example, a guest talking to itself and to a VIRQ:
//   alloc_unbound(dom=SELF, remote=SELF)       -> port 1 Unbound(remote 1)
//   bind_interdomain(remote=SELF, port 1)      -> port 2 Interdomain(1,1),
//        port 1 becomes Interdomain(1,2); port 2 is set pending (Xen does so
//        in case the unbound end was notified before the bind)
//   send(1)     -> set pending on port 2 for port 2's notify vCPU:
//        pending bit newly set, not masked, selector bit newly set,
//        evtchn_upcall_pending newly set -> onUpcall(vcpu) raises the
//        callback interrupt (upcall.h)
//   bind_virq(VIRQ_TIMER, vcpu 0) -> port 3; the singleshot timer fires
//        sendVirq(0, VIRQ_TIMER) -> port 3 pending
//   close(2)    -> port 2 Free (pending cleared), port 1 Unbound(remote 1)
//   send(2)     -> -EINVAL (Free)
// Host ends (host_event_channel.h) appear to the guest as domain 0's ports.

#include "base/result.h"
#include "vmm/xen/event_bitmaps.h"
#include "vmm/xen/host_event_channel.h"
#include "vmm/xen/xen_headers.h"

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace basalt::xen {

class HostEventPump;

struct EventChannelsConfig {
    uint16_t domid = 1;
    uint32_t vcpuCount = 1;
    uint32_t maxPort = 1023; // libxl's default max_event_channels - 1
};

class EventChannels {
public:
    static constexpr uint16_t kHostDomid = 0;
    static constexpr uint32_t kPortsPerBucket = 64; // Xen's EVTCHNS_PER_BUCKET on x86-64

    // onUpcall(vcpu): that vCPU's evtchn_upcall_pending went 0 -> 1.
    // onPending(): some port's pending bit went 0 -> 1 (wakes SCHEDOP_poll).
    // Both run with the table locked: they must not call back in.
    using UpcallFn = std::function<void(uint32_t vcpu)>;
    using PendingFn = std::function<void()>;

    EventChannels(const EventChannelsConfig& config, EventBitmaps& bits, UpcallFn onUpcall,
                  PendingFn onPending);
    ~EventChannels();

    // Guest operations (EVTCHNOP_*): a port, 0, or a negative Xen errno.
    int allocUnbound(uint16_t dom, uint16_t remoteDom);
    int bindInterdomain(uint16_t remoteDom, uint32_t remotePort);
    int bindVirq(uint32_t virq, uint32_t vcpu);
    int bindIpi(uint32_t vcpu);
    int bindVcpu(uint32_t port, uint32_t vcpu);
    int send(uint32_t port);
    int close(uint32_t port);
    int status(evtchn_status_t& status) const; // fills status.status/vcpu/u
    int unmask(uint32_t port);
    int reset(uint16_t dom);
    // SCHEDOP_poll's per-port check: 1 pending, 0 not, -EINVAL invalid port.
    int pollPort(uint32_t port) const;

    // Core events: a per-vCPU VIRQ (timer, debug) or a global one (console).
    void sendVirq(uint32_t vcpu, uint32_t virq);
    void sendGlobalVirq(uint32_t virq);
    bool virqBound(uint32_t vcpu, uint32_t virq) const;

    // Host ends (dom0). allocateHostPort: a fresh guest port already bound to
    // a new dom0 port (libxl's alloc_unbound + the dom0 service's bind).
    // bindHostPort: dom0 binds to a port the guest allocated unbound for
    // remote domain 0 (a PV frontend's port from xenstore).
    Result<std::unique_ptr<HostPort>> allocateHostPort(const HostPortOptions& options);
    Result<std::unique_ptr<HostPort>> bindHostPort(uint32_t guestPort);
    // Host -> guest notification for an endpoint (HostPort::notify, the pump).
    void notifyFromHost(const HostEndpoint& endpoint);
    // The host closes its end (HostPort destructor).
    void closeHostEnd(const std::shared_ptr<HostEndpoint>& endpoint);

    uint32_t vcpuCount() const { return config_.vcpuCount; }

private:
    enum class State : uint8_t { Free, Reserved, Unbound, Interdomain, Virq, Ipi };
    struct Port {
        State state = State::Free;
        bool xenAttached = false;
        uint32_t notifyVcpu = 0;
        uint16_t remoteDomid = 0;           // Unbound; Interdomain: ours or kHostDomid
        uint32_t remotePort = 0;            // Interdomain
        uint32_t virq = 0;                  // Virq
        std::shared_ptr<HostEndpoint> host; // Interdomain with dom0
    };

    bool validLocked(uint32_t port) const { return port < ports_.size(); }
    int allocPortLocked();
    void freePortLocked(uint32_t port);
    int closeLocked(uint32_t port, bool guest);
    void setPendingLocked(uint32_t port);
    uint32_t limitLocked() const;
    Result<std::unique_ptr<HostPort>> connectHostLocked(uint32_t guestPort,
                                                        const HostPortOptions& options);

    const EventChannelsConfig config_;
    EventBitmaps& bits_;
    UpcallFn onUpcall_;
    PendingFn onPending_;
    mutable std::mutex mutex_;
    std::vector<Port> ports_;                                // size = Xen's valid_evtchns
    std::vector<std::array<uint32_t, NR_VIRQS>> virqToPort_; // per vCPU
    uint32_t nextHostPort_ = 1;
    std::unique_ptr<HostEventPump> pump_;
};

} // namespace basalt::xen
