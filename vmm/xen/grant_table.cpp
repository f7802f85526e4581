#include "vmm/xen/grant_table.h"

#include "base/format.h"

namespace basalt::xen {

static_assert(sizeof(grant_entry_v1_t) == 8);

GrantTable::GrantTable(uint32_t maxFrames, HostPages pages)
    : maxFrames_(maxFrames), pages_(std::move(pages)), frameGfn_(maxFrames, kNoGfn),
      active_(static_cast<size_t>(maxFrames) * kEntriesPerFrame) {}

Result<std::unique_ptr<GrantTable>> GrantTable::create(uint32_t maxFrames) {
    if (maxFrames < kInitialFrames)
        return makeError(EINVAL, formatString("max grant frames %u is below 1", maxFrames));
    // The memfd is sparse: frames cost host memory only once touched.
    auto pages = HostPages::create("basalt-grant-table", maxFrames);
    if (!pages)
        return pages.error();
    return std::unique_ptr<GrantTable>(new GrantTable(maxFrames, std::move(pages).value()));
}

uint32_t GrantTable::nrFrames() const {
    std::lock_guard lock(mutex_);
    return nrFrames_;
}

bool GrantTable::grow(uint32_t frames) {
    std::lock_guard lock(mutex_);
    if (frames > maxFrames_)
        return false;
    nrFrames_ = std::max(nrFrames_, frames);
    return true;
}

Result<npt::PageSource> GrantTable::frameForMapping(uint32_t index) {
    if (index >= maxFrames_ || !grow(index + 1))
        return makeError(
            EINVAL, formatString("grant frame %u is past the maximum of %u", index, maxFrames_));
    return pages_.page(index);
}

uint64_t GrantTable::frameGfn(uint32_t index) const {
    std::lock_guard lock(mutex_);
    return index < maxFrames_ ? frameGfn_[index] : kNoGfn;
}

void GrantTable::setFrameGfn(uint32_t index, uint64_t gfn) {
    std::lock_guard lock(mutex_);
    if (index < maxFrames_)
        frameGfn_[index] = gfn;
}

grant_entry_v1_t* GrantTable::entry(uint32_t ref) const {
    return reinterpret_cast<grant_entry_v1_t*>(pages_.data()) + ref;
}

} // namespace basalt::xen
