#pragma once
// A device tree as plain data, serialised with libfdt's sequential-write API,
// so tests can build blobs the writer never would: missing, duplicate,
// mis-sized or unknown properties and nodes.

#include <cstdint>
#include <cstring>
#include <libfdt.h>
#include <string>
#include <vector>

namespace basalt::test {

using Bytes = std::vector<uint8_t>;

inline Bytes cellU32(uint32_t value) {
    const fdt32_t be = cpu_to_fdt32(value);
    Bytes out(sizeof(be));
    std::memcpy(out.data(), &be, sizeof(be));
    return out;
}

inline Bytes cellU64(uint64_t value) {
    const fdt64_t be = cpu_to_fdt64(value);
    Bytes out(sizeof(be));
    std::memcpy(out.data(), &be, sizeof(be));
    return out;
}

inline Bytes str(const std::string& text) {
    Bytes out(text.begin(), text.end());
    out.push_back(0);
    return out;
}

struct TreeNode {
    std::string name;
    std::vector<std::pair<std::string, Bytes>> props; // duplicates allowed on purpose
    std::vector<TreeNode> children;

    TreeNode& child(const std::string& childName) {
        for (TreeNode& c : children)
            if (c.name == childName)
                return c;
        children.push_back(TreeNode{childName, {}, {}});
        return children.back();
    }
    TreeNode& set(const std::string& prop, Bytes value) {
        for (auto& [n, v] : props)
            if (n == prop) {
                v = std::move(value);
                return *this;
            }
        props.emplace_back(prop, std::move(value));
        return *this;
    }
    TreeNode& remove(const std::string& prop) {
        std::erase_if(props, [&](const auto& p) { return p.first == prop; });
        return *this;
    }
};

// The tree a valid spec serialises to (see domain_spec.h).
inline TreeNode validTree() {
    TreeNode root{"", {{"compatible", str("basalt,domain-spec-v1")}}, {}};
    TreeNode& domain = root.child("domain");
    domain.set("compatible", str("basalt,domain"))
        .set("name", str("test"))
        .set("memory", cellU64(64ull << 20))
        .set("cpus", cellU32(2))
        .set("mmio-hole-start", cellU64(0xF0000000));
    domain.child("kernel")
        .set("compatible", str("basalt,kernel"))
        .set("path", str("/guests/hello.elf"))
        .set("entry-mode", str("protected"));
    return root;
}

inline void writeNode(void* fdt, const TreeNode& node) {
    fdt_begin_node(fdt, node.name.c_str());
    for (const auto& [name, value] : node.props)
        fdt_property(fdt, name.c_str(), value.data(), static_cast<int>(value.size()));
    for (const TreeNode& c : node.children)
        writeNode(fdt, c);
    fdt_end_node(fdt);
}

inline Bytes serialize(const TreeNode& root) {
    constexpr int kBufferBytes = 64 * 1024;
    Bytes blob(kBufferBytes);
    fdt_create(blob.data(), kBufferBytes);
    fdt_finish_reservemap(blob.data());
    writeNode(blob.data(), root);
    if (fdt_finish(blob.data()) != 0)
        return {};
    blob.resize(fdt_totalsize(blob.data()));
    return blob;
}

} // namespace basalt::test
