/*
 * timer: PIT ticks through the 8259 (remapped to 0x20/0x28), then LAPIC timer
 * ticks in periodic mode, each waited for in a `sti; hlt` loop; both EOIs.
 * basalt-vmm --entry protected. About 3 000 guest instructions; ~30 ms.
 *
 * A `hlt` wakes only on an interrupt, so each phase has a watchdog on the other
 * timer: the LAPIC timer one-shot while the PIT is counted, the PIT at 18.2 Hz
 * while the LAPIC timer is counted. The wait loops also bound their wakeups.
 */
#include "rt/rt.h"

const char guest_name[] = "timer";

#define TARGET_TICKS 10
#define MAX_WAKEUPS 10000

#define PIT_VECTOR PIC_MASTER_VECTOR /* IRQ0 */
#define LAPIC_TIMER_VECTOR 0x40
#define LAPIC_WATCHDOG_VECTOR 0x41
#define SPURIOUS_VECTOR 0xFF

#define PIC_MASTER_CMD 0x20
#define PIC_MASTER_DATA 0x21
#define PIC_SLAVE_CMD 0xA0
#define PIC_SLAVE_DATA 0xA1
#define PIC_OCW3_READ_ISR 0x0B
#define PIC_UNMASK_IRQ0 0xFE

#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define PIT_CMD_CH0_LOHI_RATE 0x34 /* channel 0, lobyte/hibyte, mode 2, binary */
#define PIT_DIVISOR_1KHZ 1193
#define PIT_DIVISOR_SLOWEST 0 /* 65536: 18.2 Hz */

#define LAPIC_BASE 0xFEE00000u
#define LAPIC_SVR (LAPIC_BASE + 0xF0)
#define LAPIC_ISR0 (LAPIC_BASE + 0x100)
#define LAPIC_LVT_TIMER (LAPIC_BASE + 0x320)
#define LAPIC_LVT_LINT0 (LAPIC_BASE + 0x350)
#define LAPIC_TIMER_INITIAL (LAPIC_BASE + 0x380)
#define LAPIC_TIMER_CURRENT (LAPIC_BASE + 0x390)
#define LAPIC_TIMER_DIVIDE (LAPIC_BASE + 0x3E0)
#define LAPIC_SVR_ENABLE (1u << 8)
#define LVT_MASKED (1u << 16)
#define LVT_TIMER_PERIODIC (1u << 17)
#define LVT_DELIVERY_EXTINT (7u << 8)
#define TIMER_DIVIDE_BY_16 0x3
/* KVM's virtual LAPIC counts a 1 GHz bus: divided by 16, 62.5 counts per us. */
#define LAPIC_COUNTS_PER_MS 62500u
#define LAPIC_WATCHDOG_COUNT (2000u * LAPIC_COUNTS_PER_MS) /* 2 s */
#define PIT_WATCHDOG_TICKS 37                              /* 2 s at 18.2 Hz */

volatile u32 pit_ticks, lapic_ticks, watchdog_ticks;
extern void pit_isr(void), lapic_timer_isr(void), lapic_watchdog_isr(void), spurious_isr(void);

#define CODE_SELECTOR 0x08

static void pit_program(u32 divisor) {
    outb(PIT_CMD, PIT_CMD_CH0_LOHI_RATE);
    outb(PIT_CH0, (u8)divisor);
    outb(PIT_CH0, (u8)(divisor >> 8));
}

/* One `sti; hlt` (STI's shadow makes the pair atomic), interrupts off again after. */
static void wait_for_interrupt(void) {
    __asm__ volatile("sti; hlt; cli" ::: "memory");
}

static void count_pit_ticks(void) {
    watchdog_ticks = 0;
    mmio_write32(LAPIC_LVT_TIMER, LAPIC_WATCHDOG_VECTOR); /* one-shot */
    mmio_write32(LAPIC_TIMER_INITIAL, LAPIC_WATCHDOG_COUNT);

    pit_program(PIT_DIVISOR_1KHZ);
    outb(PIC_MASTER_DATA, PIC_UNMASK_IRQ0);
    u32 wakeups = 0;
    while (pit_ticks < TARGET_TICKS) {
        if (watchdog_ticks)
            fail_hex("PIT: too few IRQ0 ticks within the 2 s watchdog", pit_ticks);
        if (++wakeups > MAX_WAKEUPS)
            fail_hex("PIT: too many wakeups without enough ticks", pit_ticks);
        wait_for_interrupt();
    }
    outb(PIC_MASTER_DATA, 0xFF);
    u32 remaining = mmio_read32(LAPIC_TIMER_CURRENT);
    mmio_write32(LAPIC_TIMER_INITIAL, 0);
    mmio_write32(LAPIC_LVT_TIMER, LVT_MASKED | LAPIC_WATCHDOG_VECTOR);

    u32 elapsed_us = (LAPIC_WATCHDOG_COUNT - remaining) / (LAPIC_COUNTS_PER_MS / 1000);
    print("pit: ");
    print_dec(pit_ticks);
    print(" ticks at 1 kHz in ");
    print_dec(elapsed_us);
    print(" us of LAPIC time, ");
    print_dec(wakeups);
    print(" wakeups\n");
    if (lapic_ticks)
        fail("LAPIC timer vector fired while it was not programmed");
    /* Ticks 1..10 take at least 9 ms; 5 ms catches a PIT running at a wrong rate. */
    if (elapsed_us < 5000)
        fail_hex("PIT ticks came too fast for 1 kHz (us)", elapsed_us);
}

