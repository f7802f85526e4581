#pragma once
// Xen's node permissions. A node carries a list of (domid, bits); the first
// entry names the owner and gives everyone else's default access, later
// entries grant specific domains. On the wire each entry is a letter and a
// domid: "n0" (owner dom0, others none), "r5" (domain 5 may read), "w", "b".
//
// Access for a caller: a privileged caller (dom0) and the owner (or a domain
// whose SET_TARGET target is the owner) get everything; otherwise the first
// later entry naming the caller (or its target) decides; otherwise entry 0.

#include "toolstack/xenstored/path.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace basalt::xenstore {

enum PermBits : uint8_t {
    kPermNone = 0,
    kPermRead = 1,
    kPermWrite = 2,
    kPermOwner = 4, // never on the wire: what owners and privileged callers get
};

struct Perm {
    DomId id = kDom0;
    uint8_t bits = kPermNone;
    bool operator==(const Perm&) const = default;
};

using Perms = std::vector<Perm>;

// Who is asking: the domain, whether it is privileged, its SET_TARGET target.
struct Caller {
    DomId domid = kDom0;
    bool privileged = true;
    std::optional<DomId> target;
};

std::optional<Perm> parsePerm(std::string_view text);
std::string formatPerm(const Perm& perm);
// All entries, each NUL-terminated, as GET_PERMS answers.
std::string formatPerms(const Perms& perms);

uint8_t permForCaller(const Caller& caller, const Perms& perms);

inline DomId ownerOf(const Perms& perms) {
    return perms.empty() ? kDom0 : perms.front().id;
}

} // namespace basalt::xenstore
