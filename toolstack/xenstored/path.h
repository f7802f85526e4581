#pragma once
// Node names: validation, relative-path resolution and parent/child tests,
// following Xen's rules (docs/misc/xenstore.txt, "Paths").

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace basalt::xenstore {

using DomId = uint32_t;

constexpr DomId kDom0 = 0;
constexpr DomId kMaxDomId = 0x7fef; // DOMID_FIRST_RESERVED - 1
constexpr char kIntroduceDomain[] = "@introduceDomain";
constexpr char kReleaseDomain[] = "@releaseDomain";

// "/local/domain/<id>"
std::string homePath(DomId domid);

// An absolute node name: starts with '/', no trailing '/' (except "/"), no "//",
// only [A-Za-z0-9-/_@], and at most maxRelPathLen bytes below a domain's home
// (or below "/" elsewhere), never more than XENSTORE_ABS_PATH_MAX.
bool isValidNodeName(std::string_view name, size_t maxRelPathLen);

// A special watch/permission name: "@introduceDomain" or "@releaseDomain".
bool isSpecialName(std::string_view name);

// Relative names are below the caller's home; absolute and '@' names unchanged.
std::string canonicalize(DomId caller, std::string_view name);

// "/a/b" -> "/a"; "/a" -> "/"; "/" -> "/".
std::string parentOf(std::string_view name);
// "/a/b" -> "b"
std::string_view baseName(std::string_view name);
// "/a" + "b" -> "/a/b"; "/" + "b" -> "/b"
std::string childPath(std::string_view parent, std::string_view child);

// True when `child` is `parent` or lies below it.
bool isChildOrSelf(std::string_view child, std::string_view parent);

// Parses a decimal domid as sent by clients ("7"); rejects junk and overflow.
std::optional<DomId> parseDomId(std::string_view text);

} // namespace basalt::xenstore
