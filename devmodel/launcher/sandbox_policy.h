#pragma once
// The seccomp policy QEMU runs under (see sandbox_preload.cpp): QEMU's own
// -sandbox categories, as a classic BPF filter.
//   spawn:             execve/execveat kill the process; fork, vfork and a
//                      clone without CLONE_THREAD fail with EPERM; clone3
//                      fails with ENOSYS so glibc falls back to clone, whose
//                      flags the filter can see.
//   elevateprivileges: set*uid, set*gid, setgroups, setfs*id fail with EPERM.
//   resourcecontrol:   setpriority, sched_set* fail with EPERM.
//   obsolete:          syscalls no current program uses fail with ENOSYS.
// Any other architecture, or the x32 ABI, kills the process.

namespace basalt::devmodel {

// Installs the filter on the calling thread (all later threads inherit it).
// Needs PR_SET_NO_NEW_PRIVS. Async-signal-safe: no allocation.
bool installQemuSeccompFilter();

} // namespace basalt::devmodel
