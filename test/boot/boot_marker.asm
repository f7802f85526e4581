; A boot sector for the firmware boot tests (suite boot): loaded by SeaBIOS
; at 0x7C00 from a disk's MBR or as an El Torito no-emulation image, it
; prints a marker on COM1 (QEMU's 16550, read back from QEMU's serial file)
; and on the 0xE9 debug port (basalt-vmm's console), then powers the guest
; off through ACPI: SLP_TYP for S5 (0 in hvmloader's DSDT) | SLP_EN written
; to PM1a_CNT, which Xen (and Basalt's core) place at 0xB004.
bits 16
org 0x7C00

COM1_DATA       equ 0x3F8
COM1_LSR        equ 0x3FD
LSR_THR_EMPTY   equ 0x20
DEBUG_PORT      equ 0xE9
PM1A_CNT        equ 0xB004
SLP_TYP_S5      equ 0 << 10
SLP_EN          equ 1 << 13

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7C00
    cld
    mov si, marker
.next:
    lodsb
    test al, al
    jz .off
    mov bl, al
    mov dx, COM1_LSR
.wait:
    in al, dx
    test al, LSR_THR_EMPTY
    jz .wait
    mov al, bl
    mov dx, COM1_DATA
    out dx, al
    out DEBUG_PORT, al
    jmp .next
.off:
    mov dx, PM1A_CNT
    mov ax, SLP_TYP_S5 | SLP_EN
    out dx, ax
.halt:
    hlt
    jmp .halt

marker: db "BASALT BOOT SECTOR OK", 13, 10, 0

    times 510 - ($ - $$) db 0
    dw 0xAA55
