#pragma once
// The committed tree and the NodeStore interface that request handlers use.
// Handlers never know whether they work on the tree itself or on a
// transaction's private view of it (transaction.h).

#include "toolstack/xenstored/node.h"

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace basalt::xenstore {

class NodeStore {
public:
    virtual ~NodeStore() = default;
    virtual const Node* find(const std::string& path) = 0;
    // Stores one node (not its subtree); the generation is assigned here.
    virtual void put(const std::string& path, Node node) = 0;
    // Forgets one node; callers remove children first and fix the parent.
    virtual void erase(const std::string& path) = 0;
    virtual size_t nodesOwnedBy(DomId domid) = 0;
};

// One committed change, as journaled for persistence.
struct StoreOp {
    enum class Kind : uint8_t { Put = 1, Erase = 2 };
    Kind kind = Kind::Put;
    std::string path;
    Node node;
};

class Tree : public NodeStore {
public:
    // A tree holding "/" (owner dom0, no access for others).
    Tree();

    const Node* find(const std::string& path) override;
    void put(const std::string& path, Node node) override;
    void erase(const std::string& path) override;
    size_t nodesOwnedBy(DomId domid) override;

    uint64_t generation() const { return generation_; }
    // A new generation number, for transactions started now.
    uint64_t nextGeneration() { return ++generation_; }
    size_t size() const { return nodes_.size(); }
    const std::unordered_map<std::string, Node>& nodes() const { return nodes_; }

    // Changes since the last call, in order, for the journal. While
    // recording, each change also keeps what it replaced, so a batch the
    // journal refused can be undone: rollback() restores the tree as it was
    // before the first change since the last takeChanges() (contents,
    // generations and ownership counts); keep() forgets the undo log.
    std::vector<StoreOp> takeChanges();
    void rollback();
    void keep() { undo_.clear(); }
    void setRecording(bool on) { recording_ = on; }
    // Replays a journaled change (no recording).
    void apply(const StoreOp& op);
    // Drops everything (including "/") before loading a snapshot.
    void clear();

    // Xen's "check": every child listed exists, every node but "/" is listed by its parent.
    bool checkConsistency(std::string* problem) const;

private:
    void account(const Node* old, const Node* now);

    std::unordered_map<std::string, Node> nodes_;
    std::map<DomId, size_t> owned_;
    uint64_t generation_ = 0;
    bool recording_ = false;
    std::vector<StoreOp> changes_;
    // (path, node before the change or nullopt if it did not exist)
    std::vector<std::pair<std::string, std::optional<Node>>> undo_;
};

} // namespace basalt::xenstore
