/*
 * serial_irq: QEMU's 16550 at 0x3F8 raises ISA IRQ 4 (set_isa_irq_level)
 * when its transmitter empties. The guest unmasks IRQ 4 on the 8259, enables
 * the THRE interrupt, writes one byte and waits (sti; hlt) for the interrupt,
 * whose handler records IIR. A PIT watchdog on IRQ 0 bounds the wait.
 */
#include "devmodel/dm_rt.h"

const char guest_name[] = "serial_irq";

#define COM1 0x3F8
#define UART_THR (COM1 + 0)
#define UART_DLL (COM1 + 0)
#define UART_IER (COM1 + 1)
#define UART_DLM (COM1 + 1)
#define UART_IIR (COM1 + 2)
#define UART_FCR (COM1 + 2)
#define UART_LCR (COM1 + 3)
#define UART_MCR (COM1 + 4)
#define UART_LSR (COM1 + 5)
#define UART_LCR_DLAB 0x80
#define UART_LCR_8N1 0x03
#define UART_MCR_DTR_RTS_OUT2 0x0B
#define UART_IER_THRE 0x02
#define UART_IIR_NO_INTERRUPT 0x01
#define UART_IIR_ID_MASK 0x0F
#define UART_IIR_THRE 0x02
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_DIVISOR_115200 1

#define PIC_MASTER_DATA 0x21
#define PIC_MASTER_CMD 0x20
#define PIC_UNMASK_IRQ0_IRQ4 0xEE
#define PIC_OCW3_READ_ISR 0x0B
#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define PIT_CMD_CH0_LOHI_RATE 0x34
#define PIT_DIVISOR_SLOWEST 0 /* 18.2 Hz */
#define PIT_WATCHDOG_TICKS 37 /* 2 s */
#define MAX_WAKEUPS 10000
#define CODE_SELECTOR 0x08

volatile u32 serial_irqs, serial_iir, pit_ticks;
extern void serial_isr(void), pit_isr(void);

void guest_main(u32 nr_vcpus) {
    (void)nr_vcpus;
    idt_init(CODE_SELECTOR);
    idt_set_gate(PIC_MASTER_VECTOR + 0, pit_isr, CODE_SELECTOR);
    idt_set_gate(PIC_MASTER_VECTOR + 4, serial_isr, CODE_SELECTOR);
    pic_init_masked();

    outb(UART_IER, 0);
    outb(UART_LCR, UART_LCR_DLAB);
    outb(UART_DLL, UART_DIVISOR_115200);
    outb(UART_DLM, 0);
    outb(UART_LCR, UART_LCR_8N1);
    outb(UART_FCR, 0); /* no FIFO: IIR is exactly one source */
    outb(UART_MCR, UART_MCR_DTR_RTS_OUT2);
    if (inb(UART_IIR) != UART_IIR_NO_INTERRUPT)
        fail_hex("16550 IIR with interrupts off", inb(UART_IIR));

    outb(PIT_CMD, PIT_CMD_CH0_LOHI_RATE);
    outb(PIT_CH0, PIT_DIVISOR_SLOWEST);
    outb(PIT_CH0, PIT_DIVISOR_SLOWEST);
    outb(PIC_MASTER_DATA, PIC_UNMASK_IRQ0_IRQ4);

    outb(UART_IER, UART_IER_THRE);
    outb(UART_THR, 'Q');
    u32 wakeups = 0;
    while (!serial_irqs) {
        if (pit_ticks > PIT_WATCHDOG_TICKS)
            fail("no IRQ 4 from the 16550 within the 2 s watchdog");
        if (++wakeups > MAX_WAKEUPS)
            fail("too many wakeups without IRQ 4");
        __asm__ volatile("sti; hlt; cli" ::: "memory");
    }
    outb(PIC_MASTER_DATA, 0xFF);
    outb(UART_IER, 0);

    print("serial: ");
    print_dec(serial_irqs);
    print(" IRQ 4 interrupts, IIR in the handler ");
    print_hex(serial_iir);
    print("\n");
    if ((serial_iir & UART_IIR_ID_MASK) != UART_IIR_THRE)
        fail_hex("IIR in the handler is not 'THR empty'", serial_iir);
    u8 lsr = inb(UART_LSR);
    if ((lsr & (UART_LSR_THRE | UART_LSR_TEMT)) != (UART_LSR_THRE | UART_LSR_TEMT))
        fail_hex("LSR after the interrupt: transmitter not empty", lsr);
    if (inb(UART_IIR) != UART_IIR_NO_INTERRUPT)
        fail_hex("IIR still reports an interrupt after it was read", inb(UART_IIR));
    outb(PIC_MASTER_CMD, PIC_OCW3_READ_ISR);
    if (inb(PIC_MASTER_CMD))
        fail("8259 ISR not empty at the end: a missing EOI");
    pass();
}
