#pragma once
// GuestMemory: bounds-checked access to guest memory by guest-physical address.
// Every guest-controlled access in the project goes through it (DESIGN.md
// decision 7): callers get copies, never pointers into guest memory, so a
// guest cannot change data after it was validated ("copy, then validate").
//
// An access may span several regions only where they are contiguous in
// guest-physical space. A whole access is checked before any byte moves:
//   - a byte outside RAM/ROM, or gpa + len wrapping  -> EFAULT
//   - a guest write (write/copy/fill) touching ROM   -> EACCES
//   - len 0                                          -> ok, nothing happens
// loadImage is the host-trusted exception that may write ROM.
// Writes mark pages in the dirty log of regions that have it on: the
// hypervisor only logs writes made by the guest itself.
//
// Thread safe: accesses hold the PhysMap's lock shared.

#include "base/result.h"
#include "npt/phys_map.h"

#include <array>
#include <bit>
#include <cstdint>
#include <span>
#include <type_traits>

namespace basalt::npt {

class GuestMemory {
public:
    explicit GuestMemory(PhysMap& map) : map_(map) {}

    Status read(uint64_t gpa, std::span<uint8_t> out) const;
    Status write(uint64_t gpa, std::span<const uint8_t> in);
    // memmove semantics: the ranges may overlap.
    Status copy(uint64_t dstGpa, uint64_t srcGpa, uint64_t len);
    Status fill(uint64_t gpa, uint8_t byte, uint64_t len);
    // Host-trusted loading (domain builder): may write RAM and ROM.
    Status loadImage(uint64_t gpa, std::span<const uint8_t> image);

    template <typename T> Result<T> readObject(uint64_t gpa) const {
        static_assert(std::is_trivially_copyable_v<T>, "guest objects are copied bytewise");
        std::array<uint8_t, sizeof(T)> bytes;
        BASALT_TRY(read(gpa, bytes));
        return std::bit_cast<T>(bytes);
    }

    template <typename T> Status writeObject(uint64_t gpa, const T& value) {
        static_assert(std::is_trivially_copyable_v<T>, "guest objects are copied bytewise");
        auto bytes = std::bit_cast<std::array<uint8_t, sizeof(T)>>(value);
        return write(gpa, bytes);
    }

private:
    enum class Access { GuestRead, GuestWrite, HostWrite };

    // Checks all of [gpa, gpa + len) for `access`; PhysMap lock held.
    Status checkLocked(uint64_t gpa, uint64_t len, Access access) const;
    // Calls fn(region, offsetInRegion, offsetInAccess, chunkLen) for each piece
    // of a checked range, in order; PhysMap lock held.
    template <typename Fn> void forEachChunkLocked(uint64_t gpa, uint64_t len, Fn&& fn) const;
    Status writeBytes(uint64_t gpa, std::span<const uint8_t> in, Access access);

    PhysMap& map_;
};

} // namespace basalt::npt
