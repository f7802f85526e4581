/*
 * protected32: the guest's own GDT (far jump + segment reloads, a segment with a
 * non-zero base), its own IDT, a software-requested interrupt and a #DE handler
 * that skips the faulting instruction; CR0.PE set and paging off.
 * basalt-vmm --entry protected. About 2 000 guest instructions.
 *
 * The software interrupt is a LAPIC self-IPI, not INT n: this workplace's KVM
 * runs guest code in its instruction emulator, which implements INT n and IRET
 * only in real mode (anything else is an emulation failure that stops the VM).
 */
#include "rt/rt.h"

const char guest_name[] = "protected32";

#define CR0_PE (1u << 0)
#define CR0_PG (1u << 31)

#define SEL_CODE 0x18 /* deliberately not the VMM's 0x08/0x10 */
#define SEL_DATA 0x20
#define SEL_BASED 0x28 /* data segment based at the image start */
#define IMAGE_BASE 0x100000u

#define SOFT_VECTOR 0x30
#define SPURIOUS_VECTOR 0x3F
#define VECTOR_DE 0

#define LAPIC_BASE 0xFEE00000u
#define LAPIC_EOI (LAPIC_BASE + 0xB0)
#define LAPIC_SVR (LAPIC_BASE + 0xF0)
#define LAPIC_ICR_LOW (LAPIC_BASE + 0x300)
#define LAPIC_SVR_ENABLE (1u << 8)
#define ICR_SHORTHAND_SELF (1u << 18)
#define ICR_DELIVERY_PENDING (1u << 12)

#define ACCESS_CODE 0x9A /* present, ring 0, code, readable */
#define ACCESS_DATA 0x92 /* present, ring 0, data, writable */
#define FLAGS_32BIT_4K 0xC

struct gdt_pointer {
    u16 limit;
    u32 base;
} __attribute__((packed));

static u64 gdt[6] __attribute__((aligned(8)));

static u64 make_descriptor(u32 base, u32 limit_4k, u8 access) {
    return (u64)(limit_4k & 0xFFFF) | ((u64)(base & 0xFFFFFF) << 16) | ((u64)access << 40) |
           ((u64)((limit_4k >> 16) & 0xF) << 48) | ((u64)FLAGS_32BIT_4K << 52) |
           ((u64)(base >> 24) << 56);
}

static u16 read_cs(void) {
    u16 v;
    __asm__ volatile("mov %%cs, %0" : "=r"(v));
    return v;
}
static u16 read_ss(void) {
    u16 v;
    __asm__ volatile("mov %%ss, %0" : "=r"(v));
    return v;
}
static u16 read_ds(void) {
    u16 v;
    __asm__ volatile("mov %%ds, %0" : "=r"(v));
    return v;
}

static volatile u32 based_probe = 0x5EC7104Eu;

static void load_gdt(void) {
    gdt[0] = 0;
    gdt[1] = 0;
    gdt[2] = 0;
    gdt[3] = make_descriptor(0, 0xFFFFF, ACCESS_CODE);
    gdt[4] = make_descriptor(0, 0xFFFFF, ACCESS_DATA);
    gdt[5] = make_descriptor(IMAGE_BASE, 0xFFFFF, ACCESS_DATA);
    struct gdt_pointer p = {sizeof(gdt) - 1, (u32)gdt};
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp %1, $1f\n"
                     "1:\n\t"
                     "mov %2, %%ax\n\t"
                     "mov %%ax, %%ds\n\t"
                     "mov %%ax, %%es\n\t"
                     "mov %%ax, %%gs\n\t"
                     "mov %%ax, %%ss\n\t"
                     "mov %3, %%ax\n\t"
                     "mov %%ax, %%fs"
                     :
                     : "m"(p), "i"(SEL_CODE), "i"(SEL_DATA), "i"(SEL_BASED)
                     : "eax", "memory");

    struct gdt_pointer check;
    __asm__ volatile("sgdt %0" : "=m"(check));
    if (check.base != (u32)gdt || check.limit != sizeof(gdt) - 1)
        fail_hex("sgdt does not return the loaded GDT", check.base);
    if (read_cs() != SEL_CODE)
        fail_hex("CS not reloaded by the far jump", read_cs());
    if (read_ds() != SEL_DATA || read_ss() != SEL_DATA)
        fail_hex("DS/SS not reloaded", read_ds());

    u32 via_fs;
    __asm__ volatile("movl %%fs:(%1), %0"
                     : "=r"(via_fs)
                     : "r"((u32)&based_probe - IMAGE_BASE)
                     : "memory");
    if (via_fs != based_probe)
        fail_hex("FS segment base not applied", via_fs);
}

