#pragma once
// Fixed guest-physical addresses of the boot contract (test/guests/README.md).
// The kernel loader checks images against them; the vCPU setup writes the GDT
// and page tables at these addresses. Keep both sides on these constants.

#include <cstdint>

namespace basalt::boot {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;
constexpr uint64_t kTiB = 1024 * kGiB;

// Real mode reaches only the first MiB (segment:offset addressing).
constexpr uint64_t kRealModeLimit = 1 * kMiB;

// Legacy VGA window: not RAM, as under Xen.
constexpr uint64_t kVgaHoleStart = 0xA0000;
constexpr uint64_t kVgaHoleEnd = 0xC0000; // exclusive

// Default load addresses of flat binaries.
constexpr uint64_t kRealModeLoadAddress = 0x7C00;    // where a BIOS puts a boot sector
constexpr uint64_t kProtectedLoadAddress = 0x100000; // 1 MiB, like multiboot kernels

// GDT written by the VMM for protected and long mode (GDTR limit 0x1F).
constexpr uint64_t kGdtAddress = 0x500;
constexpr uint64_t kGdtLimit = 0x1F;
constexpr uint64_t kGdtEnd = kGdtAddress + kGdtLimit + 1; // exclusive

// Long mode identity map of 0-4 GiB: PML4, PDPT, four page directories.
constexpr uint64_t kPml4Address = 0x1000;
constexpr uint64_t kPdptAddress = 0x2000;
constexpr uint64_t kPageDirectoryAddress = 0x3000;
constexpr uint64_t kPageDirectoryCount = 4;
constexpr uint64_t kPageTablesEnd = 0x7000; // exclusive

// Initial stack pointers.
constexpr uint64_t kRealModeStack = 0x7000;
constexpr uint64_t kProtectedStack = 0x80000;

// Debug console port (Bochs/Xen style 0xE9 hack).
constexpr uint16_t kConsolePort = 0xE9;

// Default start of the MMIO hole below 4 GiB (Xen's HVM default).
constexpr uint64_t kDefaultMmioHoleStart = 0xF0000000;

} // namespace basalt::boot
