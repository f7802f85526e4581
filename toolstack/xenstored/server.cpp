#include "toolstack/xenstored/server.h"

#include "base/log.h"
#include "toolstack/xenstored/handlers.h"
#include "toolstack/xenstored/path.h"

#include <algorithm>

namespace basalt::xenstore {

BASALT_LOG_CATEGORY(Xenstored, "xenstored");

Server::Server(Quotas quotas) : quotas_(quotas) {
    specialPerms_[kIntroduceDomain] = {Perm{kDom0, kPermNone}};
    specialPerms_[kReleaseDomain] = {Perm{kDom0, kPermNone}};
}

void Server::setChangeSink(ChangeSink* sink) {
    sink_ = sink;
    tree_.setRecording(sink != nullptr);
}

void Server::attach(std::shared_ptr<Connection> connection) {
    connections_.push_back(std::move(connection));
}

void Server::detach(Connection* connection) {
    connection->watches.clear();
    connection->transactions.clear();
    connection->receivedFds.clear();
    std::erase_if(connections_, [&](const auto& c) { return c.get() == connection; });
    // Rings this client handed over as fds die with it.
    std::vector<DomId> orphans;
    for (const auto& [domid, info] : domains_)
        if (info.introducer == connection)
            orphans.push_back(domid);
    for (DomId domid : orphans) {
        LOG(Xenstored, Info, "domain %u: its introducer went away, releasing", domid);
        releaseDomain(domid);
    }
}

bool Server::saveDomains() {
    if (!sink_)
        return true;
    std::vector<SavedDomain> saved;
    for (const auto& [domid, info] : domains_) {
        SavedDomain d{domid, info.mfn, info.port, info.target, info.restoredWatches};
        if (info.connection && !info.connection->closed())
            d.watches = info.connection->watches;
        saved.push_back(std::move(d));
    }
    if (sink_->saveDomains(saved))
        return true;
    LOG(Xenstored, Error, "could not save %zu introduced domains", saved.size());
    return false;
}

void Server::restoreDomains(const std::vector<SavedDomain>& domains) {
    for (const auto& d : domains) {
        DomainInfo info{d.domid, d.mfn, d.port, d.target, nullptr, nullptr, d.watches, true};
        domains_.insert_or_assign(d.domid, std::move(info));
    }
}

void Server::releaseDomain(DomId domid) {
    auto it = domains_.find(domid);
    if (it == domains_.end())
        return;
    std::shared_ptr<Connection> conn = std::move(it->second.connection);
    domains_.erase(it);
    if (conn) {
        conn->close("domain released");
        detach(conn.get());
    }
    saveDomains();
    fireWatches({{kReleaseDomain, false, std::nullopt}});
}

namespace {
// Requests after which the saved domains (and their rings' watches) are stale.
bool changesDomains(uint32_t type, const Connection& connection) {
    switch (type) {
    case XS_INTRODUCE:
    case XS_RELEASE:
    case XS_SET_TARGET:
        return true;
    case XS_WATCH:
    case XS_UNWATCH:
    case XS_RESET_WATCHES:
        return connection.domid() != kDom0;
    default:
        return false;
    }
}
} // namespace

Caller Server::callerFor(const Connection& connection) const {
    Caller c;
    c.domid = connection.domid();
    c.privileged = connection.domid() == kDom0;
    auto it = domains_.find(connection.domid());
    if (it != domains_.end())
        c.target = it->second.target;
    return c;
}

bool Server::persistChanges() {
    if (!sink_)
        return true;
    auto changes = tree_.takeChanges();
    if (changes.empty())
        return true;
    if (sink_->commit(changes)) {
        tree_.keep();
        return true;
    }
    // Never acknowledged, so never applied: the tree goes back as it was.
    tree_.rollback();
    LOG(Xenstored, Error, "could not make %zu changes durable; rolled back", changes.size());
    return false;
}

bool Server::watchPermitted(const Connection& watcher, const WatchEventSpec& event) {
    Caller caller = callerFor(watcher);
    if (caller.privileged)
        return true;
    if (isSpecialName(event.path))
        return permForCaller(caller, specialPerms_[event.path]) & kPermRead;
    if (event.oldPerms && (permForCaller(caller, *event.oldPerms) & kPermRead))
        return true;
    if (const Node* n = tree_.find(event.path))
        return permForCaller(caller, n->perms) & kPermRead;
    if (!event.oldPerms)
        return false;
    // A removed node: its parent decides, as in Xen.
    const Node* parent = tree_.find(parentOf(event.path));
    return parent && (permForCaller(caller, parent->perms) & kPermRead);
}

void Server::fireWatches(const std::vector<WatchEventSpec>& events) {
    if (events.empty())
        return;
    // Copy: a send() may close (never detach) a connection.
    auto conns = connections_;
    for (const auto& event : events) {
        for (const auto& conn : conns) {
            if (conn->closed() || conn->watches.empty())
                continue;
            bool checked = false;
            bool permitted = false;
            for (size_t i = 0; i < conn->watches.size() && !conn->closed(); i++) {
                auto path = watchFires(conn->watches[i], event.path, event.exact);
                if (!path)
                    continue;
                if (!checked) {
                    permitted = watchPermitted(*conn, event);
                    checked = true;
                }
                if (!permitted)
                    break;
                conn->send(encodeMessage(XS_WATCH_EVENT, 0, 0,
                                         watchEventPayload(*path, conn->watches[i].token)));
            }
        }
    }
}

void Server::process(Connection& connection, const Message& message) {
    // Fds the handler did not take are closed whatever the outcome.
    struct DropFds {
        Connection& c;
        ~DropFds() { c.receivedFds.clear(); }
    } dropFds{connection};
    if (connection.closed())
        return;
    auto reply = [&](const Reply& r) {
        if (r.error)
            connection.send(encodeMessage(XS_ERROR, message.reqId, message.txId,
                                          std::string(errorString(r.error)) + '\0'));
        else
            connection.send(encodeMessage(message.type, message.reqId, message.txId, r.payload));
    };

    const WireEntry* entry = wireEntry(message.type);
    if (!entry || !entry->handler) {
        LOG_RATELIMITED(Xenstored, Warn, "%s: unknown operation %u", connection.describe().c_str(),
                        message.type);
        reply(errorReply(ENOSYS));
        return;
    }
    Caller caller = callerFor(connection);
    if ((entry->flags & kWirePrivileged) && !caller.privileged) {
        reply(errorReply(EACCES));
        return;
    }
    Transaction* tx = nullptr;
    if (!(entry->flags & kWireNoTransaction) && message.txId != 0) {
        auto it = connection.transactions.find(message.txId);
        if (it == connection.transactions.end()) {
            reply(errorReply(connection.transactionsLost ? EAGAIN : ENOENT));
            return;
        }
        tx = it->second.get();
    }

    Request request{*this, connection, message, caller, tx ? static_cast<NodeStore&>(*tx) : tree_,
                    tx,    {},         {}};
    Reply r = entry->handler(request);
    if (tx && connection.transactions.count(message.txId)) {
        for (auto& e : request.events)
            tx->queueEvent(std::move(e));
        request.events.clear();
    }
    // Durable before acknowledged; a change that could not be made durable
    // was rolled back, and nobody hears of it.
    if (!persistChanges()) {
        r = errorReply(EIO);
        request.events.clear();
        request.followUps.clear();
    }
    if (r.error == 0 && changesDomains(message.type, connection))
        saveDomains();
    reply(r);
    for (auto& m : request.followUps)
        connection.send(std::move(m));
    fireWatches(request.events);
}

} // namespace basalt::xenstore
