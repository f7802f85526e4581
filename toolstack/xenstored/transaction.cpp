#include "toolstack/xenstored/transaction.h"

#include <cerrno>

namespace basalt::xenstore {

Transaction::Transaction(Tree& tree, uint32_t id)
    : tree_(tree), id_(id), generationAtStart_(tree.nextGeneration()) {}

void Transaction::remember(const std::string& path) {
    if (accessed_.count(path))
        return;
    const Node* n = tree_.find(path);
    accessed_.emplace(path, n ? n->generation : 0);
}

const Node* Transaction::find(const std::string& path) {
    auto it = overlay_.find(path);
    if (it != overlay_.end())
        return it->second ? &*it->second : nullptr;
    remember(path);
    return tree_.find(path);
}

void Transaction::countOwner(const Node* old, const Node* now) {
    if (old)
        ownedDelta_[ownerOf(old->perms)]--;
    if (now)
        ownedDelta_[ownerOf(now->perms)]++;
}

void Transaction::put(const std::string& path, Node node) {
    const Node* old = find(path);
    countOwner(old, &node);
    // The generation a node will get is unknown before commit; readers inside
    // the transaction see the transaction's own.
    node.generation = generationAtStart_;
    overlay_[path] = std::move(node);
}

void Transaction::erase(const std::string& path) {
    const Node* old = find(path);
    countOwner(old, nullptr);
    overlay_[path] = std::nullopt;
}

size_t Transaction::nodesOwnedBy(DomId domid) {
    long n = static_cast<long>(tree_.nodesOwnedBy(domid));
    auto it = ownedDelta_.find(domid);
    if (it != ownedDelta_.end())
        n += it->second;
    return n < 0 ? 0 : static_cast<size_t>(n);
}

int Transaction::commit() {
    for (const auto& [path, generation] : accessed_) {
        const Node* n = tree_.find(path);
        if ((n ? n->generation : 0) != generation)
            return EAGAIN;
    }
    // std::map order puts every parent before its children.
    for (auto& [path, node] : overlay_) {
        if (node)
            tree_.put(path, std::move(*node));
        else
            tree_.erase(path);
    }
    overlay_.clear();
    return 0;
}

} // namespace basalt::xenstore
