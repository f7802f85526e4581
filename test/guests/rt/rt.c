/* Freestanding runtime of the C test guests: console, PASS/FAIL, IDT. */
#include "rt.h"

void print_char(char c) {
    outb(CONSOLE_PORT, (u8)c);
}

void print(const char* s) {
    while (*s)
        print_char(*s++);
}

void print_hex(u64 v) {
    static const char digits[] = "0123456789abcdef";
    char buf[19];
    int i = 18;
    buf[i] = 0;
    do {
        buf[--i] = digits[v & 0xF];
        v >>= 4;
    } while (v);
    buf[--i] = 'x';
    buf[--i] = '0';
    print(&buf[i]);
}

void print_dec(u64 v) {
    char buf[21];
    int i = 20;
    buf[i] = 0;
    do {
        u32 r;
        if (v >> 32) {
            /* 64-bit division would need libgcc in 32-bit code: long division by hand. */
            u64 q = 0;
            r = 0;
            for (int bit = 63; bit >= 0; bit--) {
                r = (r << 1) | (u32)((v >> bit) & 1);
                if (r >= 10) {
                    r -= 10;
                    q |= 1ULL << bit;
                }
            }
            v = q;
        } else {
            u32 w = (u32)v;
            r = w % 10;
            v = w / 10;
        }
        buf[--i] = (char)('0' + r);
    } while (v);
    print(&buf[i]);
}

__attribute__((noreturn)) void halt_forever(void) {
    for (;;)
        __asm__ volatile("cli; hlt");
}

__attribute__((noreturn)) static void finish(u8 status) {
    outb(TEST_EXIT_PORT, status);
    halt_forever();
}

__attribute__((noreturn)) void pass(void) {
    print("PASS ");
    print(guest_name);
    print("\n");
    finish(0);
}

static void fail_prefix(const char* why) {
    print("FAIL ");
    print(guest_name);
    print(": ");
    print(why);
}

__attribute__((noreturn)) void fail(const char* why) {
    fail_prefix(why);
    print("\n");
    finish(1);
}

__attribute__((noreturn)) void fail_hex(const char* why, u64 value) {
    fail_prefix(why);
    print(" (");
    print_hex(value);
    print(")\n");
    finish(1);
}

/* Byte loops on purpose: gcc must not turn these into SSE or into calls to themselves. */
void* memset(void* dst, int c, size_t n) {
    volatile u8* d = dst;
    while (n--)
        *d++ = (u8)c;
    return dst;
}

void* memcpy(void* dst, const void* src, size_t n) {
    volatile u8* d = dst;
    const volatile u8* s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

/* ---- interrupts ---- */

isr_hook_t isr_hooks[ISR_STUBS];
extern void (*const isr_stub_table[ISR_STUBS])(void);

#ifdef __x86_64__
struct idt_gate {
    u16 offset_lo, selector;
    u8 ist, type_attr;
    u16 offset_mid;
    u32 offset_hi, reserved;
} __attribute__((packed));
#else
struct idt_gate {
    u16 offset_lo, selector;
    u8 zero, type_attr;
    u16 offset_hi;
} __attribute__((packed));
#endif

struct idt_pointer {
    u16 limit;
    uptr base;
} __attribute__((packed));

static struct idt_gate idt[IDT_ENTRIES] __attribute__((aligned(16)));

#define GATE_PRESENT_INTERRUPT 0x8E

void idt_set_gate(u32 vector, void (*handler)(void), u16 cs) {
    uptr addr = (uptr)handler;
    struct idt_gate* g = &idt[vector];
    g->offset_lo = (u16)addr;
    g->selector = cs;
    g->type_attr = GATE_PRESENT_INTERRUPT;
#ifdef __x86_64__
    g->ist = 0;
    g->offset_mid = (u16)(addr >> 16);
    g->offset_hi = (u32)(addr >> 32);
    g->reserved = 0;
#else
    g->zero = 0;
    g->offset_hi = (u16)(addr >> 16);
#endif
}

void idt_init(u16 cs) {
    for (u32 v = 0; v < ISR_STUBS; v++)
        idt_set_gate(v, isr_stub_table[v], cs);
    struct idt_pointer p = {sizeof(idt) - 1, (uptr)idt};
    __asm__ volatile("lidt %0" ::"m"(p));
}

#define PIC_MASTER_CMD 0x20
#define PIC_MASTER_DATA 0x21
#define PIC_SLAVE_CMD 0xA0
#define PIC_SLAVE_DATA 0xA1
#define PIC_ICW1_INIT_ICW4 0x11
#define PIC_ICW3_SLAVE_ON_IRQ2 0x04
#define PIC_ICW3_SLAVE_ID 0x02
#define PIC_ICW4_8086 0x01

void pic_init_masked(void) {
    outb(PIC_MASTER_CMD, PIC_ICW1_INIT_ICW4);
    outb(PIC_MASTER_DATA, PIC_MASTER_VECTOR);
    outb(PIC_MASTER_DATA, PIC_ICW3_SLAVE_ON_IRQ2);
    outb(PIC_MASTER_DATA, PIC_ICW4_8086);
    outb(PIC_SLAVE_CMD, PIC_ICW1_INIT_ICW4);
    outb(PIC_SLAVE_DATA, PIC_SLAVE_VECTOR);
    outb(PIC_SLAVE_DATA, PIC_ICW3_SLAVE_ID);
    outb(PIC_SLAVE_DATA, PIC_ICW4_8086);
    outb(PIC_MASTER_DATA, 0xFF);
    outb(PIC_SLAVE_DATA, 0xFF);
}

/* Called by the common stubs with the saved state; a hook may change frame->ip. */
void isr_dispatch(struct isr_frame* frame) {
    if (frame->vector < ISR_STUBS && isr_hooks[frame->vector]) {
        isr_hooks[frame->vector](frame);
        return;
    }
    fail_prefix("unexpected vector ");
    print_dec(frame->vector);
    print(" error code ");
    print_hex(frame->error_code);
    print(" at ");
    print_hex(frame->ip);
    print(" cr2 ");
    print_hex(read_cr2());
    print("\n");
    finish(1);
}
