/*
 * vcpu_op initialise/up/down/is_up for a secondary vCPU (run with --vcpus 33).
 * vCPU 0 first offers hostile contexts for vCPU 1 (out-of-range vCPU,
 * unmapped buffer, bad mode and padding, a 64-bit context without CR0.PG,
 * CR4.PAE or EFER.LME, bad code/stack/TSS segments, EIP past CS's limit),
 * then a good one in this guest's own mode: vCPU 1 stays down until
 * VCPUOP_up, runs ap_main (which reports on 0xE9, sets a flag and takes itself
 * down), comes back on a second VCPUOP_up where it stopped, and is finally
 * taken down by vCPU 0. A second initialise answers -EEXIST. vCPU 32 (no
 * vcpu_info slot in shared_info) can be initialised only once it registered one.
 * Built twice: 32-bit (xen_vcpu32) and 64-bit (xen_vcpu64).
 */
#include "xen/xen_evt_rt.h"

const char guest_name[] = GUEST_NAME;

#define VCPUOP_up 1
#define VCPUOP_down 2
#define VCPU_HVM_MODE_32B 0
#define VCPU_HVM_MODE_64B 1
#define MSR_EFER 0xC0000080u
#define EFER_LME (1ull << 8)
#define CR0_PE 0x1u
#define CR0_ET 0x10u
#define CR0_PG 0x80000000u
#define CR4_PAE 0x20u
#define FLAT_LIMIT 0xFFFFFFFFu
#define TSS_LIMIT 0x67u
/* Xen's packed segment attributes: type | S<<4 | DPL<<5 | P<<7 | L<<9 | DB<<10 | G<<11. */
#define AR_CODE32 0xC9B
#define AR_DATA32 0xC93
#define AR_TSS32 0x8B
#define AR_CODE_PAD 0x1C9B /* bit 12 set: Xen refuses it */
#define AR_CODE_NOT_PRESENT 0xC1B
#define AR_DATA_READONLY 0xC91 /* a stack must be writable */
#define AP_WAIT_SPINS 4000000u /* seconds here; bounds a wait that should be short */
#define AP_STACK_BYTES 8192
#define LEGACY_VCPUS 32 /* XEN_LEGACY_MAX_VCPUS: vcpu_info slots in shared_info */
#define VCPUOP_register_vcpu_info 10

struct hvm_x86_32 {
    u32 eax, ecx, edx, ebx, esp, ebp, esi, edi, eip, eflags;
    u32 cr0, cr3, cr4, pad1;
    u64 efer;
    u32 cs_base, ds_base, ss_base, es_base, tr_base;
    u32 cs_limit, ds_limit, ss_limit, es_limit, tr_limit;
    u16 cs_ar, ds_ar, ss_ar, es_ar, tr_ar;
    u16 pad2[3];
};
struct hvm_x86_64 {
    u64 rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, rip, rflags;
    u64 cr0, cr3, cr4, efer;
};
struct hvm_context {
    u32 mode, pad;
    union {
        struct hvm_x86_32 r32;
        struct hvm_x86_64 r64;
    } u;
};
_Static_assert(sizeof(struct hvm_context) == 128, "vcpu_hvm_context is 128 bytes");

static struct hvm_context ctx;
static u8 ap_stack[AP_STACK_BYTES] __attribute__((aligned(16)));
static u8 tss[128] __attribute__((aligned(16)));
static u8 vcpu_info_page[4096] __attribute__((aligned(4096)));
static volatile u32 ap_stage;   /* how far vCPU 1 got */
static volatile xlong ap_is_up; /* what vCPU 1 saw for is_up(1) */
static volatile xlong ap_down;  /* its own VCPUOP_down's result */

/* vCPU 1's entry: no return address, interrupts off, this guest's mode. */
__attribute__((noreturn, used)) void ap_main(void);
void ap_main(void) {
    print("vcpu 1: up from VCPUOP_initialise\n");
    ap_is_up = vcpu_op(VCPUOP_is_up, 1, 0);
    ap_stage = 1;
    ap_down = vcpu_op(VCPUOP_down, 1, 0);
    /* Here again only after vCPU 0's second VCPUOP_up. */
    print("vcpu 1: back after VCPUOP_up\n");
    ap_stage = 2;
    for (;;)
        cpu_relax();
}

static void wait_stage(u32 stage, const char* what) {
    for (u32 i = 0; ap_stage < stage; i++) {
        if (i > AP_WAIT_SPINS)
            fail(what);
        cpu_relax();
    }
}

