#pragma once
// Request handlers, one file per family (node, watch, transaction, domain,
// control), and the {name, handler, flags} wire table that dispatches them.

#include "toolstack/xenstored/server.h"

#include <string>
#include <vector>

namespace basalt::xenstore {

struct Request {
    Server& server;
    Connection& connection;
    const Message& message;
    Caller caller;
    NodeStore& view; // the tree, or the transaction's view of it
    Transaction* transaction;
    std::vector<WatchEventSpec> events; // fired after the reply (or queued in the transaction)
    std::vector<std::string> followUps; // encoded messages for the caller, after the reply
};

struct Reply {
    int error = 0;
    std::string payload;
};

Reply okReply();
inline Reply errorReply(int err) {
    return Reply{err, {}};
}

enum WireFlags : uint32_t {
    kWirePrivileged = 1,    // dom0 only
    kWireNoTransaction = 2, // tx_id is ignored
};

using Handler = Reply (*)(Request&);

struct WireEntry {
    const char* name;
    Handler handler; // nullptr: not a request (WATCH_EVENT, ERROR)
    uint32_t flags;
};

const WireEntry* wireEntry(uint32_t type);

// node family
Reply handleRead(Request&);
Reply handleWrite(Request&);
Reply handleMkdir(Request&);
Reply handleRm(Request&);
Reply handleDirectory(Request&);
Reply handleDirectoryPart(Request&);
Reply handleGetPerms(Request&);
Reply handleSetPerms(Request&);
// watch family
Reply handleWatch(Request&);
Reply handleUnwatch(Request&);
Reply handleResetWatches(Request&);
// transaction family
Reply handleTransactionStart(Request&);
Reply handleTransactionEnd(Request&);
// domain family
Reply handleIntroduce(Request&);
Reply handleRelease(Request&);
Reply handleGetDomainPath(Request&);
Reply handleIsDomainIntroduced(Request&);
Reply handleResume(Request&);
Reply handleSetTarget(Request&);
// control
Reply handleControl(Request&);

} // namespace basalt::xenstore
