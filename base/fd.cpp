#include "base/mapped_region.h"
#include "base/result.h"
#include "base/unique_fd.h"

#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

namespace basalt {

Error errnoError(const std::string& what) {
    int code = errno ? errno : EIO;
    return Error{code, what + ": " + std::strerror(code)};
}

void UniqueFd::reset(int fd) {
    if (fd_ >= 0)
        ::close(fd_);
    fd_ = fd;
}

Result<MappedRegion> MappedRegion::map(size_t size, int prot, int flags, int fd, off_t offset) {
    void* addr = ::mmap(nullptr, size, prot, flags, fd, offset);
    if (addr == MAP_FAILED)
        return errnoError("mmap of " + std::to_string(size) + " bytes");
    return MappedRegion(addr, size);
}

void MappedRegion::reset() {
    if (addr_)
        ::munmap(addr_, size_);
    addr_ = nullptr;
    size_ = 0;
}

} // namespace basalt
