#pragma once
// A complete, overflow-safe check of an untrusted FDT's header and structure
// block, run before any libfdt call. libfdt 1.6.1 (Debian 12) trusts property
// lengths in fdt_next_tag(): a length of 0xFFFFFFF4 makes the walk stand still
// and fdt_check_full() loop forever (fixed upstream in 1.7.0, commit 7359034).
// After this check every libfdt walk only moves forward inside the blob.

#include "base/result.h"

#include <cstdint>
#include <span>

namespace basalt {

// `fdt` is exactly the blob (its header's totalsize bytes). Accepts version 17
// blobs whose blocks are aligned and in bounds, whose tags are well formed, with
// one root node named "", properties only inside nodes, property names inside
// the strings block, and nodes nested at most `maxDepth` below the root.
Status checkFdtStructure(std::span<const uint8_t> fdt, int maxDepth);

} // namespace basalt
