// libxentoolcore.so.1: the registry of open handles and
// xentoolcore_restrict_all(), with Xen's semantics (Debian's libxenstore.so.4
// uses the internal half).

#include "devmodel/lib/active_handle.h"

#include <cerrno>
#include <fcntl.h>
#include <mutex>
#include <unistd.h>

namespace {

std::mutex& registryLock() {
    static std::mutex lock;
    return lock;
}

XEN_LIST_HEAD(HandleList, Xentoolcore__Active_Handle) handles = XEN_LIST_HEAD_INITIALIZER(handles);

} // namespace

extern "C" {

void xentoolcore__register_active_handle(Xentoolcore__Active_Handle* handle) {
    std::lock_guard lock(registryLock());
    XEN_LIST_INSERT_HEAD(&handles, handle, entry);
}

void xentoolcore__deregister_active_handle(Xentoolcore__Active_Handle* handle) {
    std::lock_guard lock(registryLock());
    XEN_LIST_REMOVE(handle, entry);
}

// Stops at the first handle that cannot be restricted and returns its error,
// as Xen does; the caller must then not trust any handle.
int xentoolcore_restrict_all(domid_t domid) {
    std::lock_guard lock(registryLock());
    Xentoolcore__Active_Handle* handle;
    XEN_LIST_FOREACH(handle, &handles, entry) {
        int rc = handle->restrict_callback(handle, domid);
        if (rc)
            return rc;
    }
    return 0;
}

// Cuts a handle's fd off without freeing its number, so that a stale user of
// the number cannot reach whatever the process opens next.
int xentoolcore__restrict_by_dup2_null(int fd) {
    if (fd < 0)
        return 0;
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0)
        return -1;
    int rc = dup2(null, fd);
    int saved = errno;
    close(null);
    errno = saved;
    return rc < 0 ? -1 : 0;
}
}
