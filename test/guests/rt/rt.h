/*
 * Freestanding runtime shared by the C test guests (32- and 64-bit).
 *
 * No libc, no FPU/SSE: guests are built with -mgeneral-regs-only because this
 * workplace's KVM cannot execute x87/SSE/AVX instructions.
 */
#pragma once

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed int s32;
typedef __SIZE_TYPE__ size_t;
typedef __UINTPTR_TYPE__ uptr;

#define CONSOLE_PORT 0xE9
#define TEST_EXIT_PORT 0xF4

/* Every guest defines its name; it is used in the PASS/FAIL line. */
extern const char guest_name[];

/* Entry point of each guest, called by start32/start64 with ESI/RSI. */
void guest_main(u32 nr_vcpus);

static inline void outb(u16 port, u8 v) {
    __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outw(u16 port, u16 v) {
    __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outl(u16 port, u32 v) {
    __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}
static inline u8 inb(u16 port) {
    u8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline u16 inw(u16 port) {
    u16 v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline u32 inl(u16 port) {
    u32 v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void cpuid(u32 leaf, u32 sub, u32* a, u32* b, u32* c, u32* d) {
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static inline u64 rdmsr(u32 msr) {
    u32 lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((u64)hi << 32) | lo;
}

static inline uptr read_cr0(void) {
    uptr v;
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}
static inline uptr read_cr2(void) {
    uptr v;
    __asm__ volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}
static inline uptr read_cr3(void) {
    uptr v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}
static inline uptr read_cr4(void) {
    uptr v;
    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}
static inline void write_cr3(uptr v) {
    __asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory");
}

static inline void cpu_relax(void) {
    __asm__ volatile("pause" ::: "memory");
}
static inline void barrier(void) {
    __asm__ volatile("" ::: "memory");
}

static inline u32 mmio_read32(uptr addr) {
    return *(volatile u32*)addr;
}
static inline void mmio_write32(uptr addr, u32 v) {
    *(volatile u32*)addr = v;
}

/* Console output on port 0xE9. */
void print_char(char c);
void print(const char* s);
void print_hex(u64 v);
void print_dec(u64 v);

/* Print "PASS <name>" or "FAIL <name>: <why>" and end the VM through 0xF4. */
__attribute__((noreturn)) void pass(void);
__attribute__((noreturn)) void fail(const char* why);
/* As fail(), with " (<hex value>)" appended. */
__attribute__((noreturn)) void fail_hex(const char* why, u64 value);
__attribute__((noreturn)) void halt_forever(void);

void* memset(void* dst, int c, size_t n);
void* memcpy(void* dst, const void* src, size_t n);

/*
 * Exceptions and interrupts through the common stubs (isr32.asm/isr64.asm)
 * for vectors 0..ISR_STUBS-1. A vector with no hook ends the test with FAIL.
 */
#define ISR_STUBS 64
#define IDT_ENTRIES 256

#ifdef __x86_64__
struct isr_frame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8;
    u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vector, error_code;
    u64 ip, cs, flags, sp, ss; /* pushed by the CPU */
};
#else
struct isr_frame {
    u32 edi, esi, ebp, esp_unused, ebx, edx, ecx, eax; /* pushad */
    u32 vector, error_code;
    u32 ip, cs, flags; /* pushed by the CPU (same privilege level) */
};
#endif

typedef void (*isr_hook_t)(struct isr_frame* frame);
extern isr_hook_t isr_hooks[ISR_STUBS];

/* Fill IDT entries 0..ISR_STUBS-1 with the common stubs, code selector cs, and lidt. */
void idt_init(u16 cs);
/*
 * Reinitialise both 8259s with vectors 0x20-0x27 / 0x28-0x2F and every line
 * masked. A guest that enables interrupts does this first: a BIOS (under QEMU)
 * leaves IRQ0 on vector 8, which would look like a double fault.
 */
#define PIC_MASTER_VECTOR 0x20
#define PIC_SLAVE_VECTOR 0x28
void pic_init_masked(void);

/* Point one IDT entry at handler (an interrupt gate, DPL 0). */
void idt_set_gate(u32 vector, void (*handler)(void), u16 cs);
