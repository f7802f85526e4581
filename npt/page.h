#pragma once
// Page arithmetic for guest-physical memory: x86 guests (and KVM memslots and
// dirty logs) work in 4 KiB pages.

#include <cstdint>

namespace basalt::npt {

inline constexpr unsigned kPageShift = 12;
inline constexpr uint64_t kPageSize = uint64_t{1} << kPageShift;
inline constexpr uint64_t kPageMask = kPageSize - 1;

constexpr bool isPageAligned(uint64_t value) {
    return (value & kPageMask) == 0;
}

// The caller guarantees value <= UINT64_MAX - kPageMask.
constexpr uint64_t pageAlignUp(uint64_t value) {
    return (value + kPageMask) & ~kPageMask;
}

constexpr uint64_t bytesToPages(uint64_t bytes) {
    return bytes >> kPageShift;
}

} // namespace basalt::npt
