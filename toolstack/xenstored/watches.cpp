#include "toolstack/xenstored/watches.h"

#include "toolstack/xenstored/path.h"

namespace basalt::xenstore {

namespace {
std::string reported(const Watch& watch, const std::string& name) {
    if (watch.relativeBase.empty() ||
        name.compare(0, watch.relativeBase.size(), watch.relativeBase) != 0)
        return name;
    std::string rel = name.substr(watch.relativeBase.size());
    if (!rel.empty() && rel.front() == '/')
        rel.erase(0, 1);
    return rel;
}
} // namespace

std::optional<std::string> watchFires(const Watch& watch, const std::string& name, bool exact) {
    bool fires = exact ? name == watch.path
                       : (name.front() != '@' && watch.path.front() != '@' &&
                          isChildOrSelf(name, watch.path)) ||
                             name == watch.path;
    if (!fires)
        return std::nullopt;
    return reported(watch, name);
}

std::string watchEventPayload(const std::string& path, const std::string& token) {
    std::string out = path;
    out += '\0';
    out += token;
    out += '\0';
    return out;
}

} // namespace basalt::xenstore
