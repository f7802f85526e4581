#pragma once
// The transport-independent xenstored: the tree, connections, domains and
// the wire table. Transports feed it complete messages with process(); it
// answers through Connection::send().

#include "base/result.h"
#include "toolstack/xenstored/connection.h"
#include "toolstack/xenstored/quota.h"
#include "toolstack/xenstored/store.h"
#include "toolstack/xenstored/wire.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace basalt::xenstore {

// An introduced domain as it survives a daemon restart: its identity and
// its ring's watches. Its open transactions do not survive (see
// docs/xenstore.md: a restored ring answers EAGAIN for them).
struct SavedDomain {
    DomId domid = 0;
    uint64_t mfn = 0;
    uint32_t port = 0;
    std::optional<DomId> target;
    std::vector<Watch> watches;
};

// Where committed changes go before a client hears "OK" (persistence.h).
class ChangeSink {
public:
    virtual ~ChangeSink() = default;
    // Must be durable when it returns true.
    virtual bool commit(const std::vector<StoreOp>& changes) = 0;
    // The introduced domains changed (introduce, release, target, a ring's
    // watches); replaces what was saved before.
    virtual bool saveDomains(const std::vector<SavedDomain>& domains) = 0;
};

struct DomainInfo {
    DomId domid = 0;
    uint64_t mfn = 0;
    uint32_t port = 0;
    std::optional<DomId> target;
    std::shared_ptr<Connection> connection; // the ring, once the core maps it
    // The socket client that handed the ring over as fds; its going away
    // releases the domain (the fds were only valid through it).
    const Connection* introducer = nullptr;
    // Restored after a daemon restart: the ring's watches, until the core
    // hands the ring over again.
    std::vector<Watch> restoredWatches;
    bool restored = false;
};

// What arrives with an fd-carrying XS_INTRODUCE (docs/xenstore.md): the
// store page's fd and offset, and the store event channel's two eventfds.
struct RingFds {
    UniqueFd page;
    uint64_t pageOffset = 0;
    UniqueFd guestToStore;
    UniqueFd storeToGuest;
};

// Maps a newly introduced domain's ring page and returns its connection
// (basaltd provides this; the standalone daemon has no guests to map).
using RingIntroducer =
    std::function<std::shared_ptr<Connection>(DomId domid, uint64_t mfn, uint32_t port)>;
// Maps a ring handed over as fds (fd_ring.h); an error refuses the introduction.
using FdRingIntroducer =
    std::function<Result<std::shared_ptr<Connection>>(DomId domid, RingFds fds)>;

class Server {
public:
    explicit Server(Quotas quotas = {});

    void attach(std::shared_ptr<Connection> connection);
    // Forgets the client's watches and transactions.
    void detach(Connection* connection);
    // Handles one request and sends its reply and any watch events.
    void process(Connection& connection, const Message& message);

    Tree& tree() { return tree_; }
    const Quotas& quotas() const { return quotas_; }
    void setChangeSink(ChangeSink* sink);
    void setRingIntroducer(RingIntroducer introducer) { introducer_ = std::move(introducer); }
    const RingIntroducer& ringIntroducer() const { return introducer_; }
    void setFdRingIntroducer(FdRingIntroducer introducer) { fdIntroducer_ = std::move(introducer); }
    const FdRingIntroducer& fdRingIntroducer() const { return fdIntroducer_; }
    // Closes and forgets a domain's ring; @releaseDomain fires.
    void releaseDomain(DomId domid);
    // Saves the introduced domains to the sink (after they or a ring's
    // watches changed); false if that failed.
    bool saveDomains();
    // After a restart: the domains as saved. Their rings come back when the
    // core introduces them again with fds.
    void restoreDomains(const std::vector<SavedDomain>& domains);

    // Caller identity of a connection (privilege, target).
    Caller callerFor(const Connection& connection) const;
    // Sends events for changes, to every permitted watcher.
    void fireWatches(const std::vector<WatchEventSpec>& events);
    // Commits tree changes to the sink; false if they could not be made durable.
    bool persistChanges();

    std::map<DomId, DomainInfo>& domains() { return domains_; }
    Perms& specialPerms(const std::string& name) { return specialPerms_[name]; }
    const std::vector<std::shared_ptr<Connection>>& connections() const { return connections_; }

private:
    bool watchPermitted(const Connection& watcher, const WatchEventSpec& event);

    Tree tree_;
    Quotas quotas_;
    ChangeSink* sink_ = nullptr;
    RingIntroducer introducer_;
    FdRingIntroducer fdIntroducer_;
    std::vector<std::shared_ptr<Connection>> connections_;
    std::map<DomId, DomainInfo> domains_;
    std::map<std::string, Perms> specialPerms_;
};

} // namespace basalt::xenstore
