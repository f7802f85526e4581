#pragma once
// The node operations behind READ/WRITE/MKDIR/RM/SET_PERMS, with Xen's
// permission and quota rules, working on any NodeStore (the tree or a
// transaction). Each returns 0 or an errno and records watch events.

#include "toolstack/xenstored/quota.h"
#include "toolstack/xenstored/store.h"
#include "toolstack/xenstored/transaction.h"

#include <string>
#include <vector>

namespace basalt::xenstore {

struct OpContext {
    const Caller& caller;
    const Quotas& quotas;
    NodeStore& view;
    std::vector<WatchEventSpec>& events;
};

// Finds `path` (already canonical) if the caller has all of `perm`. A missing
// or forbidden node gives ENOENT only when the nearest existing ancestor grants
// `perm`, EACCES otherwise, so callers learn nothing about nodes they cannot see.
int lookupNode(OpContext& ctx, const std::string& path, uint8_t perm, const Node** out);

int writeNode(OpContext& ctx, const std::string& path, std::string_view value);
int makeDirectory(OpContext& ctx, const std::string& path);
int removeNode(OpContext& ctx, const std::string& path);
int setPermissions(OpContext& ctx, const std::string& path, const Perms& perms);

} // namespace basalt::xenstore
