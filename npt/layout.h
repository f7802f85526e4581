#pragma once
// The guest-physical layout of a Basalt guest. It is the one Xen's HVM domain
// builder makes, because hvmloader, SeaBIOS and guests installed under Xen
// expect it: RAM from 0 up to the MMIO hole (minus the legacy VGA hole), the
// rest of RAM from 4 GiB up.

#include <cstdint>

namespace basalt::npt {

// Legacy VGA window: the device model's VGA memory, never RAM.
inline constexpr uint64_t kVgaHoleStart = 0xA0000;
inline constexpr uint64_t kVgaHoleEnd = 0xC0000;

// Where the MMIO hole starts unless the domain asks for another size; Xen's
// default (HVM_BELOW_4G_MMIO_START).
inline constexpr uint64_t kDefaultMmioHoleStart = 0xF0000000;
// RAM that does not fit below the hole continues here.
inline constexpr uint64_t kHighRamBase = uint64_t{1} << 32;

// Below 1 MiB there is no room for firmware; the hole must leave it too.
inline constexpr uint64_t kMinRamBytes = uint64_t{1} << 20;
inline constexpr uint64_t kMinMmioHoleStart = uint64_t{1} << 20;
// A sanity bound on configuration errors, not a hardware limit.
inline constexpr uint64_t kMaxRamBytes = uint64_t{1} << 40;

// Architectural x86 MAXPHYADDR limit: nothing can be mapped at or above it.
inline constexpr uint64_t kGuestPhysLimit = uint64_t{1} << 52;

} // namespace basalt::npt
