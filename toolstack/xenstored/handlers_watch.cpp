// WATCH, UNWATCH, RESET_WATCHES.

#include "toolstack/xenstored/handlers.h"

#include <algorithm>

namespace basalt::xenstore {

namespace {
constexpr size_t kMaxTokenLength = XENSTORE_REL_PATH_MAX;
}

Reply handleWatch(Request& r) {
    auto args = splitStrings(r.message.payload);
    if (args.size() != 2)
        return errorReply(EINVAL);
    Watch w;
    if (!args[0].empty() && args[0].front() == '@') {
        if (args[0].size() > XENSTORE_REL_PATH_MAX)
            return errorReply(EINVAL);
        w.path = std::string(args[0]);
    } else {
        w.path = canonicalize(r.caller.domid, args[0]);
        if (!isValidNodeName(w.path, r.server.quotas().maxRelPathLen))
            return errorReply(EINVAL);
        if (args[0].empty() || args[0].front() != '/')
            w.relativeBase = homePath(r.caller.domid);
    }
    if (args[1].size() > kMaxTokenLength)
        return errorReply(EINVAL);
    w.token = std::string(args[1]);
    auto& watches = r.connection.watches;
    for (const auto& existing : watches)
        if (existing.path == w.path && existing.token == w.token)
            return errorReply(EEXIST);
    if (!r.caller.privileged && watches.size() >= r.server.quotas().maxWatches)
        return errorReply(E2BIG);
    // Every watch fires once right away, so clients need no initial read.
    std::string reported = w.path;
    if (!w.relativeBase.empty())
        reported = std::string(args[0]);
    r.followUps.push_back(
        encodeMessage(XS_WATCH_EVENT, 0, 0, watchEventPayload(reported, w.token)));
    watches.push_back(std::move(w));
    return okReply();
}

Reply handleUnwatch(Request& r) {
    auto args = splitStrings(r.message.payload);
    if (args.size() != 2)
        return errorReply(EINVAL);
    std::string path = canonicalize(r.caller.domid, args[0]);
    auto& watches = r.connection.watches;
    auto it = std::find_if(watches.begin(), watches.end(),
                           [&](const Watch& w) { return w.path == path && w.token == args[1]; });
    if (it == watches.end())
        return errorReply(ENOENT);
    watches.erase(it);
    return okReply();
}

Reply handleResetWatches(Request& r) {
    r.connection.watches.clear();
    r.connection.transactions.clear();
    return okReply();
}

} // namespace basalt::xenstore
