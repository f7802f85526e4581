#include "devmodel/launcher/sandbox_policy.h"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace basalt::devmodel {
namespace {

constexpr uint32_t kX32SyscallBit = 0x40000000;
constexpr uint32_t kDenyEperm = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
constexpr uint32_t kDenyEnosys = SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA);

constexpr uint32_t kNrOffset = offsetof(struct seccomp_data, nr);
constexpr uint32_t kArchOffset = offsetof(struct seccomp_data, arch);
// Low 32 bits of args[0] (little-endian): clone's flags.
constexpr uint32_t kArg0Offset = offsetof(struct seccomp_data, args);

#define BASALT_STMT(code, k) BPF_STMT(static_cast<uint16_t>(code), k)
#define BASALT_JUMP(code, k, jt, jf) BPF_JUMP(static_cast<uint16_t>(code), k, jt, jf)
// If nr == NR: return ACTION.
#define BASALT_DENY(nr, action)                                                                    \
    BASALT_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1), BASALT_STMT(BPF_RET | BPF_K, action)

// The filter program, built once into static storage.
const sock_filter kFilter[] = {
    BASALT_STMT(BPF_LD | BPF_W | BPF_ABS, kArchOffset),
    BASALT_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    BASALT_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    BASALT_STMT(BPF_LD | BPF_W | BPF_ABS, kNrOffset),
    BASALT_JUMP(BPF_JMP | BPF_JGE | BPF_K, kX32SyscallBit, 0, 1),
    BASALT_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    // spawn
    BASALT_DENY(__NR_execve, SECCOMP_RET_KILL_PROCESS),
    BASALT_DENY(__NR_execveat, SECCOMP_RET_KILL_PROCESS),
    BASALT_DENY(__NR_fork, kDenyEperm),
    BASALT_DENY(__NR_vfork, kDenyEperm),
    BASALT_DENY(__NR_clone3, kDenyEnosys),
    // clone: allowed only for threads.
    BASALT_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 4),
    BASALT_STMT(BPF_LD | BPF_W | BPF_ABS, kArg0Offset),
    BASALT_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 1, 0),
    BASALT_STMT(BPF_RET | BPF_K, kDenyEperm),
    BASALT_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    // elevateprivileges
    BASALT_DENY(__NR_setuid, kDenyEperm),
    BASALT_DENY(__NR_setgid, kDenyEperm),
    BASALT_DENY(__NR_setreuid, kDenyEperm),
    BASALT_DENY(__NR_setregid, kDenyEperm),
    BASALT_DENY(__NR_setresuid, kDenyEperm),
    BASALT_DENY(__NR_setresgid, kDenyEperm),
    BASALT_DENY(__NR_setgroups, kDenyEperm),
    BASALT_DENY(__NR_setfsuid, kDenyEperm),
    BASALT_DENY(__NR_setfsgid, kDenyEperm),
    // resourcecontrol
    BASALT_DENY(__NR_setpriority, kDenyEperm),
    BASALT_DENY(__NR_sched_setparam, kDenyEperm),
    BASALT_DENY(__NR_sched_setscheduler, kDenyEperm),
    BASALT_DENY(__NR_sched_setaffinity, kDenyEperm),
    BASALT_DENY(__NR_sched_setattr, kDenyEperm),
    // obsolete
    BASALT_DENY(__NR_uselib, kDenyEnosys),
    BASALT_DENY(__NR_ustat, kDenyEnosys),
    BASALT_DENY(__NR_sysfs, kDenyEnosys),
    BASALT_DENY(__NR__sysctl, kDenyEnosys),
    BASALT_DENY(__NR_create_module, kDenyEnosys),
    BASALT_DENY(__NR_get_kernel_syms, kDenyEnosys),
    BASALT_DENY(__NR_query_module, kDenyEnosys),
    BASALT_DENY(__NR_nfsservctl, kDenyEnosys),
    BASALT_DENY(__NR_getpmsg, kDenyEnosys),
    BASALT_DENY(__NR_putpmsg, kDenyEnosys),
    BASALT_DENY(__NR_afs_syscall, kDenyEnosys),
    BASALT_DENY(__NR_tuxcall, kDenyEnosys),
    BASALT_DENY(__NR_security, kDenyEnosys),
    BASALT_DENY(__NR_vserver, kDenyEnosys),
    BASALT_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

#undef BASALT_DENY
#undef BASALT_JUMP
#undef BASALT_STMT

} // namespace

bool installQemuSeccompFilter() {
    sock_fprog program{};
    program.len = static_cast<unsigned short>(sizeof(kFilter) / sizeof(kFilter[0]));
    program.filter = const_cast<sock_filter*>(kFilter);
    // TSYNC: threads a preloaded library may already have started get it too.
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &program) == 0;
}

} // namespace basalt::devmodel
