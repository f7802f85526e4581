; A guest that says READY on the debug console and then halts with interrupts
; off forever: the vCPU sleeps inside KVM_RUN, which is what pause, resume and
; destroy through the control socket must be able to interrupt.
bits 32
section .text
global start
start:
    mov esi, ready
    mov dx, 0xE9
    mov ecx, ready_len
    rep outsb
.halt:
    cli
    hlt
    jmp .halt

section .rodata
ready: db "READY", 10
ready_len equ $ - ready
