#pragma once
// The domain's grant table, version 1 (xen/grant_table.h): frames of
// grant_entry_v1_t the guest fills in to let another domain (for Basalt: the
// host, domid 0 - backends, the device model) reach its pages.
//
// The frames are hypervisor pages (HostPages). The table starts with one
// frame and grows up to maxFrames() when the guest asks (setup_table, or
// add_to_physmap of a frame past the end, as Xen's gnttab_grow_table). The
// guest maps frame i at a gpfn of its choosing with XENMEM_add_to_physmap
// (XENMAPSPACE_grant_table, idx i); setup_table reports those gpfns.
//
// The host side's use of entries is in grant_host.h; both share the lock
// and the per-entry pin counts kept here.

#include "base/result.h"
#include "vmm/xen/host_pages.h"
#include "vmm/xen/xen_headers.h"

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace basalt::xen {

class GrantTable {
public:
    static constexpr uint32_t kEntriesPerFrame = 4096 / sizeof(grant_entry_v1_t);
    static constexpr uint32_t kInitialFrames = 1;
    static constexpr uint64_t kNoGfn = ~0ull; // frame not mapped in the guest

    static Result<std::unique_ptr<GrantTable>> create(uint32_t maxFrames);

    uint32_t maxFrames() const { return maxFrames_; }
    uint32_t nrFrames() const;
    uint32_t nrEntries() const { return nrFrames() * kEntriesPerFrame; }
    // The same with lock() held.
    uint32_t nrEntriesLocked() const { return nrFrames_ * kEntriesPerFrame; }
    uint32_t version() const { return 1; }

    // Grows the table to `frames` (never shrinks); false if over maxFrames().
    bool grow(uint32_t frames);
    // Frame `index` as an overlay source, growing the table to reach it as
    // Xen's gnttab_map_frame does; EINVAL past maxFrames().
    Result<npt::PageSource> frameForMapping(uint32_t index);
    // Where the guest mapped frame `index` (kNoGfn if nowhere).
    uint64_t frameGfn(uint32_t index) const;
    void setFrameGfn(uint32_t index, uint64_t gfn);

    // Host pointer to entry `ref` (< nrEntries(), checked by the caller
    // under lock()).
    grant_entry_v1_t* entry(uint32_t ref) const;

    // Host-side bookkeeping of one entry (Xen's active_grant_entry).
    struct Active {
        uint32_t readers = 0; // read-only pins (maps and copies)
        uint32_t writers = 0; // writable pins
        uint64_t gfn = 0;     // latched at the first pin
        uint8_t* page = nullptr;
        uint32_t pins() const { return readers + writers; }
    };
    // Lock for entries' active state; GrantHost takes it.
    std::mutex& lock() const { return mutex_; }
    Active& active(uint32_t ref) { return active_[ref]; }

private:
    GrantTable(uint32_t maxFrames, HostPages pages);

    const uint32_t maxFrames_;
    HostPages pages_;
    mutable std::mutex mutex_;
    uint32_t nrFrames_ = kInitialFrames;
    std::vector<uint64_t> frameGfn_;
    std::vector<Active> active_; // sized for maxFrames()
};

} // namespace basalt::xen
