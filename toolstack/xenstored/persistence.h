#pragma once
// Durable store for --persist FILE.
//
// FILE holds an atomic snapshot of the whole tree; FILE.journal holds every
// change committed since. A request's changes are appended to the journal
// as one checksummed record and fdatasync'ed before its reply is sent, so an
// acknowledged write survives kill -9. When the journal grows past a limit it
// is compacted: the tree is written to FILE.tmp, fsynced, renamed over FILE,
// the directory fsynced, and only then is the journal truncated. Replaying a
// journal over a snapshot that already contains it gives the same tree (each
// record states a node's full content), so a crash between rename and
// truncate loses nothing. A torn last record (crash mid-append) was never
// acknowledged and is discarded.

#include "base/result.h"
#include "base/unique_fd.h"
#include "toolstack/xenstored/server.h"

#include <memory>
#include <string>

namespace basalt::xenstore {

constexpr size_t kJournalCompactBytes = 4 * 1024 * 1024;

class Persistence : public ChangeSink {
public:
    // Loads FILE and FILE.journal (if present) into `tree` and opens the journal.
    static Result<std::unique_ptr<Persistence>> open(const std::string& file, Tree& tree);

    bool commit(const std::vector<StoreOp>& changes) override;
    // Writes a snapshot and empties the journal.
    Status compact();

private:
    Persistence(std::string file, Tree& tree) : file_(std::move(file)), tree_(tree) {}
    Status load();
    Status openJournal();

    std::string file_;
    Tree& tree_;
    UniqueFd journal_;
    size_t journalSize_ = 0;
};

// Encoding, exposed for tests and the fuzzer.
std::string encodeOps(const std::vector<StoreOp>& ops);
bool decodeOps(std::string_view data, std::vector<StoreOp>* ops);

} // namespace basalt::xenstore
