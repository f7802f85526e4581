; Common exception/interrupt stubs for vectors 0..63 (64-bit). Each stub pushes a
; dummy error code where the CPU pushes none, then the vector, saves the general
; registers and calls isr_dispatch(struct isr_frame *) (rt.c).
;
; The return does not use IRETQ: this workplace's KVM runs guest code in its
; instruction emulator, which implements IRET (and INT n) only in real mode and
; stops the VM with an emulation failure otherwise. The tail below does what
; IRETQ does for a same-privilege return (RSP, RFLAGS, RIP; CS and SS stay),
; and is equally correct on hardware. Guest code is built with -mno-red-zone,
; so the 16 bytes below the interrupted RSP are free.

bits 64

ISR_STUBS equ 64

extern isr_dispatch

section .text
%macro ISR_STUB 1
isr_stub_%1:
%if %1 != 8 && %1 != 10 && %1 != 11 && %1 != 12 && %1 != 13 && %1 != 14 && %1 != 17 && %1 != 21 && %1 != 29 && %1 != 30
    push qword 0
%endif
    push qword %1
    jmp isr_common
%endmacro

%assign v 0
%rep ISR_STUBS
ISR_STUB v
%assign v v + 1
%endrep

isr_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    cld
    mov rdi, rsp                    ; struct isr_frame *
    mov rbx, rsp
    and rsp, -16                    ; SysV stack alignment for the C call
    call isr_dispatch
    mov rsp, rbx
    ; Frame: 15 registers (0..119), vector 120, error code 128, then the CPU's
    ; RIP 136, CS 144, RFLAGS 152, RSP 160, SS 168. The CPU aligned its frame
    ; to 16 bytes below the interrupted RSP, so [RSP-16, RSP) lies above the
    ; RIP/CS/RFLAGS slots and above everything we still have to read.
    mov rax, [rsp + 160]
    mov rcx, [rsp + 136]
    mov [rax - 8], rcx              ; RIP, for ret
    mov rcx, [rsp + 152]
    mov [rax - 16], rcx             ; RFLAGS, for popfq
    sub rax, 16
    mov [rsp + 120], rax            ; the vector slot now holds the new RSP
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    mov rsp, [rsp]
    bt qword [rsp], 9               ; RFLAGS.IF
    jnc .if_clear
    ; Set IF with STI so that its one-instruction shadow covers the RET, as IRET
    ; would: no interrupt nests on this stack before the return completes.
    and qword [rsp], ~0x200
    popfq
    sti
    ret
.if_clear:
    popfq
    ret

section .rodata
global isr_stub_table
align 8
isr_stub_table:
%assign v 0
%rep ISR_STUBS
    dq isr_stub_ %+ v
%assign v v + 1
%endrep
