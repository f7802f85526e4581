#pragma once
// Xen's handle registry (libxentoolcore's internal interface). Debian's
// libxenstore.so.4 registers its handles through these three functions, so
// the struct layout must be Xen's: the callback pointer, then a BSD list entry
// (xen_list.h). Xen does not ship the internal header; this declares the same
// ABI. Every provider library registers its handles here too, so that
// xentoolcore_restrict_all() reaches them as it reaches Xen's.

// Xen's tools headers declare C functions without extern "C" themselves.
extern "C" {
#include <xen_list.h>
#include <xentoolcore.h>
}

extern "C" {

typedef struct Xentoolcore__Active_Handle Xentoolcore__Active_Handle;
typedef int Xentoolcore__Restrict_Callback(Xentoolcore__Active_Handle*, domid_t domid);

struct Xentoolcore__Active_Handle {
    Xentoolcore__Restrict_Callback* restrict_callback;
    XEN_LIST_ENTRY(Xentoolcore__Active_Handle) entry;
};

void xentoolcore__register_active_handle(Xentoolcore__Active_Handle* handle);
void xentoolcore__deregister_active_handle(Xentoolcore__Active_Handle* handle);
int xentoolcore__restrict_by_dup2_null(int fd);
}

namespace basalt::devmodel {

// The restrict callback of every Basalt handle. The connection is already
// scoped to one domain, so there is nothing to tell the host: restricting
// starts the session for `domid` if none runs and fails (EPERM) if the
// session serves another domain. Returns 0 or -1 with errno.
int restrictToDomain(Xentoolcore__Active_Handle* handle, domid_t domid);

// Registers a Basalt handle with its restrict callback set.
void registerHandle(Xentoolcore__Active_Handle& handle);

} // namespace basalt::devmodel
