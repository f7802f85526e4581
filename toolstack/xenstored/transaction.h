#pragma once
// Transactions with generation counts.
//
// A transaction is a private overlay over the committed tree. The first time
// it touches a path (read, write or delete, existing or not) it remembers the
// generation the tree had for that path (0 = absent). Changes go to the
// overlay only, so nothing is visible to anyone else before commit. At
// commit, every remembered path must still have the same generation; if any
// changed, the commit fails with EAGAIN and the overlay is thrown away, so a
// transaction is applied entirely or not at all.
//
// Worked example: /counter = "4" at generation 17.
//   A: TRANSACTION_START -> 1      B: TRANSACTION_START -> 1 (ids are per connection)
//   A: READ /counter -> "4"  (A remembers 17)
//   B: READ /counter -> "4"  (B remembers 17)
//   A: WRITE /counter 5      (overlay only)
//   B: WRITE /counter 5      (overlay only)
//   A: TRANSACTION_END T -> OK     (17 == 17; tree: /counter = 5, generation 30)
//   B: TRANSACTION_END T -> EAGAIN (30 != 17); B retries, reads 5, writes 6.
// No increment is lost.
//
// Watch events caused inside a transaction are queued and fired at commit.

#include "toolstack/xenstored/store.h"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace basalt::xenstore {

// A change that watches may report: `exact` events match only watches on the
// path itself (children removed with their parent); others also match
// watches on every ancestor.
struct WatchEventSpec {
    std::string path;
    bool exact = false;
    std::optional<Perms> oldPerms; // perms before a SET_PERMS/RM, for permission checks
};

class Transaction : public NodeStore {
public:
    Transaction(Tree& tree, uint32_t id);

    uint32_t id() const { return id_; }
    const Node* find(const std::string& path) override;
    void put(const std::string& path, Node node) override;
    void erase(const std::string& path) override;
    size_t nodesOwnedBy(DomId domid) override;

    void queueEvent(WatchEventSpec event) { events_.push_back(std::move(event)); }

    // Returns 0 and applies the overlay, or EAGAIN and applies nothing.
    int commit();
    std::vector<WatchEventSpec> takeEvents() { return std::exchange(events_, {}); }
    bool hasChanges() const { return !overlay_.empty(); }

private:
    void remember(const std::string& path);
    void countOwner(const Node* old, const Node* now);

    Tree& tree_;
    uint32_t id_;
    uint64_t generationAtStart_;
    std::map<std::string, uint64_t> accessed_;           // path -> generation seen (0 = absent)
    std::map<std::string, std::optional<Node>> overlay_; // nullopt = deleted
    std::map<DomId, long> ownedDelta_;
    std::vector<WatchEventSpec> events_;
};

} // namespace basalt::xenstore
