#pragma once
// Hypervisor-owned pages a guest can map (shared_info, grant-table frames):
// one memfd of whole pages, mapped once in the host for the object's
// lifetime. PhysMap maps them into the guest as overlays (npt::PageSource).

#include "base/mapped_region.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "npt/phys_map.h"

#include <cstdint>

namespace basalt::xen {

class HostPages {
public:
    static Result<HostPages> create(const char* name, uint64_t pages);

    uint64_t count() const { return pages_; }
    uint8_t* data() const { return mapping_.data(); }
    // Page `index` (< count()) as an overlay source.
    npt::PageSource page(uint64_t index) const;

private:
    UniqueFd fd_;
    MappedRegion mapping_;
    uint64_t pages_ = 0;
};

} // namespace basalt::xen
