/*
 * Xen discovery and the simple hypercall families: CPUID leaves, the
 * hypercall page, xen_version, hvm_op parameters and time, console_io,
 * multicall, physdev_op, and hostile arguments (unmapped buffers, bad
 * indices, read-only parameters, other domains, unknown hypercalls).
 * Built twice: 32-bit (xen_basics32) and 64-bit (xen_basics64).
 */
#include "xen/xen_rt.h"

const char guest_name[] = GUEST_NAME;

#define XENVER_version 0
#define XENVER_extraversion 1
#define XENVER_capabilities 3
#define XENVER_get_features 6
#define XENVER_pagesize 7
#define HVMOP_set_param 0
#define HVMOP_get_param 1
#define HVMOP_get_time 10
#define HVM_PARAM_CALLBACK_IRQ 0
#define HVM_PARAM_STORE_PFN 1
#define HVM_PARAM_IDENT_PT 12
#define HVM_PARAM_NR 39
#define CONSOLEIO_write 0
#define CONSOLEIO_read 1
#define XENFEAT_auto_translated_physmap 2
#define XENFEAT_hvm_callback_vector 8

struct hvm_param {
    u16 domid;
    u16 pad;
    u32 index;
    u64 value;
};

struct feature_info {
    u32 submap_idx;
    u32 submap;
};

struct multicall_entry {
    uptr op, result, args[6];
};

static char text[1024];
static struct multicall_entry calls[3];

/* An address that no page table maps in either mode: above RAM, below the
 * MMIO hole in 32-bit (paging off, so it is guest-physical, not RAM), and
 * beyond the 4 GiB identity map in 64-bit. */
#ifdef __x86_64__
#define UNMAPPED ((uptr)0x0000600000000000ull)
#else
#define UNMAPPED ((uptr)0xE0000000u)
#endif

void guest_main(u32 nr_vcpus) {
    (void)nr_vcpus;
    u32 a, b, c, d;
    cpuid(0x40000001, 0, &a, &b, &c, &d);
    expect("cpuid version leaf", a, 0x00040011);
    cpuid(0x40000004, 0, &a, &b, &c, &d);
    expect("cpuid hvm leaf vcpu id", b, 0);
    expect("cpuid hvm leaf domid present", (a >> 4) & 1, 1);

    /* Before the page exists the port is not a hypercall: rax is untouched. */
    u32 eax = 0x12345678;
    __asm__ volatile("outl %0, $0xE4" : "+a"(eax));
    expect("port 0xE4 before the hypercall page", eax, 0x12345678);

    xen_setup();
    expect("xen_version", HC2(XEN_HC_xen_version, XENVER_version, 0), 0x00040011);
    expect("xen_version extraversion", HC2(XEN_HC_xen_version, XENVER_extraversion, text), 0);
    expect("extraversion text", text[0] == '.' && text[1] == '2', 1);
    expect("xen_version capabilities", HC2(XEN_HC_xen_version, XENVER_capabilities, text), 0);
    expect("capabilities text", text[0] == 'h' && text[1] == 'v' && text[2] == 'm', 1);
    expect("xen_version pagesize", HC2(XEN_HC_xen_version, XENVER_pagesize, 0), 4096);
    struct feature_info fi = {0, 0};
    expect("get_features", HC2(XEN_HC_xen_version, XENVER_get_features, &fi), 0);
    expect("auto-translated physmap", (fi.submap >> XENFEAT_auto_translated_physmap) & 1, 1);
    expect("no callback vector offered", (fi.submap >> XENFEAT_hvm_callback_vector) & 1, 0);
    fi.submap_idx = 1;
    expect("get_features submap 1", HC2(XEN_HC_xen_version, XENVER_get_features, &fi), -XEN_EINVAL);
    expect("xen_version unmapped buffer", HC2(XEN_HC_xen_version, XENVER_capabilities, UNMAPPED),
           -XEN_EFAULT);
    expect("xen_version unknown subop", HC2(XEN_HC_xen_version, 77, 0), -XEN_ENOSYS);

    struct hvm_param p = {XEN_DOMID_SELF, 0, HVM_PARAM_CALLBACK_IRQ, 0x1c};
    expect("set CALLBACK_IRQ", HC2(XEN_HC_hvm_op, HVMOP_set_param, &p), 0);
    p.value = 0;
    expect("get CALLBACK_IRQ", HC2(XEN_HC_hvm_op, HVMOP_get_param, &p), 0);
    expect("CALLBACK_IRQ value", (xlong)p.value, 0x1c);
    p.index = HVM_PARAM_STORE_PFN;
    p.value = 5;
    expect("set read-only STORE_PFN", HC2(XEN_HC_hvm_op, HVMOP_set_param, &p), -XEN_EPERM);
    p.index = HVM_PARAM_IDENT_PT;
    expect("get private IDENT_PT", HC2(XEN_HC_hvm_op, HVMOP_get_param, &p), -XEN_EPERM);
    p.index = 1000;
    expect("param index out of range", HC2(XEN_HC_hvm_op, HVMOP_get_param, &p), -XEN_EINVAL);
    p.index = HVM_PARAM_CALLBACK_IRQ;
    p.domid = 7;
    expect("param of another domain", HC2(XEN_HC_hvm_op, HVMOP_get_param, &p), -XEN_ESRCH);
    expect("hvm_op unmapped", HC2(XEN_HC_hvm_op, HVMOP_get_param, UNMAPPED), -XEN_EFAULT);
    u64 t1 = 0, t2 = 0;
    expect("get_time", HC2(XEN_HC_hvm_op, HVMOP_get_time, &t1), 0);
    expect("get_time again", HC2(XEN_HC_hvm_op, HVMOP_get_time, &t2), 0);
    expect("time moves forward", t2 >= t1 && t1 > 0, 1);

    static const char hello[] = "console_io says hello\n";
    expect("console_io write", HC3(XEN_HC_console_io, CONSOLEIO_write, sizeof hello - 1, hello), 0);
    expect("console_io read", HC3(XEN_HC_console_io, CONSOLEIO_read, 10, text), -XEN_EPERM);
    expect("console_io unmapped", HC3(XEN_HC_console_io, CONSOLEIO_write, 10, UNMAPPED),
           -XEN_EFAULT);

    calls[0].op = XEN_HC_xen_version;
    calls[0].args[0] = XENVER_version;
    calls[1].op = XEN_HC_xen_version;
    calls[1].args[0] = XENVER_pagesize;
    calls[2].op = 200; /* no such hypercall */
    expect("multicall", HC2(XEN_HC_multicall, calls, 3), 0);
    expect("multicall result 0", (xlong)calls[0].result, 0x00040011);
    expect("multicall result 1", (xlong)calls[1].result, 4096);
    expect("multicall result 2", (xlong)calls[2].result, -XEN_ENOSYS);
    expect("multicall absurd count", HC2(XEN_HC_multicall, calls, 0x7fffffff), -XEN_EINVAL);

    expect("physdev_op", HC2(XEN_HC_physdev_op, 0, 0), -XEN_ENOSYS);
    expect("unknown hypercall", HC1(45, 0), -XEN_ENOSYS);
    expect("hypercall 127", HC1(127, 0), -XEN_ENOSYS);
    pass();
}
