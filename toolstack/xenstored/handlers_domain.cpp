// INTRODUCE, RELEASE, GET_DOMAIN_PATH, IS_DOMAIN_INTRODUCED, RESUME, SET_TARGET.

#include "toolstack/xenstored/handlers.h"

#include <charconv>

namespace basalt::xenstore {

namespace {

// [page, guest->store eventfd, store->guest eventfd]
constexpr size_t kIntroduceFds = 3;

std::optional<uint64_t> parseU64(std::string_view text) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || p != text.data() + text.size())
        return std::nullopt;
    return v;
}

std::optional<DomId> domidArg(std::string_view text) {
    auto id = parseDomId(text);
    if (!id || *id > kMaxDomId)
        return std::nullopt;
    return id;
}

} // namespace

// Body "domid\0mfn\0port\0", as Xen. Basalt's core adds the page as fds
// (SCM_RIGHTS [page, guest->store eventfd, store->guest eventfd]) and a fourth
// field, the page's byte offset in the page fd. The fd form may also
// re-attach the ring of a domain already introduced with the same port
// whose ring is gone (the daemon restarted, the core reconnected).
Reply handleIntroduce(Request& r) {
    auto args = splitStrings(r.message.payload);
    if (args.size() < 3)
        return errorReply(EINVAL);
    auto domid = domidArg(args[0]);
    auto mfn = parseU64(args[1]);
    auto port = parseDomId(args[2]);
    if (!domid || !mfn || !port || *port == 0)
        return errorReply(EINVAL);
    if (*domid == kDom0)
        return errorReply(EINVAL);
    auto& fds = r.connection.receivedFds;
    std::optional<RingFds> ring;
    if (!fds.empty()) {
        std::optional<uint64_t> offset = args.size() >= 4 ? parseU64(args[3]) : std::nullopt;
        if (fds.size() != kIntroduceFds || !offset || !r.server.fdRingIntroducer())
            return errorReply(EINVAL);
        ring = RingFds{std::move(fds[0]), *offset, std::move(fds[1]), std::move(fds[2])};
    }
    auto& domains = r.server.domains();
    auto it = domains.find(*domid);
    if (it != domains.end()) {
        if (it->second.port != *port)
            return errorReply(EINVAL);
        bool ringAlive = it->second.connection && !it->second.connection->closed();
        if (!ring || ringAlive)
            return okReply();
        auto conn = r.server.fdRingIntroducer()(*domid, std::move(*ring));
        if (!conn.ok())
            return errorReply(conn.error().code);
        if (auto old = it->second.connection)
            r.server.detach(old.get());
        it->second.connection = conn.value();
        it->second.introducer = &r.connection;
        it->second.mfn = *mfn;
        if (it->second.restored) {
            // The daemon restarted: the ring gets its watches back.
            conn.value()->watches = std::move(it->second.restoredWatches);
            conn.value()->transactionsLost = true;
            it->second.restoredWatches.clear();
            it->second.restored = false;
        }
        r.server.attach(conn.value());
        // Each fires once, as a new watch would: the guest re-reads what
        // may have changed while nobody served its ring.
        for (const auto& w : conn.value()->watches)
            if (auto reported = watchFires(w, w.path, true))
                conn.value()->send(
                    encodeMessage(XS_WATCH_EVENT, 0, 0, watchEventPayload(*reported, w.token)));
        return okReply();
    }
    DomainInfo info{*domid, *mfn, *port, std::nullopt, nullptr, nullptr, {}, false};
    if (ring) {
        auto conn = r.server.fdRingIntroducer()(*domid, std::move(*ring));
        if (!conn.ok())
            return errorReply(conn.error().code);
        info.connection = conn.value();
        info.introducer = &r.connection;
        r.server.attach(info.connection);
    } else if (const auto& introducer = r.server.ringIntroducer()) {
        info.connection = introducer(*domid, *mfn, *port);
        if (!info.connection)
            return errorReply(EINVAL);
        r.server.attach(info.connection);
    }
    domains.emplace(*domid, std::move(info));
    r.events.push_back({kIntroduceDomain, false, std::nullopt});
    return okReply();
}

Reply handleRelease(Request& r) {
    auto arg = oneArg(r.message.payload);
    auto domid = arg ? domidArg(*arg) : std::nullopt;
    if (!domid || *domid == kDom0)
        return errorReply(EINVAL);
    auto& domains = r.server.domains();
    auto it = domains.find(*domid);
    if (it == domains.end())
        return errorReply(ENOENT);
    if (auto conn = it->second.connection) {
        conn->close("domain released");
        r.server.detach(conn.get());
    }
    domains.erase(it);
    r.events.push_back({kReleaseDomain, false, std::nullopt});
    return okReply();
}

Reply handleGetDomainPath(Request& r) {
    auto arg = oneArg(r.message.payload);
    auto domid = arg ? domidArg(*arg) : std::nullopt;
    if (!domid)
        return errorReply(EINVAL);
    return Reply{0, homePath(*domid) + '\0'};
}

Reply handleIsDomainIntroduced(Request& r) {
    auto arg = oneArg(r.message.payload);
    auto domid = arg ? domidArg(*arg) : std::nullopt;
    if (!domid)
        return errorReply(EINVAL);
    bool introduced = *domid == kDom0 || r.server.domains().count(*domid);
    return Reply{0, std::string(introduced ? "T" : "F") + '\0'};
}

Reply handleResume(Request& r) {
    auto arg = oneArg(r.message.payload);
    auto domid = arg ? domidArg(*arg) : std::nullopt;
    if (!domid || *domid == kDom0)
        return errorReply(EINVAL);
    if (!r.server.domains().count(*domid))
        return errorReply(ENOENT);
    return okReply(); // Basalt keeps no shutdown flag to clear
}

Reply handleSetTarget(Request& r) {
    auto args = splitStrings(r.message.payload);
    if (args.size() < 2)
        return errorReply(EINVAL);
    auto domid = domidArg(args[0]);
    auto target = domidArg(args[1]);
    if (!domid || !target || *domid == kDom0)
        return errorReply(EINVAL);
    auto& domains = r.server.domains();
    auto it = domains.find(*domid);
    if (it == domains.end() || !domains.count(*target))
        return errorReply(ENOENT);
    it->second.target = *target;
    return okReply();
}

} // namespace basalt::xenstore
