#pragma once
// x86 architectural bits the core needs in more than one place (boot state,
// the guest page-table walker, hypercall mode detection). Intel SDM vol. 3.

#include <cstdint>

namespace basalt::x86 {

inline constexpr uint64_t kCr0Pe = 1ull << 0;  // protected mode
inline constexpr uint64_t kCr0Et = 1ull << 4;  // extension type (always 1)
inline constexpr uint64_t kCr0Wp = 1ull << 16; // supervisor writes honour R/W
inline constexpr uint64_t kCr0Pg = 1ull << 31; // paging

inline constexpr uint64_t kCr4Pse = 1ull << 4;   // 4 MiB pages in 32-bit paging
inline constexpr uint64_t kCr4Pae = 1ull << 5;   // PAE / long-mode paging
inline constexpr uint64_t kCr4La57 = 1ull << 12; // 5-level paging

inline constexpr uint64_t kEferLme = 1ull << 8;  // long mode enable
inline constexpr uint64_t kEferLma = 1ull << 10; // long mode active

inline constexpr uint64_t kPtePresent = 1ull << 0;
inline constexpr uint64_t kPteWritable = 1ull << 1;
inline constexpr uint64_t kPteLargePage = 1ull << 7; // PS: a large page, not a table

} // namespace basalt::x86
