#pragma once
// DirtyBitmap: the host-side accumulated dirty log of one region, one bit per
// page (bit i of word i / 64 = page i, the hypervisor's format).
//
// Why accumulate: the hypervisor's log can only be fetched-and-cleared per
// memslot, but callers (the dirty-log test device, migration) ask about page
// windows. Every fetch ORs the hypervisor's log in here, and a window query
// takes-and-clears only the window's bits, so pages outside the window stay
// dirty for a later query. Host writes to guest memory (which the hypervisor
// does not see) mark bits here directly.
//
// Concurrency: merge/mark/take use atomic word operations, so several threads
// may call them at once (PhysMap holds its lock shared); reset needs exclusive
// access.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace basalt::npt {

class DirtyBitmap {
public:
    static constexpr unsigned kBitsPerWord = 64;

    static size_t wordsFor(uint64_t pages) { return (pages + kBitsPerWord - 1) / kBitsPerWord; }

    // Sizes the bitmap for `pages` pages, all clean; 0 frees it.
    void reset(uint64_t pages);

    uint64_t pages() const { return pages_; }
    size_t words() const { return words_.size(); }

    // ORs a hypervisor bitmap in; words or bits beyond pages() are ignored.
    void merge(std::span<const uint64_t> bitmap);
    // Marks pages [first, first + count); the range must be within pages().
    void markRange(uint64_t first, uint64_t count);

    // Returns the whole bitmap (words() words) and clears it.
    std::vector<uint64_t> takeAll();
    // Clears pages [first, first + count) (within pages()) and appends
    // `pfnBase + page` for each of them that was dirty to `pfns`, in order.
    void takeRange(uint64_t first, uint64_t count, uint64_t pfnBase, std::vector<uint64_t>& pfns);

private:
    // Mask of the bits of word `word` that lie in [first, end).
    static uint64_t wordMask(size_t word, uint64_t first, uint64_t end);
    uint64_t lastWordMask() const;

    uint64_t pages_ = 0;
    std::vector<uint64_t> words_;
};

} // namespace basalt::npt
