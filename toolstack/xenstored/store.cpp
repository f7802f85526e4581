#include "toolstack/xenstored/store.h"

#include "toolstack/xenstored/path.h"

#include <algorithm>

namespace basalt::xenstore {

Tree::Tree() {
    Node root;
    root.perms = {Perm{kDom0, kPermNone}};
    put("/", std::move(root));
}

const Node* Tree::find(const std::string& path) {
    auto it = nodes_.find(path);
    return it == nodes_.end() ? nullptr : &it->second;
}

void Tree::account(const Node* old, const Node* now) {
    if (old) {
        auto it = owned_.find(ownerOf(old->perms));
        if (it != owned_.end() && --it->second == 0)
            owned_.erase(it);
    }
    if (now)
        owned_[ownerOf(now->perms)]++;
}

void Tree::put(const std::string& path, Node node) {
    node.generation = ++generation_;
    auto it = nodes_.find(path);
    if (recording_) {
        changes_.push_back(StoreOp{StoreOp::Kind::Put, path, node});
        undo_.emplace_back(path, it == nodes_.end() ? std::nullopt : std::optional(it->second));
    }
    if (it == nodes_.end()) {
        account(nullptr, &node);
        nodes_.emplace(path, std::move(node));
    } else {
        account(&it->second, &node);
        it->second = std::move(node);
    }
}

void Tree::erase(const std::string& path) {
    auto it = nodes_.find(path);
    if (it == nodes_.end())
        return;
    if (recording_) {
        changes_.push_back(StoreOp{StoreOp::Kind::Erase, path, {}});
        undo_.emplace_back(path, it->second);
    }
    ++generation_;
    account(&it->second, nullptr);
    nodes_.erase(it);
}

size_t Tree::nodesOwnedBy(DomId domid) {
    auto it = owned_.find(domid);
    return it == owned_.end() ? 0 : it->second;
}

std::vector<StoreOp> Tree::takeChanges() {
    return std::exchange(changes_, {});
}

void Tree::rollback() {
    // Newest first, each entry restoring exactly what it replaced. The
    // generation counter itself only moves forward.
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
        auto& [path, before] = *it;
        auto now = nodes_.find(path);
        account(now == nodes_.end() ? nullptr : &now->second, before ? &*before : nullptr);
        if (before)
            nodes_.insert_or_assign(path, std::move(*before));
        else if (now != nodes_.end())
            nodes_.erase(now);
    }
    undo_.clear();
    changes_.clear();
}

void Tree::apply(const StoreOp& op) {
    bool was = std::exchange(recording_, false);
    if (op.kind == StoreOp::Kind::Put)
        put(op.path, op.node);
    else
        erase(op.path);
    recording_ = was;
}

void Tree::clear() {
    nodes_.clear();
    owned_.clear();
    changes_.clear();
    undo_.clear();
}

bool Tree::checkConsistency(std::string* problem) const {
    for (const auto& [path, node] : nodes_) {
        for (const auto& c : node.children)
            if (!nodes_.count(childPath(path, c))) {
                if (problem)
                    *problem = "missing child " + childPath(path, c);
                return false;
            }
        if (path == "/")
            continue;
        auto parent = nodes_.find(parentOf(path));
        if (parent == nodes_.end() ||
            std::find(parent->second.children.begin(), parent->second.children.end(),
                      baseName(path)) == parent->second.children.end()) {
            if (problem)
                *problem = "orphan " + path;
            return false;
        }
    }
    if (!nodes_.count("/")) {
        if (problem)
            *problem = "no root";
        return false;
    }
    return true;
}

} // namespace basalt::xenstore
