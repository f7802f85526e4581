#pragma once
// Watches: a (path, token) pair per registration. A change to a node fires
// every watch on that node or on one of its ancestors, except for "exact"
// events (children removed along with their parent), which fire only watches
// on the node itself. Relative registrations report relative paths.

#include <optional>
#include <string>
#include <vector>

namespace basalt::xenstore {

struct Watch {
    std::string path; // canonical, or "@introduceDomain"/"@releaseDomain"
    std::string token;
    std::string relativeBase; // the caller's home when registered relative, else empty
};

// The path to report to `watch` for a change to `name`, or nullopt if it does not fire.
std::optional<std::string> watchFires(const Watch& watch, const std::string& name, bool exact);

// The payload of an XS_WATCH_EVENT.
std::string watchEventPayload(const std::string& path, const std::string& token);

} // namespace basalt::xenstore
