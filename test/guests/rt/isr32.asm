; Common exception/interrupt stubs for vectors 0..63 (32-bit). Each stub pushes a
; dummy error code where the CPU pushes none, then the vector, and calls
; isr_dispatch(struct isr_frame *) (rt.c) with the registers saved by pushad.
;
; The return does not use IRET: this workplace's KVM runs guest code in its
; instruction emulator, which implements IRET (and INT n) only in real mode and
; stops the VM with an emulation failure otherwise. IRET_SAME_PL (iret_same_pl.inc)
; does what IRET does for a same-privilege return, in instructions the emulator
; has, and is equally correct on hardware.

bits 32

%include "iret_same_pl.inc"

ISR_STUBS equ 64

extern isr_dispatch

section .text
%macro ISR_STUB 1
isr_stub_%1:
%if %1 != 8 && %1 != 10 && %1 != 11 && %1 != 12 && %1 != 13 && %1 != 14 && %1 != 17 && %1 != 21 && %1 != 29 && %1 != 30
    push dword 0
%endif
    push dword %1
    jmp isr_common
%endmacro

%assign v 0
%rep ISR_STUBS
ISR_STUB v
%assign v v + 1
%endrep

isr_common:
    pushad
    cld
    push esp                        ; struct isr_frame *
    call isr_dispatch
    add esp, 4
    popad
    add esp, 8                      ; vector, error code
    IRET_SAME_PL

section .rodata
global isr_stub_table
align 4
isr_stub_table:
%assign v 0
%rep ISR_STUBS
    dd isr_stub_ %+ v
%assign v v + 1
%endrep
