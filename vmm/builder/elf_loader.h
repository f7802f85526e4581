#pragma once
// ELF32/ELF64 executables -> KernelImage segments (used by kernel_image.cpp).

#include "base/result.h"
#include "vmm/builder/kernel_image.h"

#include <span>

namespace basalt {

// True if the file starts with the ELF magic; it is then parsed as ELF or
// rejected, never loaded as a flat binary.
bool hasElfMagic(std::span<const uint8_t> file);

// Parses an x86 ELF executable for `mode` (ELFCLASS64 for long mode, ELFCLASS32
// otherwise). Checks structure and offsets; the caller checks mode limits.
Result<KernelImage> parseElfImage(std::span<const uint8_t> file, EntryMode mode);

} // namespace basalt
