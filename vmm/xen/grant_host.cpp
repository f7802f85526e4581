#include "vmm/xen/grant_host.h"

#include "npt/phys_map.h"

#include <atomic>
#include <cstring>

namespace basalt::xen {

namespace {

constexpr int kMaxCmpxchgRetries = 4; // a guest rewriting flags faster than us is failed
constexpr uint64_t kPageSize = 4096;
constexpr size_t kMaxHandles = size_t{1} << 20;

// flags (low 16 bits) and domid (high 16 bits) of a v1 entry, as one word.
std::atomic_ref<uint32_t> comboOf(grant_entry_v1_t* entry) {
    static_assert(offsetof(grant_entry_v1_t, flags) == 0 && offsetof(grant_entry_v1_t, domid) == 2);
    return std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(entry));
}

void clearFlags(grant_entry_v1_t* entry, uint16_t flags) {
    std::atomic_ref<uint16_t>(entry->flags).fetch_and(static_cast<uint16_t>(~flags));
}

} // namespace

int16_t GrantHost::setStatusLocked(grant_ref_t ref, bool readOnly, bool forMapping) {
    grant_entry_v1_t* entry = table_.entry(ref);
    GrantTable::Active& act = table_.active(ref);
    uint16_t typeMask = GTF_type_mask | (forMapping ? GTF_sub_page : 0);
    auto combo = comboOf(entry);
    uint32_t seen = combo.load();
    for (int retries = 0;; ++retries) {
        uint16_t flags = static_cast<uint16_t>(seen);
        domid_t domid = static_cast<domid_t>(seen >> 16);
        if (act.pins() == 0 && ((flags & typeMask) != GTF_permit_access || domid != kHostDomid))
            return GNTST_general_error;
        uint32_t wanted = seen | GTF_reading;
        if (!readOnly) {
            if (flags & GTF_readonly)
                return GNTST_general_error;
            wanted |= GTF_writing;
        }
        if (combo.compare_exchange_strong(seen, wanted))
            return GNTST_okay;
        if (retries == kMaxCmpxchgRetries)
            return GNTST_general_error; // the entry is unstable
    }
}

int16_t GrantHost::pinLocked(grant_ref_t ref, bool readOnly, bool forMapping, uint8_t*& page) {
    if (ref >= table_.nrEntriesLocked())
        return GNTST_bad_gntref;
    GrantTable::Active& act = table_.active(ref);
    if (act.pins() == 0 || (!readOnly && act.writers == 0)) {
        int16_t rc = setStatusLocked(ref, readOnly, forMapping);
        if (rc != GNTST_okay)
            return rc;
    }
    if (act.pins() == 0) {
        uint32_t frame = std::atomic_ref<uint32_t>(table_.entry(ref)->frame).load();
        auto host = physMap_.ramPagePointer(static_cast<uint64_t>(frame) * kPageSize);
        if (!host) {
            // Undo as Xen's map_grant_ref does.
            clearFlags(table_.entry(ref), readOnly ? GTF_reading : (GTF_reading | GTF_writing));
            return GNTST_bad_page;
        }
        act.gfn = frame;
        act.page = *host;
    }
    if (readOnly)
        ++act.readers;
    else
        ++act.writers;
    page = act.page;
    return GNTST_okay;
}

void GrantHost::unpinLocked(grant_ref_t ref, bool readOnly) {
    GrantTable::Active& act = table_.active(ref);
    if (readOnly)
        --act.readers;
    else
        --act.writers;
    grant_entry_v1_t* entry = table_.entry(ref);
    if (!readOnly && act.writers == 0)
        clearFlags(entry, GTF_writing);
    if (act.pins() == 0) {
        clearFlags(entry, GTF_reading);
        act.page = nullptr;
    }
}

int16_t GrantHost::map(grant_ref_t ref, bool readOnly, GrantMapping& out) {
    std::lock_guard lock(table_.lock());
    if (handles_.size() >= kMaxHandles)
        return GNTST_no_device_space;
    uint8_t* page = nullptr;
    int16_t rc = pinLocked(ref, readOnly, true, page);
    if (rc != GNTST_okay)
        return rc;
    uint32_t handle = nextHandle_++;
    if (handle == 0)
        handle = nextHandle_++;
    handles_[handle] = {ref, readOnly};
    out = GrantMapping{handle, ref, readOnly, page};
    return GNTST_okay;
}

int16_t GrantHost::unmap(uint32_t handle) {
    std::lock_guard lock(table_.lock());
    auto it = handles_.find(handle);
    if (it == handles_.end())
        return GNTST_bad_handle;
    unpinLocked(it->second.ref, it->second.readOnly);
    handles_.erase(it);
    return GNTST_okay;
}

int16_t GrantHost::copyFromGrant(grant_ref_t ref, uint32_t offset, std::span<uint8_t> out) {
    if (offset > kPageSize || out.size() > kPageSize - offset)
        return GNTST_bad_copy_arg;
    uint8_t* page = nullptr;
    {
        std::lock_guard lock(table_.lock());
        if (int16_t rc = pinLocked(ref, true, false, page); rc != GNTST_okay)
            return rc;
    }
    std::memcpy(out.data(), page + offset, out.size());
    std::lock_guard lock(table_.lock());
    unpinLocked(ref, true);
    return GNTST_okay;
}

int16_t GrantHost::copyToGrant(grant_ref_t ref, uint32_t offset, std::span<const uint8_t> in) {
    if (offset > kPageSize || in.size() > kPageSize - offset)
        return GNTST_bad_copy_arg;
    uint8_t* page = nullptr;
    {
        std::lock_guard lock(table_.lock());
        if (int16_t rc = pinLocked(ref, false, false, page); rc != GNTST_okay)
            return rc;
    }
    std::memcpy(page + offset, in.data(), in.size());
    std::lock_guard lock(table_.lock());
    unpinLocked(ref, false);
    return GNTST_okay;
}

size_t GrantHost::mappings() const {
    std::lock_guard lock(table_.lock());
    return handles_.size();
}

} // namespace basalt::xen
