#include "toolstack/xenstored/node_ops.h"

#include "toolstack/xenstored/path.h"

#include <algorithm>
#include <cerrno>

namespace basalt::xenstore {

namespace {

// Access that the nearest existing ancestor of `path` grants.
uint8_t parentAccess(OpContext& ctx, const std::string& path) {
    std::string name = path;
    while (name != "/") {
        name = parentOf(name);
        if (const Node* n = ctx.view.find(name))
            return permForCaller(ctx.caller, n->perms);
    }
    return kPermNone; // no root: cannot happen in a consistent store
}

bool overSize(OpContext& ctx, const Node& node) {
    return !ctx.caller.privileged && accountedSize(node) >= ctx.quotas.maxNodeSize;
}

// Creates `path` and its missing ancestors, the deepest holding `value`.
int createNode(OpContext& ctx, const std::string& path, std::string_view value) {
    std::vector<std::string> missing{path};
    std::string existing = parentOf(path);
    while (!ctx.view.find(existing)) {
        missing.push_back(existing);
        existing = parentOf(existing);
    }
    if (!ctx.caller.privileged &&
        ctx.view.nodesOwnedBy(ctx.caller.domid) + missing.size() > ctx.quotas.maxNodes)
        return ENOSPC;

    Node parent = *ctx.view.find(existing);
    parent.children.emplace_back(baseName(missing.back()));
    if (overSize(ctx, parent))
        return ENOSPC;
    Node leaf;
    leaf.value = std::string(value);
    leaf.perms = parent.perms;
    if (overSize(ctx, leaf))
        return ENOSPC;

    Perms perms = parent.perms;
    if (!ctx.caller.privileged)
        perms.front().id = ctx.caller.domid; // unprivileged domains own what they create
    ctx.view.put(existing, std::move(parent));
    for (size_t i = missing.size(); i-- > 0;) {
        Node n;
        n.perms = perms;
        if (i == 0)
            n.value = std::string(value);
        else
            n.children.emplace_back(baseName(missing[i - 1]));
        ctx.view.put(missing[i], std::move(n));
    }
    return 0;
}

} // namespace

int lookupNode(OpContext& ctx, const std::string& path, uint8_t perm, const Node** out) {
    *out = nullptr;
    if (!isValidNodeName(path, ctx.quotas.maxRelPathLen))
        return EINVAL;
    const Node* n = ctx.view.find(path);
    int err = ENOENT;
    if (n) {
        if ((permForCaller(ctx.caller, n->perms) & perm) == perm) {
            *out = n;
            return 0;
        }
        err = EACCES;
    }
    if (path == "/")
        return err;
    return (parentAccess(ctx, path) & perm) ? err : EACCES;
}

int writeNode(OpContext& ctx, const std::string& path, std::string_view value) {
    const Node* n = nullptr;
    int err = lookupNode(ctx, path, kPermWrite, &n);
    if (err == ENOENT) {
        err = createNode(ctx, path, value);
    } else if (err == 0) {
        Node updated = *n;
        updated.value = std::string(value);
        if (overSize(ctx, updated))
            return ENOSPC;
        ctx.view.put(path, std::move(updated));
    }
    if (err == 0)
        ctx.events.push_back({path, false, std::nullopt});
    return err;
}

int makeDirectory(OpContext& ctx, const std::string& path) {
    const Node* n = nullptr;
    int err = lookupNode(ctx, path, kPermWrite, &n);
    if (err != ENOENT)
        return err; // exists already (fine) or not allowed
    err = createNode(ctx, path, {});
    if (err == 0)
        ctx.events.push_back({path, false, std::nullopt});
    return err;
}

int removeNode(OpContext& ctx, const std::string& path) {
    const Node* n = nullptr;
    int err = lookupNode(ctx, path, kPermWrite, &n);
    if (err == ENOENT) {
        // Removing what does not exist is fine if its parent exists.
        return ctx.view.find(parentOf(path)) ? 0 : ENOENT;
    }
    if (err)
        return err;
    if (path == "/")
        return EINVAL;

    Perms rootPerms = n->perms;
    // Depth-first without recursion: a hostile client can build deep trees.
    std::vector<std::string> stack{path};
    std::vector<std::pair<std::string, Perms>> doomed;
    while (!stack.empty()) {
        std::string p = std::move(stack.back());
        stack.pop_back();
        const Node* node = ctx.view.find(p);
        if (!node)
            continue;
        for (const auto& c : node->children)
            stack.push_back(childPath(p, c));
        doomed.emplace_back(p, node->perms);
    }
    for (auto it = doomed.rbegin(); it != doomed.rend(); ++it) {
        ctx.view.erase(it->first);
        if (it->first != path)
            ctx.events.push_back({it->first, true, it->second});
    }
    std::string parentName = parentOf(path);
    if (const Node* parent = ctx.view.find(parentName)) {
        Node updated = *parent;
        auto& ch = updated.children;
        ch.erase(std::remove(ch.begin(), ch.end(), baseName(path)), ch.end());
        ctx.view.put(parentName, std::move(updated));
    }
    ctx.events.push_back({path, false, rootPerms});
    return 0;
}

int setPermissions(OpContext& ctx, const std::string& path, const Perms& perms) {
    if (perms.empty())
        return EINVAL;
    if (!ctx.caller.privileged && perms.size() > ctx.quotas.maxPerms)
        return ENOSPC;
    const Node* n = nullptr;
    int err = lookupNode(ctx, path, kPermWrite | kPermOwner, &n);
    if (err)
        return err;
    // Unprivileged domains may not give their nodes away.
    if (!ctx.caller.privileged && perms.front().id != ownerOf(n->perms))
        return EPERM;
    if (!ctx.caller.privileged && perms.front().id != ctx.caller.domid &&
        ctx.view.nodesOwnedBy(perms.front().id) >= ctx.quotas.maxNodes)
        return ENOSPC;
    Node updated = *n;
    Perms old = updated.perms;
    updated.perms = perms;
    ctx.view.put(path, std::move(updated));
    ctx.events.push_back({path, false, std::move(old)});
    return 0;
}

} // namespace basalt::xenstore
