; Entry of the 64-bit C test guests (basalt-vmm --entry long).
; Basalt's contract: 64-bit mode, identity paging of 0-4 GiB, RSI = number of vCPUs.

bits 64

STACK_SIZE equ 16384

section .text.start progbits alloc exec nowrite align=16
global _start
extern guest_main
extern fail

_start:
    cli
    cld
    mov rsp, stack_top
    mov edi, esi
    call guest_main
    lea rdi, [rel returned_msg]
    call fail
.hang:
    cli
    hlt
    jmp .hang

section .rodata
returned_msg: db "guest_main returned", 0

section .bss
align 16
    resb STACK_SIZE
stack_top:
