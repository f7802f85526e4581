#pragma once
// One client of xenstored, whatever carries its bytes: a UNIX socket
// (socket_connection.h) or a guest's shared ring page (ring_connection.h).
// The server sees only this interface: it queues messages with send(), and
// keeps the client's watches and transactions here.
//
// The output queue is bounded: a client that stops reading while events keep
// coming is dropped instead of growing memory or blocking the server.

#include "base/unique_fd.h"
#include "toolstack/xenstored/path.h"
#include "toolstack/xenstored/transaction.h"
#include "toolstack/xenstored/watches.h"

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace basalt::xenstore {

constexpr size_t kMaxQueuedBytes = 4 * 1024 * 1024;
constexpr size_t kMaxQueuedMessages = 16384;

class Connection {
public:
    explicit Connection(DomId domid) : domid_(domid) {}
    virtual ~Connection() = default;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    DomId domid() const { return domid_; }
    bool closed() const { return closed_; }
    // A short name for logs ("socket 3", "domain 5").
    virtual std::string describe() const = 0;

    // Queues one encoded message; a full queue drops the connection.
    void send(std::string bytes);
    // Closes for good; the transport releases its resources.
    void close(const char* reason);

    size_t queuedMessages() const { return queue_.size(); }
    size_t queuedBytes() const { return queuedBytes_; }

    // Per-client server state.
    std::vector<Watch> watches;
    std::map<uint32_t, std::unique_ptr<Transaction>> transactions;
    uint32_t nextTransactionId = 1;
    // Fds that came (SCM_RIGHTS) with the message being processed; handlers
    // take what they expect, the rest are closed after the request.
    std::vector<UniqueFd> receivedFds;
    // A ring re-attached after a daemon restart: its transactions were
    // lost, and a request in one answers EAGAIN (retry) instead of ENOENT.
    bool transactionsLost = false;

protected:
    // The transport starts (or continues) writing queue_.front().
    virtual void transmit() = 0;
    virtual void onClose() = 0;
    // For transports: the front message, `done` bytes of it already written.
    void consumed(size_t bytes);
    // Forgets everything queued (a ring reconnect).
    void clearQueue();

    std::deque<std::string> queue_;
    size_t frontOffset_ = 0;

private:
    DomId domid_;
    size_t queuedBytes_ = 0;
    bool closed_ = false;
};

} // namespace basalt::xenstore
