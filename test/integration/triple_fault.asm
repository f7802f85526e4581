; A guest that triple-faults: with an empty IDT, a divide error cannot be
; delivered (#DF cannot be either), so the CPU shuts down. basalt-vmm must
; report the crash with a register dump and exit with status 2.
bits 32
section .text
global start
start:
    lidt [empty_idt]
    mov esi, msg
    mov dx, 0xE9
    mov ecx, msg_len
    rep outsb
    xor ecx, ecx
    mov eax, 0x1234
    div ecx                 ; #DE -> #DF -> triple fault
    hlt

section .rodata
empty_idt: dw 0
           dd 0
msg: db "about to triple fault", 10
msg_len equ $ - msg
