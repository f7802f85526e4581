// READ, WRITE, MKDIR, RM, DIRECTORY, DIRECTORY_PART, GET_PERMS, SET_PERMS.

#include "toolstack/xenstored/handlers.h"
#include "toolstack/xenstored/node_ops.h"

namespace basalt::xenstore {

namespace {

OpContext opsFor(Request& r) {
    return OpContext{r.caller, r.server.quotas(), r.view, r.events};
}

std::string childList(const Node& node) {
    std::string out;
    for (const auto& c : node.children) {
        out += c;
        out += '\0';
    }
    return out;
}

// Reads the single path argument and looks the node up with `perm`.
Reply withNode(Request& r, uint8_t perm, const Node** node, std::string* name = nullptr) {
    auto arg = oneArg(r.message.payload);
    if (!arg)
        return errorReply(EINVAL);
    std::string path = canonicalize(r.caller.domid, *arg);
    auto ctx = opsFor(r);
    if (int err = lookupNode(ctx, path, perm, node))
        return errorReply(err);
    if (name)
        *name = std::move(path);
    return {};
}

} // namespace

Reply okReply() {
    return Reply{0, std::string("OK", 3)};
}

Reply handleRead(Request& r) {
    const Node* node = nullptr;
    Reply err = withNode(r, kPermRead, &node);
    if (err.error)
        return err;
    return Reply{0, node->value};
}

Reply handleWrite(Request& r) {
    const std::string& payload = r.message.payload;
    size_t nul = payload.find('\0');
    if (nul == std::string::npos)
        return errorReply(EINVAL);
    std::string path = canonicalize(r.caller.domid, std::string_view(payload).substr(0, nul));
    auto ctx = opsFor(r);
    if (int err = writeNode(ctx, path, std::string_view(payload).substr(nul + 1)))
        return errorReply(err);
    return okReply();
}

Reply handleMkdir(Request& r) {
    auto arg = oneArg(r.message.payload);
    if (!arg)
        return errorReply(EINVAL);
    auto ctx = opsFor(r);
    if (int err = makeDirectory(ctx, canonicalize(r.caller.domid, *arg)))
        return errorReply(err);
    return okReply();
}

Reply handleRm(Request& r) {
    auto arg = oneArg(r.message.payload);
    if (!arg)
        return errorReply(EINVAL);
    auto ctx = opsFor(r);
    if (int err = removeNode(ctx, canonicalize(r.caller.domid, *arg)))
        return errorReply(err);
    return okReply();
}

Reply handleDirectory(Request& r) {
    const Node* node = nullptr;
    Reply err = withNode(r, kPermRead, &node);
    if (err.error)
        return err;
    return Reply{0, childList(*node)};
}

// "<generation>\0<children from offset>...": a reply ending in an empty
// string is the last chunk; a client restarts when the generation changes.
Reply handleDirectoryPart(Request& r) {
    auto args = splitStrings(r.message.payload);
    if (args.size() != 2)
        return errorReply(EINVAL);
    std::string path = canonicalize(r.caller.domid, args[0]);
    auto ctx = opsFor(r);
    const Node* node = nullptr;
    if (int err = lookupNode(ctx, path, kPermRead, &node))
        return errorReply(err);
    auto offset = parseDomId(args[1]); // a plain unsigned decimal
    if (!offset)
        return errorReply(EINVAL);
    std::string children = childList(*node);
    std::string out = std::to_string(node->generation);
    out += '\0';
    if (*offset >= children.size()) {
        out += '\0';
        return Reply{0, out};
    }
    size_t maxLen = kPayloadMax - out.size() - 1;
    size_t off = *offset;
    size_t len = 0;
    // Whole names only, as many as fit.
    while (off + len < children.size()) {
        size_t nameLen = children.find('\0', off + len) - (off + len);
        if (len + nameLen >= maxLen)
            break;
        len += nameLen + 1;
    }
    out.append(children, off, len);
    if (off + len == children.size())
        out += '\0';
    return Reply{0, out};
}

Reply handleGetPerms(Request& r) {
    const Node* node = nullptr;
    auto arg = oneArg(r.message.payload);
    if (!arg)
        return errorReply(EINVAL);
    std::string path = canonicalize(r.caller.domid, *arg);
    if (isSpecialName(path))
        return Reply{0, formatPerms(r.server.specialPerms(path))};
    auto ctx = opsFor(r);
    if (int err = lookupNode(ctx, path, kPermRead, &node))
        return errorReply(err);
    return Reply{0, formatPerms(node->perms)};
}

Reply handleSetPerms(Request& r) {
    auto args = splitStrings(r.message.payload);
    if (args.size() < 2)
        return errorReply(EINVAL);
    Perms perms;
    for (size_t i = 1; i < args.size(); i++) {
        auto p = parsePerm(args[i]);
        if (!p)
            return errorReply(EINVAL);
        perms.push_back(*p);
    }
    std::string path = canonicalize(r.caller.domid, args[0]);
    if (path.front() == '@') {
        if (!isSpecialName(path))
            return errorReply(EINVAL);
        if (!r.caller.privileged)
            return errorReply(EACCES);
        r.server.specialPerms(path) = perms;
        return okReply();
    }
    auto ctx = opsFor(r);
    if (int err = setPermissions(ctx, path, perms))
        return errorReply(err);
    return okReply();
}

} // namespace basalt::xenstore
