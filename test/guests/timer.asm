; Tick handlers of the timer guest: a counter increment and an EOI each, no C.
; See iret_same_pl.inc for why they do not end in IRET.

bits 32

%include "iret_same_pl.inc"

PIC_MASTER_CMD equ 0x20
PIC_EOI        equ 0x20
LAPIC_EOI      equ 0xFEE000B0

extern pit_ticks
extern lapic_ticks
extern watchdog_ticks

section .text
global pit_isr
global lapic_timer_isr
global lapic_watchdog_isr
global spurious_isr

; PIT channel 0 through 8259 IRQ0 (ExtINT through LINT0: no LAPIC EOI)
pit_isr:
    inc dword [pit_ticks]
    push eax
    mov al, PIC_EOI
    out PIC_MASTER_CMD, al
    pop eax
    IRET_SAME_PL

; LAPIC timer, periodic
lapic_timer_isr:
    inc dword [lapic_ticks]
    mov dword [LAPIC_EOI], 0
    IRET_SAME_PL

; LAPIC timer, one-shot watchdog while the PIT is being counted
lapic_watchdog_isr:
    inc dword [watchdog_ticks]
    mov dword [LAPIC_EOI], 0
    IRET_SAME_PL

; LAPIC spurious vector: no EOI
spurious_isr:
    IRET_SAME_PL
