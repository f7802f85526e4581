#pragma once
// The host ("dom0") side of the guest's grant table: what backends and the
// device model use to reach pages the guest granted to domid 0.
//
// It follows Xen's grant_table.c v1 protocol exactly, so a guest can end
// foreign access safely. The entry's flags word is shared with the guest and
// changed only by atomic compare-exchange (host) or the guest's own locked
// instructions. Worked example, ref 8 granting gfn 0x1234 read-write:
//   guest:  entry[8] = {frame 0x1234, domid 0}; then flags = GTF_permit_access
//   host:   map(8, rw)   -> cmpxchg flags |= GTF_reading|GTF_writing (fails
//                           unless permit_access, domid 0, not GTF_readonly)
//   guest:  end access   -> cmpxchg flags 0 only if !(GTF_reading|GTF_writing):
//                           fails while mapped, so the page stays granted
//   host:   unmap(h)     -> last writer clears GTF_writing, last pin GTF_reading
//   guest:  end access   -> succeeds; a later map(8) fails (GNTST_general_error)
// The first pin latches the frame; later pins of the same ref share it.
// Results are GNTST_* codes (xen/grant_table.h): GNTST_bad_gntref past the
// table, GNTST_general_error for bad flags/domid/a read-only entry or an
// entry the guest keeps changing, GNTST_bad_page when the frame is not RAM,
// GNTST_bad_handle for an unknown handle, GNTST_bad_copy_arg for an offset
// and length that leave the page.
//
// Host pointers stay valid while mapped: guest RAM is never unmapped from
// the host under a live PhysMap. Writes through them are not dirty-logged.

#include "vmm/xen/grant_table.h"

#include <cstdint>
#include <span>
#include <unordered_map>

namespace basalt::npt {
class PhysMap;
}

namespace basalt::xen {

inline constexpr domid_t kHostDomid = 0; // whom Basalt's backends are

struct GrantMapping {
    uint32_t handle = 0;
    uint32_t ref = 0;
    bool readOnly = true;
    uint8_t* page = nullptr; // the granted 4 KiB page
};

class GrantHost {
public:
    GrantHost(GrantTable& table, npt::PhysMap& physMap) : table_(table), physMap_(physMap) {}

    int16_t map(grant_ref_t ref, bool readOnly, GrantMapping& out);
    int16_t unmap(uint32_t handle);
    // Copies between the granted page at `offset` and host memory; the grant
    // is pinned only for the copy (as GNTTABOP_copy does).
    int16_t copyFromGrant(grant_ref_t ref, uint32_t offset, std::span<uint8_t> out);
    int16_t copyToGrant(grant_ref_t ref, uint32_t offset, std::span<const uint8_t> in);

    size_t mappings() const;

private:
    // Pins `ref` for reading or writing; table lock held.
    int16_t pinLocked(grant_ref_t ref, bool readOnly, bool forMapping, uint8_t*& page);
    void unpinLocked(grant_ref_t ref, bool readOnly);
    // Xen's _set_status_v1: the cmpxchg loop on the entry's flags.
    int16_t setStatusLocked(grant_ref_t ref, bool readOnly, bool forMapping);

    GrantTable& table_;
    npt::PhysMap& physMap_;
    struct Handle {
        uint32_t ref;
        bool readOnly;
    };
    std::unordered_map<uint32_t, Handle> handles_; // under table_.lock()
    uint32_t nextHandle_ = 1;
};

} // namespace basalt::xen
