#pragma once
// One node of the store: value, permissions, children (in creation order, as
// Xen lists them) and the generation of its last change.

#include "toolstack/xenstored/permissions.h"

#include <cstdint>
#include <string>
#include <vector>

namespace basalt::xenstore {

struct Node {
    std::string value;
    Perms perms;
    std::vector<std::string> children;
    uint64_t generation = 0;
};

// What a node costs against the per-domain entry-size quota: value, child
// names and permissions, roughly what Xen's record holds.
inline size_t accountedSize(const Node& node) {
    constexpr size_t kPermRecordSize = 8;
    size_t size = node.value.size() + node.perms.size() * kPermRecordSize;
    for (const auto& c : node.children)
        size += c.size() + 1;
    return size;
}

} // namespace basalt::xenstore
