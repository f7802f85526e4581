// TRANSACTION_START, TRANSACTION_END (see transaction.h for the protocol).

#include "toolstack/xenstored/handlers.h"

namespace basalt::xenstore {

Reply handleTransactionStart(Request& r) {
    if (r.transaction)
        return errorReply(EBUSY); // no nesting
    auto& txs = r.connection.transactions;
    if (!r.caller.privileged && txs.size() >= r.server.quotas().maxTransactions)
        return errorReply(ENOSPC);
    uint32_t id = r.connection.nextTransactionId;
    while (id == 0 || txs.count(id))
        id++;
    r.connection.nextTransactionId = id + 1;
    txs.emplace(id, std::make_unique<Transaction>(r.server.tree(), id));
    return Reply{0, std::to_string(id) + '\0'};
}

Reply handleTransactionEnd(Request& r) {
    auto arg = oneArg(r.message.payload);
    if (!arg || (*arg != "T" && *arg != "F"))
        return errorReply(EINVAL);
    if (!r.transaction)
        return errorReply(ENOENT);
    auto node = r.connection.transactions.extract(r.transaction->id());
    std::unique_ptr<Transaction> tx = std::move(node.mapped());
    if (*arg == "F")
        return okReply();
    if (!r.caller.privileged && tx->nodesOwnedBy(r.caller.domid) > r.server.quotas().maxNodes)
        return errorReply(ENOSPC);
    if (int err = tx->commit())
        return errorReply(err);
    r.events = tx->takeEvents();
    return okReply();
}

} // namespace basalt::xenstore
