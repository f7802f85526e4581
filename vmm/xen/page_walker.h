#pragma once
// Translates a guest linear address to a guest-physical one by walking the
// guest's own page tables, as Xen does for HVM hypercall arguments (they are
// guest-virtual pointers). Handles paging off, 32-bit (with PSE), PAE and
// 4-level paging. Page-table entries are read through GuestMemory, so a guest
// that points CR3 or an entry outside RAM gets EFAULT, never a host fault.

#include "base/result.h"

#include <cstdint>

namespace basalt::npt {
class GuestMemory;
}

namespace basalt::xen {

struct PagingState {
    uint64_t cr0 = 0, cr3 = 0, cr4 = 0, efer = 0;
};

enum class AccessKind { Read, Write };

// Returns the guest-physical address of `linear`, or EFAULT if it is not
// mapped (or not writable, for a write with CR0.WP set).
Result<uint64_t> translateLinear(const npt::GuestMemory& memory, const PagingState& paging,
                                 uint64_t linear, AccessKind access);

} // namespace basalt::xen