static void count_lapic_ticks(void) {
    u32 pit_before = pit_ticks;
    pit_program(PIT_DIVISOR_SLOWEST);
    outb(PIC_MASTER_DATA, PIC_UNMASK_IRQ0);

    mmio_write32(LAPIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
    mmio_write32(LAPIC_LVT_TIMER, LVT_TIMER_PERIODIC | LAPIC_TIMER_VECTOR);
    mmio_write32(LAPIC_TIMER_INITIAL, LAPIC_COUNTS_PER_MS);
    u32 wakeups = 0;
    while (lapic_ticks < TARGET_TICKS) {
        if (pit_ticks - pit_before > PIT_WATCHDOG_TICKS)
            fail_hex("LAPIC timer: too few ticks within the 2 s watchdog", lapic_ticks);
        if (++wakeups > MAX_WAKEUPS)
            fail_hex("LAPIC timer: too many wakeups without enough ticks", lapic_ticks);
        wait_for_interrupt();
    }
    mmio_write32(LAPIC_LVT_TIMER, LVT_MASKED | LAPIC_TIMER_VECTOR);
    mmio_write32(LAPIC_TIMER_INITIAL, 0);
    outb(PIC_MASTER_DATA, 0xFF);

    u32 pit_during = pit_ticks - pit_before;
    print("lapic: ");
    print_dec(lapic_ticks);
    print(" ticks at 1 kHz, ");
    print_dec(pit_during);
    print(" PIT ticks at 18.2 Hz meanwhile, ");
    print_dec(wakeups);
    print(" wakeups\n");
    /* 10 ms of LAPIC ticks span at most one 55 ms PIT period; allow a slack of two. */
    if (pit_during > 3)
        fail_hex("LAPIC timer ticks far slower than 1 kHz (PIT ticks meanwhile)", pit_during);
}

static void check_no_interrupt_in_service(void) {
    for (u32 i = 0; i < 8; i++) {
        u32 isr = mmio_read32(LAPIC_ISR0 + 0x10 * i);
        if (isr)
            fail_hex("LAPIC ISR not empty at the end: a missing EOI", (u64)i << 32 | isr);
    }
    outb(PIC_MASTER_CMD, PIC_OCW3_READ_ISR);
    outb(PIC_SLAVE_CMD, PIC_OCW3_READ_ISR);
    u8 master = inb(PIC_MASTER_CMD), slave = inb(PIC_SLAVE_CMD);
    if (master || slave)
        fail_hex("8259 ISR not empty at the end: a missing EOI", (u32)master << 8 | slave);
}

void guest_main(u32 nr_vcpus) {
    (void)nr_vcpus;
    idt_init(CODE_SELECTOR);
    idt_set_gate(PIT_VECTOR, pit_isr, CODE_SELECTOR);
    idt_set_gate(LAPIC_TIMER_VECTOR, lapic_timer_isr, CODE_SELECTOR);
    idt_set_gate(LAPIC_WATCHDOG_VECTOR, lapic_watchdog_isr, CODE_SELECTOR);
    idt_set_gate(SPURIOUS_VECTOR, spurious_isr, CODE_SELECTOR);
    pic_init_masked();

    /* As a BIOS leaves it: LAPIC on, the 8259 wired to LINT0 as ExtINT. */
    mmio_write32(LAPIC_SVR, LAPIC_SVR_ENABLE | SPURIOUS_VECTOR);
    mmio_write32(LAPIC_LVT_LINT0, LVT_DELIVERY_EXTINT);
    mmio_write32(LAPIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);

    count_pit_ticks();
    count_lapic_ticks();
    check_no_interrupt_in_service();
    pass();
}
