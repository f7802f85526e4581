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
// acknowledged and is discarded. A record that fails to append is cut off
// again (the server rolls the change back and answers EIO).
//
// FILE.domains holds the introduced domains and their rings' watches
// (ChangeSink::saveDomains), replaced atomically whenever they change.

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
    // FILE.domains, replaced atomically (tmp, fsync, rename, fsync dir).
    bool saveDomains(const std::vector<SavedDomain>& domains) override;
    // What FILE.domains held when opened.
    const std::vector<SavedDomain>& savedDomains() const { return savedDomains_; }
    // Writes a snapshot and empties the journal.
    Status compact();

private:
    Persistence(std::string file, Tree& tree) : file_(std::move(file)), tree_(tree) {}
    Status load();
    Status loadDomains();
    Status openJournal();
    static Status replaceFile(const std::string& path, const std::string& data);

    std::string file_;
    Tree& tree_;
    UniqueFd journal_;
    size_t journalSize_ = 0;
    // A refused record could not be cut off the journal: every later commit
    // fails rather than acknowledge writes behind a record nobody acknowledged.
    bool broken_ = false;
    std::vector<SavedDomain> savedDomains_;
};

// Encoding, exposed for tests and the fuzzer.
std::string encodeOps(const std::vector<StoreOp>& ops);
bool decodeOps(std::string_view data, std::vector<StoreOp>* ops);
std::string encodeDomains(const std::vector<SavedDomain>& domains);
bool decodeDomains(std::string_view data, std::vector<SavedDomain>* domains);

} // namespace basalt::xenstore
