/*
 * Xen guest runtime for the test guests in test/guests/xen/: finds Xen through
 * CPUID, installs the hypercall page through its MSR, and makes hypercalls
 * with the 32-bit (ebx, ecx, edx, esi, edi) or 64-bit (rdi, rsi, rdx, r10, r8)
 * convention, as Linux and hvmloader do. Header-only so each guest is one C file.
 */
#pragma once

#include "rt/rt.h"

/* Hypercall numbers and errnos from xen/xen.h and xen/errno.h (guest side:
 * the guests cannot include the host's headers, so only what they use). */
#define XEN_HC_memory_op 12
#define XEN_HC_multicall 13
#define XEN_HC_xen_version 17
#define XEN_HC_console_io 18
#define XEN_HC_grant_table_op 20
#define XEN_HC_vcpu_op 24
#define XEN_HC_sched_op 29
#define XEN_HC_event_channel_op 32
#define XEN_HC_physdev_op 33
#define XEN_HC_hvm_op 34
#define XEN_EPERM 1
#define XEN_ENOENT 2
#define XEN_ESRCH 3
#define XEN_EFAULT 14
#define XEN_EEXIST 17
#define XEN_EINVAL 22
#define XEN_ENOSYS 38
#define XEN_DOMID_SELF 0x7FF0

typedef long xlong; /* xen_long_t / xen_ulong_t: the guest's word */

static u8 xen_hypercall_page[4096] __attribute__((aligned(4096)));

static inline void wrmsr(u32 msr, u64 v) {
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((u32)v), "d"((u32)(v >> 32)));
}

/* Finds the Xen leaves and installs the hypercall page; fails the test if absent. */
static inline void xen_setup(void) {
    u32 a, b, c, d;
    cpuid(0x40000000, 0, &a, &b, &c, &d);
    if (b != 0x566e6558 || c != 0x65584d4d || d != 0x4d4d566e)
        fail("no XenVMMXenVMM signature at CPUID 0x40000000");
    cpuid(0x40000002, 0, &a, &b, &c, &d);
    if (a < 1)
        fail("CPUID 0x40000002 reports no hypercall pages");
    wrmsr(b, (uptr)xen_hypercall_page);
}

static inline xlong xen_hypercall(u32 nr, uptr a1, uptr a2, uptr a3, uptr a4, uptr a5) {
    xlong ret;
    void* entry = xen_hypercall_page + nr * 32;
#ifdef __x86_64__
    register uptr r10 __asm__("r10") = a4;
    register uptr r8 __asm__("r8") = a5;
    __asm__ volatile("call *%[entry]"
                     : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
                     : [entry] "r"(entry)
                     : "memory", "rcx", "r11");
#else
    __asm__ volatile("call *%[entry]"
                     : "=a"(ret), "+b"(a1), "+c"(a2), "+d"(a3), "+S"(a4), "+D"(a5)
                     : [entry] "m"(entry)
                     : "memory");
#endif
    return ret;
}

#define HC1(nr, a) xen_hypercall(nr, (uptr)(a), 0, 0, 0, 0)
#define HC2(nr, a, b) xen_hypercall(nr, (uptr)(a), (uptr)(b), 0, 0, 0)
#define HC3(nr, a, b, c) xen_hypercall(nr, (uptr)(a), (uptr)(b), (uptr)(c), 0, 0)

/* Fails the test unless `got` == `want`, naming the check. */
static inline void expect(const char* what, xlong got, xlong want) {
    if (got != want) {
        print(what);
        print(": got ");
        print_hex((u64)got);
        print(" want ");
        print_hex((u64)want);
        print_char('\n');
        fail(what);
    }
}
