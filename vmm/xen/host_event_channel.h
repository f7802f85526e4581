#pragma once
// The host ("dom0") end of an interdomain event channel: what xenstored, the
// PV backends and the device model hold instead of /dev/xen/evtchn.
//
// Each HostPort has two eventfds:
//   guestToHostFd: becomes readable when the guest does EVTCHNOP_send on its
//                  port; the host reads it (8 bytes) to clear it, then looks
//                  at its ring. Counts accumulate like a 2-level pending bit.
//   hostToGuestFd: the host writes a count (8 bytes) to notify the guest; a
//                  pump thread sets the guest port pending. notify() does the
//                  same synchronously.
// Example (xenstored's store port, as libxl + xenstored do it):
//     auto store = channels.allocateHostPort({});          // guest port 1
//     params.set(HVM_PARAM_STORE_EVTCHN, store->guestPort());
//     guest: EVTCHNOP_send(1) -> store->guestToHostFd() readable
//     xenstored: store->notify() -> port 1 pending -> upcall
// When the guest closes its port, connected() turns false and notify() does
// nothing (the channel is "unbound" from dom0's point of view). Destroying
// the HostPort closes the dom0 end: the guest port becomes unbound, remote
// dom0, as when dom0 closes its end under Xen. A HostPort must not outlive
// the EventChannels that made it.

#include "base/unique_fd.h"

#include <atomic>
#include <cstdint>
#include <memory>

namespace basalt::xen {

class EventChannels;

// Shared between the port table and the HostPort handle.
struct HostEndpoint {
    UniqueFd guestToHost;
    UniqueFd hostToGuest;
    uint32_t hostPort = 0;              // dom0-side port number the guest sees
    std::atomic<uint32_t> guestPort{0}; // 0 once disconnected
    std::atomic<bool> connected{false};
    bool xenAttached = false; // guest may not send/close/rebind it

    void signalHost() const; // EVTCHNOP_send from the guest
};

struct HostPortOptions {
    // Like Xen's alloc_unbound_xen_event_channel() (ioreq ports): the guest
    // cannot send on, close, rebind or query the port.
    bool xenAttached = false;
    uint32_t notifyVcpu = 0;
};

class HostPort {
public:
    HostPort(EventChannels& channels, std::shared_ptr<HostEndpoint> endpoint);
    ~HostPort();
    HostPort(const HostPort&) = delete;
    HostPort& operator=(const HostPort&) = delete;

    uint32_t guestPort() const { return endpoint_->guestPort.load(); }
    uint32_t hostPort() const { return endpoint_->hostPort; }
    int guestToHostFd() const { return endpoint_->guestToHost.get(); }
    int hostToGuestFd() const { return endpoint_->hostToGuest.get(); }
    bool connected() const { return endpoint_->connected.load(); }
    void notify();

private:
    EventChannels& channels_;
    std::shared_ptr<HostEndpoint> endpoint_;
};

} // namespace basalt::xen