static volatile u32 soft_count;
static volatile u32 soft_eax_seen;
static volatile u32 de_count;
static volatile u32 de_ip;

static void soft_hook(struct isr_frame* f) {
    soft_count++;
    soft_eax_seen = f->eax;
    f->eax = ~f->eax; /* the stub must restore registers from the frame */
    if (f->cs != SEL_CODE)
        fail_hex("interrupt frame CS is not ours", f->cs);
    mmio_write32(LAPIC_EOI, 0);
}

static void spurious_hook(struct isr_frame* f) {
    (void)f;
}

static void de_hook(struct isr_frame* f) {
    de_count++;
    de_ip = f->ip;
    if (de_count > 1)
        fail("#DE raised again: the handler did not skip the div");
    f->ip += 2; /* div %ecx is f7 f1 */
}

static void check_interrupts(void) {
    idt_init(SEL_CODE);
    pic_init_masked();
    isr_hooks[SOFT_VECTOR] = soft_hook;
    isr_hooks[SPURIOUS_VECTOR] = spurious_hook;
    isr_hooks[VECTOR_DE] = de_hook;

    /* A self-IPI on SOFT_VECTOR, taken in the one-instruction window after STI;NOP. */
    mmio_write32(LAPIC_SVR, LAPIC_SVR_ENABLE | SPURIOUS_VECTOR);
    mmio_write32(LAPIC_ICR_LOW, ICR_SHORTHAND_SELF | SOFT_VECTOR);
    for (u32 i = 0; mmio_read32(LAPIC_ICR_LOW) & ICR_DELIVERY_PENDING; i++)
        if (i > 100000)
            fail("self-IPI stays pending in the ICR");
    /*
     * Take it with interrupts enabled. On hardware it arrives right after STI's
     * shadow; an emulating KVM may deliver it only some instructions later, so
     * wait a bounded number of iterations. EAX lives across the interrupt.
     */
    u32 eax = 0x12345678, spins = 200000;
    __asm__ volatile("sti\n"
                     "1: cmpl $0, %2\n\t"
                     "jne 2f\n\t"
                     "pause\n\t"
                     "decl %1\n\t"
                     "jnz 1b\n"
                     "2: cli"
                     : "+a"(eax), "+r"(spins)
                     : "m"(soft_count)
                     : "memory", "cc");
    if (soft_count != 1)
        fail_hex("self-IPI vector 0x30 not taken once", soft_count);
    if (soft_eax_seen != 0x12345678)
        fail_hex("handler saw wrong EAX", soft_eax_seen);
    if (eax != ~0x12345678u)
        fail_hex("EAX from the handler frame not restored", eax);

    u32 div_ip, quotient = 0xAAAA5555, edx = 0, zero = 0;
    __asm__ volatile("lea 1f, %0\n\t"
                     "1: .byte 0xf7, 0xf1\n\t" /* div %ecx, ECX = 0 */
                     "nop"
                     : "=&r"(div_ip), "+a"(quotient), "+d"(edx)
                     : "c"(zero)
                     : "memory");
    if (de_count != 1)
        fail("#DE handler did not run once");
    if (de_ip != div_ip)
        fail_hex("#DE frame EIP is not the div", de_ip);
    if (quotient != 0xAAAA5555)
        fail_hex("faulting div changed EAX", quotient);
}

void guest_main(u32 nr_vcpus) {
    (void)nr_vcpus;
    u32 cr0 = (u32)read_cr0();
    if (!(cr0 & CR0_PE))
        fail_hex("CR0.PE clear", cr0);
    if (cr0 & CR0_PG)
        fail_hex("CR0.PG set", cr0);

    load_gdt();
    print("gdt ok\n");
    check_interrupts();
    print("idt ok: self-IPI vector 0x30 and #DE\n");
    pass();
}
