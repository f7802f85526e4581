#include "toolstack/xenstored/permissions.h"

namespace basalt::xenstore {

namespace {
constexpr char kLetterNone = 'n';
constexpr char kLetterRead = 'r';
constexpr char kLetterWrite = 'w';
constexpr char kLetterBoth = 'b';
constexpr uint8_t kAll = kPermRead | kPermWrite | kPermOwner;
} // namespace

std::optional<Perm> parsePerm(std::string_view text) {
    if (text.size() < 2)
        return std::nullopt;
    Perm p;
    switch (text[0]) {
    case kLetterNone:
        p.bits = kPermNone;
        break;
    case kLetterRead:
        p.bits = kPermRead;
        break;
    case kLetterWrite:
        p.bits = kPermWrite;
        break;
    case kLetterBoth:
        p.bits = kPermRead | kPermWrite;
        break;
    default:
        return std::nullopt;
    }
    auto id = parseDomId(text.substr(1));
    if (!id || *id > kMaxDomId)
        return std::nullopt;
    p.id = *id;
    return p;
}

std::string formatPerm(const Perm& perm) {
    char letter = kLetterNone;
    uint8_t rw = perm.bits & (kPermRead | kPermWrite);
    if (rw == (kPermRead | kPermWrite))
        letter = kLetterBoth;
    else if (rw == kPermRead)
        letter = kLetterRead;
    else if (rw == kPermWrite)
        letter = kLetterWrite;
    return letter + std::to_string(perm.id);
}

std::string formatPerms(const Perms& perms) {
    std::string out;
    for (const auto& p : perms) {
        out += formatPerm(p);
        out += '\0';
    }
    return out;
}

uint8_t permForCaller(const Caller& caller, const Perms& perms) {
    if (perms.empty())
        return caller.privileged ? kAll : static_cast<uint8_t>(kPermNone);
    DomId owner = perms.front().id;
    if (caller.privileged || owner == caller.domid || (caller.target && owner == *caller.target))
        return kAll;
    for (size_t i = 1; i < perms.size(); i++)
        if (perms[i].id == caller.domid || (caller.target && perms[i].id == *caller.target))
            return perms[i].bits & kAll;
    return perms.front().bits & kAll;
}

} // namespace basalt::xenstore
