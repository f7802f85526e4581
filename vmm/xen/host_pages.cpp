#include "vmm/xen/host_pages.h"

#include "base/format.h"
#include "npt/page.h"

#include <sys/mman.h>
#include <unistd.h>

namespace basalt::xen {

Result<HostPages> HostPages::create(const char* name, uint64_t pages) {
    HostPages out;
    out.pages_ = pages;
    out.fd_ = UniqueFd(::memfd_create(name, MFD_CLOEXEC));
    if (!out.fd_)
        return errnoError(formatString("memfd_create of %s", name));
    uint64_t bytes = pages * npt::kPageSize;
    if (::ftruncate(out.fd_.get(), static_cast<off_t>(bytes)) < 0)
        return errnoError(
            formatString("sizing %s to %llu bytes", name, static_cast<unsigned long long>(bytes)));
    auto mapping = MappedRegion::map(bytes, PROT_READ | PROT_WRITE, MAP_SHARED, out.fd_.get(), 0);
    if (!mapping)
        return mapping.error();
    out.mapping_ = std::move(mapping).value();
    return out;
}

npt::PageSource HostPages::page(uint64_t index) const {
    return npt::PageSource{npt::RegionKind::Overlay, fd_.get(), index * npt::kPageSize,
                           data() + index * npt::kPageSize};
}

} // namespace basalt::xen
