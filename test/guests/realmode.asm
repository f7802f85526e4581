; realmode: real-mode segment arithmetic and an IVT-dispatched software interrupt.
;
; basalt-vmm --kernel realmode.bin --entry real: a flat binary loaded at 0x7C00 and
; entered at 0000:7C00 with SP = 0x7000. It is also a valid boot sector (0xAA55),
; so it runs under any PC BIOS (qemu-system-x86_64 -drive format=raw,file=...).
; About 150 guest instructions.

bits 16
org 0x7C00

CONSOLE_PORT   equ 0xE9
TEST_EXIT_PORT equ 0xF4
TEST_VECTOR    equ 0x62                ; a "user" vector, unused by PC BIOSes
HANDLER_SEG    equ 0x07C0              ; the handler runs with CS != 0
PATTERN        equ 0xCAFEBABE

start:
    cli
    jmp 0x0000:normalised              ; a BIOS may enter at 07C0:0000
normalised:
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    cld

    ; ---- segment arithmetic: 1234:0010 = 1235:0000 = 1000:2350 = linear 0x12350
    mov ax, 0x1234
    mov es, ax
    mov dword [es:0x0010], PATTERN
    mov ax, 0x1235
    mov fs, ax
    mov si, msg_alias_fs
    cmp dword [fs:0x0000], PATTERN
    jne fail
    mov ax, 0x1000
    mov gs, ax
    mov si, msg_alias_gs
    cmp dword [gs:0x2350], PATTERN
    jne fail
    ; a byte written through one alias lands inside the dword read through another
    mov byte [fs:0x0003], 0x11
    mov si, msg_alias_byte
    cmp dword [es:0x0010], (PATTERN & 0x00FFFFFF) | 0x11000000
    jne fail
    ; a non-zero base through DS as well (default segment of [bx])
    push ds
    mov ax, 0x1200
    mov ds, ax
    mov bx, 0x0350
    mov eax, [bx]
    pop ds
    mov si, msg_alias_ds
    cmp eax, (PATTERN & 0x00FFFFFF) | 0x11000000
    jne fail

    ; ---- IVT entry, triggered with int N
    mov word [TEST_VECTOR * 4], handler - 0x7C00
    mov word [TEST_VECTOR * 4 + 2], HANDLER_SEG
    mov byte [handler_ran], 0
    mov bx, sp
    mov ax, 0x1234
    int TEST_VECTOR
after_int:
    mov si, msg_not_ran
    cmp byte [handler_ran], 1
    jne fail
    mov si, msg_bad_ax
    cmp ax, 0x1234 ^ 0xFFFF
    jne fail
    mov si, msg_bad_sp
    cmp sp, bx
    jne fail
    mov si, msg_bad_cs
    cmp word [handler_cs], HANDLER_SEG
    jne fail
    mov si, msg_bad_frame
    cmp word [handler_ret_ip], after_int
    jne fail
    cmp word [handler_ret_cs], 0
    jne fail

    mov si, msg_pass
    call print
    xor al, al
    out TEST_EXIT_PORT, al
    jmp halt

fail:
    push si
    mov si, msg_fail
    call print
    pop si
    call print
    mov si, msg_newline
    call print
    mov al, 1
    out TEST_EXIT_PORT, al
halt:
    cli
    hlt
    jmp halt

; si = NUL-terminated string
print:
    lodsb
    test al, al
    jz .done
    out CONSOLE_PORT, al
    jmp print
.done:
    ret

; Entered at HANDLER_SEG:(handler - 0x7C00), i.e. the same linear address as
; `handler` but with CS = 0x07C0. DS is still 0, so data labels stay absolute.
handler:
    push bp
    mov bp, sp
    mov dx, [bp + 2]                   ; return IP pushed by int
    mov [handler_ret_ip], dx
    mov dx, [bp + 4]                   ; return CS
    mov [handler_ret_cs], dx
    mov dx, cs
    mov [handler_cs], dx
    pop bp
    mov byte [handler_ran], 1
    xor ax, 0xFFFF
    iret

msg_pass:       db "PASS realmode", 10, 0
msg_fail:       db "FAIL realmode: ", 0
msg_newline:    db 10, 0
msg_alias_fs:   db "1235:0 != 1234:10", 0
msg_alias_gs:   db "1000:2350 != 1234:10", 0
msg_alias_byte: db "FS byte write not seen via ES", 0
msg_alias_ds:   db "DS=1200 read wrong", 0
msg_not_ran:    db "handler not run", 0
msg_bad_ax:     db "handler AX lost", 0
msg_bad_sp:     db "SP not restored", 0
msg_bad_cs:     db "handler CS != IVT seg", 0
msg_bad_frame:  db "bad int frame CS:IP", 0

handler_ran:    db 0
handler_cs:     dw 0
handler_ret_ip: dw 0
handler_ret_cs: dw 0

    times 510 - ($ - $$) db 0
    dw 0xAA55
