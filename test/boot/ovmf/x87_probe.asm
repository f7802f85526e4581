; x87 probe guest (ELF32, linked at 1 MiB, entered in flat protected mode by
; basalt-vmm --kernel). It runs a few x87 instructions and checks their result:
; where the host KVM can execute x87 code in a guest it prints "X87 OK" on port
; 0xE9 and exits through the test exit port with 0. Where KVM cannot (this
; workplace's software-assisted KVM), the first x87 instruction ends the run in
; a KVM emulation failure, which basalt-vmm reports as a crash (status 2).
bits 32

CONSOLE_PORT equ 0xE9
TEST_EXIT_PORT equ 0xF4
EXPECTED_SUM equ 2 ; 1.0 + 1.0, stored as an integer

section .text
global start
start:
    fninit                   ; the probe: the instruction OVMF dies at here
    fld1
    fld1
    faddp st1, st0
    fistp dword [result]
    cmp dword [result], EXPECTED_SUM
    jne .wrong
    mov esi, ok_msg
    mov ecx, ok_len
    mov al, 0
    jmp .report
.wrong:
    mov esi, bad_msg
    mov ecx, bad_len
    mov al, 1
.report:
    mov bl, al
    mov dx, CONSOLE_PORT
    rep outsb
    mov al, bl
    out TEST_EXIT_PORT, al
.halt:
    hlt
    jmp .halt

section .data
result: dd 0
ok_msg: db "X87 OK", 10
ok_len equ $ - ok_msg
bad_msg: db "X87 WRONG RESULT", 10
bad_len equ $ - bad_msg