static void wait_down(const char* what) {
    for (u32 i = 0; vcpu_op(VCPUOP_is_up, 1, 0) != 0; i++) {
        if (i > AP_WAIT_SPINS / 100)
            fail(what);
        cpu_relax();
    }
}

/* Top of the AP stack with the slot a call would have pushed. */
static uptr ap_stack_entry(void) {
    return (uptr)(ap_stack + AP_STACK_BYTES) - sizeof(uptr);
}

static void good_context32(void) {
    memset(&ctx, 0, sizeof ctx);
    ctx.mode = VCPU_HVM_MODE_32B;
    struct hvm_x86_32* r = &ctx.u.r32;
    r->eip = (u32)(uptr)ap_main;
    r->esp = (u32)ap_stack_entry();
    r->eflags = 0x2;
    r->cr0 = CR0_PE | CR0_ET;
    r->cs_limit = r->ds_limit = r->ss_limit = r->es_limit = FLAT_LIMIT;
    r->cs_ar = AR_CODE32;
    r->ds_ar = r->ss_ar = r->es_ar = AR_DATA32;
    r->tr_base = (u32)(uptr)tss;
    r->tr_limit = TSS_LIMIT;
    r->tr_ar = AR_TSS32;
}

static void good_context64(void) {
    memset(&ctx, 0, sizeof ctx);
    ctx.mode = VCPU_HVM_MODE_64B;
    struct hvm_x86_64* r = &ctx.u.r64;
    r->rip = (uptr)ap_main;
    r->rsp = ap_stack_entry();
    r->rflags = 0x2;
#ifdef __x86_64__
    r->cr0 = read_cr0();
    r->cr3 = read_cr3();
    r->cr4 = read_cr4();
    r->efer = rdmsr(MSR_EFER);
#else
    /* Only checked, never run: the minimum Xen wants for a 64-bit start. */
    r->cr0 = CR0_PE | CR0_ET | CR0_PG;
    r->cr4 = CR4_PAE;
    r->efer = EFER_LME;
#endif
}

static void good_context(void) {
#ifdef __x86_64__
    good_context64();
#else
    good_context32();
#endif
}

static void expect_init(const char* what, xlong want) {
    expect(what, vcpu_op(VCPUOP_initialise, 1, &ctx), want);
}

static void hostile_contexts(void) {
    good_context32();
    expect("initialise vcpu 33 (absent)", vcpu_op(VCPUOP_initialise, 33, &ctx), -XEN_ENOENT);
    expect("initialise vcpu 0x10000", vcpu_op(VCPUOP_initialise, 0x10000, &ctx), -XEN_ENOENT);
    expect("initialise unmapped", vcpu_op(VCPUOP_initialise, 1, (void*)(uptr)0xE0000000u),
           -XEN_EFAULT);
    expect("initialise the BSP", vcpu_op(VCPUOP_initialise, 0, &ctx), -XEN_EEXIST);
    expect("up before initialise", vcpu_op(VCPUOP_up, 1, 0), -XEN_EINVAL);
    expect("is_up before initialise", vcpu_op(VCPUOP_is_up, 1, 0), 0);

    ctx.mode = 2;
    expect_init("mode 2", -XEN_EINVAL);
    good_context32();
    ctx.pad = 1;
    expect_init("context pad", -XEN_EINVAL);
    good_context32();
    ctx.u.r32.pad2[1] = 1;
    expect_init("32-bit pad2", -XEN_EINVAL);
    good_context32();
    ctx.u.r32.cs_ar = AR_DATA32;
    expect_init("data segment as CS", -XEN_EINVAL);
    good_context32();
    ctx.u.r32.cs_ar = AR_CODE_PAD;
    expect_init("CS attribute bits 12-15", -XEN_EINVAL);
    good_context32();
    ctx.u.r32.cs_ar = AR_CODE_NOT_PRESENT;
    expect_init("CS not present", -XEN_EINVAL);
    good_context32();
    ctx.u.r32.ss_ar = AR_DATA_READONLY;
    expect_init("read-only SS", -XEN_EINVAL);
    good_context32();
    ctx.u.r32.ss_ar = 0;
    expect_init("null SS", -XEN_EINVAL);
    good_context32();
    ctx.u.r32.tr_ar = 0;
    expect_init("null TR", -XEN_EINVAL);
    good_context32();
    ctx.u.r32.tr_ar = AR_DATA32;
    expect_init("data segment as TR", -XEN_EINVAL);
    good_context32();
    ctx.u.r32.cs_ar = 0x49B; /* byte granular: limit is bytes */
    ctx.u.r32.cs_limit = 0xFFFF;
    expect_init("EIP past CS limit", -XEN_EINVAL);
    good_context32();
    ctx.u.r32.ss_ar = AR_DATA32 | (3 << 5);
    expect_init("SS.DPL != CS.DPL", -XEN_EINVAL);
    good_context32();
    ctx.u.r32.efer = 1ull << 10; /* LMA without LME */
    expect_init("EFER.LMA without LME", -XEN_EINVAL);
    good_context32();
    ctx.u.r32.cr4 = 1u << 13; /* VMXE: no nested virtualization */
    expect_init("CR4.VMXE", -XEN_EINVAL);

    good_context64();
    ctx.u.r64.cr0 &= ~(u64)CR0_PG;
    expect_init("64-bit CR0 without PG", -XEN_EINVAL);
    good_context64();
    ctx.u.r64.cr4 &= ~(u64)CR4_PAE;
    expect_init("64-bit CR4 without PAE", -XEN_EINVAL);
    good_context64();
    ctx.u.r64.efer &= ~EFER_LME;
    expect_init("64-bit EFER without LME", -XEN_EINVAL);
    good_context64();
    ctx.u.r64.rip = 0x0000800000000000ull;
    expect_init("64-bit non-canonical RIP", -XEN_EINVAL);
    good_context64();
    ctx.u.r64.efer |= 1ull << 12; /* SVME */
    expect_init("64-bit EFER.SVME", -XEN_EINVAL);

    /* None of these initialised vCPU 1. */
    expect("up after refused contexts", vcpu_op(VCPUOP_up, 1, 0), -XEN_EINVAL);
}

