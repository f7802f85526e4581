#include "vmm/builder/read_file.h"

#include "base/unique_fd.h"
#include "vmm/builder/describe.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace basalt {

Result<std::vector<uint8_t>> readFileBounded(const std::string& path, size_t maxBytes,
                                             const std::string& what) {
    const std::string label = what + " '" + path + "'";
    // O_NONBLOCK: opening a FIFO must not hang; the regular-file check rejects it.
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd)
        return errnoError("cannot read " + label);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        return errnoError("cannot read " + label);
    if (!S_ISREG(st.st_mode))
        return makeError(EINVAL, "cannot read " + label + ": not a regular file");
    if (static_cast<uint64_t>(st.st_size) > maxBytes)
        return makeError(EFBIG, label + " is " + sizeString(st.st_size) + "; at most " +
                                    sizeString(maxBytes) + " is accepted");

    // Read up to one byte past the limit so a file that grew is noticed.
    std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size) + 1);
    size_t used = 0;
    while (used < bytes.size()) {
        ssize_t n = ::read(fd.get(), bytes.data() + used, bytes.size() - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errnoError("cannot read " + label);
        if (n == 0)
            break;
        used += static_cast<size_t>(n);
    }
    if (used > maxBytes || used > static_cast<size_t>(st.st_size))
        return makeError(EBUSY, "cannot read " + label + ": it changed while being read");
    bytes.resize(used);
    return bytes;
}

} // namespace basalt
