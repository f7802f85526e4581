#include "toolstack/xenstored/path.h"

#include "toolstack/xenstored/wire.h"

#include <charconv>
#include <cstdio>

namespace basalt::xenstore {

namespace {
constexpr std::string_view kLocalDomainPrefix = "/local/domain/";

bool validChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '/' || c == '_' || c == '@';
}
} // namespace

std::string homePath(DomId domid) {
    return std::string(kLocalDomainPrefix) + std::to_string(domid);
}

bool isValidNodeName(std::string_view name, size_t maxRelPathLen) {
    if (name.empty() || name.front() != '/')
        return false;
    if (name.size() > 1 && name.back() == '/')
        return false;
    if (name.find("//") != std::string_view::npos)
        return false;
    if (name.size() > XENSTORE_ABS_PATH_MAX)
        return false;
    // Paths below a domain's home are limited relative to that home.
    size_t localOff = 0;
    if (name.substr(0, kLocalDomainPrefix.size()) == kLocalDomainPrefix) {
        std::string_view rest = name.substr(kLocalDomainPrefix.size());
        size_t digits = 0;
        while (digits < rest.size() && digits < 5 && rest[digits] >= '0' && rest[digits] <= '9')
            digits++;
        if (digits > 0 && digits < rest.size() && rest[digits] == '/')
            localOff = kLocalDomainPrefix.size() + digits + 1;
    }
    if (name.size() > localOff + maxRelPathLen)
        return false;
    for (char c : name)
        if (!validChar(c))
            return false;
    return true;
}

bool isSpecialName(std::string_view name) {
    return name == kIntroduceDomain || name == kReleaseDomain;
}

std::string canonicalize(DomId caller, std::string_view name) {
    if (!name.empty() && (name.front() == '/' || name.front() == '@'))
        return std::string(name);
    return homePath(caller) + "/" + std::string(name);
}

std::string parentOf(std::string_view name) {
    size_t slash = name.rfind('/');
    if (slash == std::string_view::npos || slash == 0)
        return "/";
    return std::string(name.substr(0, slash));
}

std::string_view baseName(std::string_view name) {
    size_t slash = name.rfind('/');
    return slash == std::string_view::npos ? name : name.substr(slash + 1);
}

std::string childPath(std::string_view parent, std::string_view child) {
    std::string out(parent);
    if (out != "/")
        out += '/';
    out.append(child);
    return out;
}

bool isChildOrSelf(std::string_view child, std::string_view parent) {
    size_t len = parent.size();
    if (len > 0 && parent[len - 1] == '/')
        len--; // "/" is everyone's parent
    return child.substr(0, len) == parent.substr(0, len) &&
           (child.size() == len || child[len] == '/');
}

std::optional<DomId> parseDomId(std::string_view text) {
    DomId v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size() || text.empty())
        return std::nullopt;
    return v;
}

} // namespace basalt::xenstore
