; IRQ handlers of the serial_irq guest. See iret_same_pl.inc for why they do
; not end in IRET.

bits 32

%include "iret_same_pl.inc"

PIC_MASTER_CMD equ 0x20
PIC_EOI        equ 0x20
UART_IIR       equ 0x3FA

extern serial_irqs
extern serial_iir
extern pit_ticks

section .text
global serial_isr
global pit_isr

; IRQ 4: reading IIR identifies the source and, for THRE, acknowledges it.
serial_isr:
    push eax
    push edx
    mov dx, UART_IIR
    in al, dx
    movzx eax, al
    mov [serial_iir], eax
    inc dword [serial_irqs]
    mov al, PIC_EOI
    out PIC_MASTER_CMD, al
    pop edx
    pop eax
    IRET_SAME_PL

; IRQ 0: the watchdog.
pit_isr:
    inc dword [pit_ticks]
    push eax
    mov al, PIC_EOI
    out PIC_MASTER_CMD, al
    pop eax
    IRET_SAME_PL
