// INTRODUCE, RELEASE, GET_DOMAIN_PATH, IS_DOMAIN_INTRODUCED, RESUME, SET_TARGET.

#include "toolstack/xenstored/handlers.h"

#include <charconv>

namespace basalt::xenstore {

namespace {

std::optional<DomId> domidArg(std::string_view text) {
    auto id = parseDomId(text);
    if (!id || *id > kMaxDomId)
        return std::nullopt;
    return id;
}

} // namespace

Reply handleIntroduce(Request& r) {
    auto args = splitStrings(r.message.payload);
    if (args.size() < 3)
        return errorReply(EINVAL);
    auto domid = domidArg(args[0]);
    uint64_t mfn = 0;
    auto [p, ec] = std::from_chars(args[1].data(), args[1].data() + args[1].size(), mfn);
    auto port = parseDomId(args[2]);
    if (!domid || ec != std::errc() || p != args[1].data() + args[1].size() || !port || *port == 0)
        return errorReply(EINVAL);
    if (*domid == kDom0)
        return errorReply(EINVAL);
    auto& domains = r.server.domains();
    auto it = domains.find(*domid);
    if (it != domains.end())
        return it->second.port == *port ? okReply() : errorReply(EINVAL);
    DomainInfo info{*domid, mfn, *port, std::nullopt, nullptr};
    if (const auto& introducer = r.server.ringIntroducer()) {
        info.connection = introducer(*domid, mfn, *port);
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