/* vCPU 32 is past shared_info's vcpu_info[32]: until a vcpu_info is
 * registered for it, Xen refuses to initialise it. */
static void beyond_legacy_vcpus(void) {
    good_context();
    expect("initialise vcpu 32 (dummy vcpu_info)", vcpu_op(VCPUOP_initialise, LEGACY_VCPUS, &ctx),
           -XEN_EINVAL);
    static struct {
        u64 mfn;
        u32 offset, rsvd;
    } reg;
    reg.mfn = (uptr)vcpu_info_page >> 12;
    expect("register vcpu_info for vcpu 32", vcpu_op(VCPUOP_register_vcpu_info, LEGACY_VCPUS, &reg),
           0);
    expect("initialise vcpu 32", vcpu_op(VCPUOP_initialise, LEGACY_VCPUS, &ctx), 0);
    expect("is_up vcpu 32", vcpu_op(VCPUOP_is_up, LEGACY_VCPUS, 0), 0);
}

void guest_main(u32 nr_vcpus) {
    if (nr_vcpus != LEGACY_VCPUS + 1)
        fail_hex("needs 33 vCPUs (--vcpus 33)", nr_vcpus);
    xen_setup();
    map_shared_info();
    hostile_contexts();
    beyond_legacy_vcpus();

    good_context();
    expect_init("initialise vcpu 1", 0);
    expect("is_up after initialise", vcpu_op(VCPUOP_is_up, 1, 0), 0);
    expect_init("initialise twice", -XEN_EEXIST);
    if (ap_stage != 0)
        fail("vCPU 1 ran before VCPUOP_up");

    expect("up vcpu 1", vcpu_op(VCPUOP_up, 1, 0), 0);
    wait_stage(1, "vCPU 1 never ran its context");
    expect("is_up seen by vcpu 1", ap_is_up, 1);
    wait_down("vCPU 1's own VCPUOP_down did not take it down");
    if (ap_stage != 1)
        fail("vCPU 1 kept running after VCPUOP_down");

    expect("up vcpu 1 again", vcpu_op(VCPUOP_up, 1, 0), 0);
    expect("up when up", vcpu_op(VCPUOP_up, 1, 0), 0);
    wait_stage(2, "vCPU 1 did not resume after VCPUOP_up");
    expect("vcpu 1's own down", ap_down, 0);
    expect("is_up after second up", vcpu_op(VCPUOP_is_up, 1, 0), 1);

    expect("down vcpu 1 from vcpu 0", vcpu_op(VCPUOP_down, 1, 0), 0);
    expect("is_up after down", vcpu_op(VCPUOP_is_up, 1, 0), 0);
    expect("down when down", vcpu_op(VCPUOP_down, 1, 0), 0);
    expect_init("initialise after down", -XEN_EEXIST);
    pass();
}
