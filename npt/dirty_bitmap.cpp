#include "npt/dirty_bitmap.h"

#include <algorithm>
#include <atomic>
#include <bit>

namespace basalt::npt {
namespace {

using AtomicWord = std::atomic_ref<uint64_t>;
static_assert(AtomicWord::is_always_lock_free, "dirty bitmap words must be lock-free atomics");

constexpr uint64_t kAllBits = ~uint64_t{0};

} // namespace

void DirtyBitmap::reset(uint64_t pages) {
    pages_ = pages;
    words_.assign(wordsFor(pages), 0);
}

uint64_t DirtyBitmap::wordMask(size_t word, uint64_t first, uint64_t end) {
    uint64_t wordStart = static_cast<uint64_t>(word) * kBitsPerWord;
    uint64_t lo = std::max(first, wordStart) - wordStart;
    uint64_t hi = std::min(end, wordStart + kBitsPerWord) - wordStart;
    uint64_t upto = hi == kBitsPerWord ? kAllBits : (uint64_t{1} << hi) - 1;
    return upto & ~((uint64_t{1} << lo) - 1);
}

uint64_t DirtyBitmap::lastWordMask() const {
    return words_.empty() ? 0 : wordMask(words_.size() - 1, 0, pages_);
}

void DirtyBitmap::merge(std::span<const uint64_t> bitmap) {
    size_t n = std::min(bitmap.size(), words_.size());
    for (size_t i = 0; i < n; ++i) {
        uint64_t bits = bitmap[i];
        if (i + 1 == words_.size())
            bits &= lastWordMask();
        if (bits)
            AtomicWord(words_[i]).fetch_or(bits, std::memory_order_relaxed);
    }
}

void DirtyBitmap::markRange(uint64_t first, uint64_t count) {
    if (count == 0)
        return;
    uint64_t end = first + count;
    for (size_t w = first / kBitsPerWord; w <= (end - 1) / kBitsPerWord; ++w)
        AtomicWord(words_[w]).fetch_or(wordMask(w, first, end), std::memory_order_relaxed);
}

std::vector<uint64_t> DirtyBitmap::takeAll() {
    std::vector<uint64_t> out(words_.size());
    for (size_t i = 0; i < words_.size(); ++i)
        out[i] = AtomicWord(words_[i]).exchange(0, std::memory_order_relaxed);
    return out;
}

void DirtyBitmap::takeRange(uint64_t first, uint64_t count, uint64_t pfnBase,
                            std::vector<uint64_t>& pfns) {
    if (count == 0)
        return;
    uint64_t end = first + count;
    for (size_t w = first / kBitsPerWord; w <= (end - 1) / kBitsPerWord; ++w) {
        uint64_t mask = wordMask(w, first, end);
        uint64_t bits = AtomicWord(words_[w]).fetch_and(~mask, std::memory_order_relaxed) & mask;
        while (bits) {
            unsigned bit = static_cast<unsigned>(std::countr_zero(bits));
            pfns.push_back(pfnBase + w * kBitsPerWord + bit);
            bits &= bits - 1;
        }
    }
}

} // namespace basalt::npt
