// CONTROL (dom0 only): "check", "quota", "help"; others are EINVAL as in Xen.

#include "toolstack/xenstored/handlers.h"

#include "base/format.h"

namespace basalt::xenstore {

namespace {
constexpr char kHelp[] = "Available commands:\ncheck\nquota\nhelp\n";
}

Reply handleControl(Request& r) {
    auto args = splitStrings(r.message.payload);
    if (args.empty())
        return errorReply(EINVAL);
    if (args[0] == "check") {
        std::string problem;
        if (!r.server.tree().checkConsistency(&problem))
            return Reply{0, "inconsistent: " + problem + '\0'};
        return okReply();
    }
    if (args[0] == "quota") {
        const Quotas& q = r.server.quotas();
        return Reply{0, formatString("nodes %zu\nnode-size %zu\nwatches %zu\ntransactions "
                                     "%zu\noutstanding %zu\npermissions %zu\n",
                                     q.maxNodes, q.maxNodeSize, q.maxWatches, q.maxTransactions,
                                     q.maxOutstanding, q.maxPerms) +
                            '\0'};
    }
    if (args[0] == "help")
        return Reply{0, std::string(kHelp) + '\0'};
    return errorReply(EINVAL);
}

} // namespace basalt::xenstore
