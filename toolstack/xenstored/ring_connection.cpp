#include "toolstack/xenstored/ring_connection.h"

#include "base/log.h"
#include "toolstack/xenstored/server.h"

#include <cstring>

namespace basalt::xenstore {

BASALT_LOG_CATEGORY(XsRing, "xenstore-ring");

namespace {

static_assert(sizeof(xenstore_domain_interface) <= kRingPageSize);

XENSTORE_RING_IDX load(const XENSTORE_RING_IDX& idx) {
    return __atomic_load_n(&idx, __ATOMIC_ACQUIRE);
}
void store(XENSTORE_RING_IDX& idx, XENSTORE_RING_IDX v) {
    __atomic_store_n(&idx, v, __ATOMIC_RELEASE);
}

} // namespace

RingConnection::RingConnection(Server& server, DomId domid, void* page, EventChannel& channel)
    : Connection(domid), server_(server), ring_(static_cast<xenstore_domain_interface*>(page)),
      channel_(channel) {
    reqCons_ = load(ring_->req_cons);
    rspProd_ = load(ring_->rsp_prod);
    ring_->server_features = XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR;
    store(ring_->error, XENSTORE_ERROR_NONE);
    store(ring_->connection, XENSTORE_CONNECTED);
}

std::string RingConnection::describe() const {
    return "domain " + std::to_string(domid());
}

void RingConnection::fail(uint32_t error, const char* reason) {
    store(ring_->error, error);
    LOG_RATELIMITED(XsRing, Warn, "domain %u: %s", domid(), reason);
    close(reason);
    channel_.notify();
}

// The guest asked to reconnect: forget everything in flight, as if new.
void RingConnection::reset() {
    clearQueue();
    reader_ = MessageReader();
    watches.clear();
    transactions.clear();
    reqCons_ = rspProd_ = 0;
    store(ring_->req_cons, 0);
    store(ring_->req_prod, 0);
    store(ring_->rsp_cons, 0);
    store(ring_->rsp_prod, 0);
    store(ring_->error, XENSTORE_ERROR_NONE);
    store(ring_->connection, XENSTORE_CONNECTED);
    notifyPending_ = true;
}

bool RingConnection::writeReplies() {
    bool wrote = false;
    while (!queue_.empty() && !closed()) {
        XENSTORE_RING_IDX cons = load(ring_->rsp_cons);
        if (load(ring_->rsp_prod) != rspProd_ || rspProd_ - cons > XENSTORE_RING_SIZE) {
            fail(XENSTORE_ERROR_RINGIDX, "response ring indices corrupted");
            return wrote;
        }
        size_t space = XENSTORE_RING_SIZE - (rspProd_ - cons);
        if (space == 0)
            break;
        const std::string& front = queue_.front();
        size_t n = std::min(space, front.size() - frontOffset_);
        size_t off = MASK_XENSTORE_IDX(rspProd_);
        size_t first = std::min(n, XENSTORE_RING_SIZE - off);
        std::memcpy(ring_->rsp + off, front.data() + frontOffset_, first);
        std::memcpy(ring_->rsp, front.data() + frontOffset_ + first, n - first);
        rspProd_ += static_cast<XENSTORE_RING_IDX>(n);
        store(ring_->rsp_prod, rspProd_);
        consumed(n);
        wrote = true;
    }
    return wrote;
}

bool RingConnection::readRequests() {
    bool read = false;
    // Outstanding-request quota: stop reading until the guest takes its replies.
    while (!closed() && queuedMessages() < server_.quotas().maxOutstanding) {
        XENSTORE_RING_IDX prod = load(ring_->req_prod);
        if (load(ring_->req_cons) != reqCons_ || prod - reqCons_ > XENSTORE_RING_SIZE) {
            fail(XENSTORE_ERROR_RINGIDX, "request ring indices corrupted");
            return read;
        }
        size_t avail = prod - reqCons_;
        if (avail == 0)
            break;
        uint8_t buf[XENSTORE_RING_SIZE];
        size_t off = MASK_XENSTORE_IDX(reqCons_);
        size_t first = std::min(avail, XENSTORE_RING_SIZE - off);
        std::memcpy(buf, ring_->req + off, first);
        std::memcpy(buf + first, ring_->req, avail - first);
        size_t used = reader_.feed(buf, avail);
        reqCons_ += static_cast<XENSTORE_RING_IDX>(used);
        store(ring_->req_cons, reqCons_);
        read = true;
        if (reader_.broken()) {
            fail(XENSTORE_ERROR_PROTO, "message longer than XENSTORE_PAYLOAD_MAX");
            return read;
        }
        if (reader_.hasMessage())
            server_.process(*this, reader_.take());
    }
    return read;
}

void RingConnection::kicked() {
    if (closed())
        return;
    if (load(ring_->connection) == XENSTORE_RECONNECT)
        reset();
    inKick_ = true;
    bool progress = true;
    while (progress && !closed()) {
        progress = readRequests();
        progress = writeReplies() || progress;
        notifyPending_ = notifyPending_ || progress;
    }
    inKick_ = false;
    if (notifyPending_ && !closed())
        channel_.notify();
    notifyPending_ = false;
}

void RingConnection::transmit() {
    // Watch events for this guest caused by someone else's request.
    if (inKick_ || closed())
        return;
    if (writeReplies())
        channel_.notify();
}

} // namespace basalt::xenstore
