#pragma once
// A guest's xenstore connection over its shared page
// (struct xenstore_domain_interface, docs/misc/xenstore-ring.txt).
//
// The guest produces requests into req[] (advancing req_prod) and consumes
// replies from rsp[] (advancing rsp_cons); we do the opposite. Indices are
// free-running 32-bit counters masked with XENSTORE_RING_SIZE - 1. The page is
// guest memory: every index is read once, checked (producer - consumer never
// exceeds the ring size, and the indices we own must still hold what we
// wrote), and a violation sets `error` and drops this connection alone.
//
// Example: req_cons = 0, the guest writes a 16 + 8 byte READ and sets
// req_prod = 24, then kicks. kicked() copies the 24 bytes out, sets
// req_cons = 24, queues the reply, copies it into rsp[] at rsp_prod, advances
// rsp_prod and notifies. A guest that sets req_prod = 5000 with req_cons = 24
// claims 4976 bytes in a 1024-byte ring: error = XENSTORE_ERROR_RINGIDX, dropped.

#include "toolstack/xenstored/connection.h"
#include "toolstack/xenstored/event_channel.h"
#include "toolstack/xenstored/wire.h"

namespace basalt::xenstore {

class Server;

constexpr size_t kRingPageSize = 4096;

class RingConnection : public Connection {
public:
    // `page` is the guest's 4 KiB store page, mapped by the core; it must
    // outlive this connection.
    RingConnection(Server& server, DomId domid, void* page, EventChannel& channel);

    // The guest notified its event channel: handle reconnection requests,
    // consume requests, produce replies.
    void kicked();
    std::string describe() const override;

private:
    void transmit() override;
    void onClose() override {}
    bool writeReplies();
    bool readRequests();
    void fail(uint32_t error, const char* reason);
    void reset();

    Server& server_;
    xenstore_domain_interface* ring_;
    EventChannel& channel_;
    MessageReader reader_;
    // Our own copies of the indices we produce: the page's may be scribbled on.
    XENSTORE_RING_IDX reqCons_ = 0;
    XENSTORE_RING_IDX rspProd_ = 0;
    bool inKick_ = false;
    bool notifyPending_ = false;
};

} // namespace basalt::xenstore
