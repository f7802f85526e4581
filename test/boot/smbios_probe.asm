; A boot sector for the SMBIOS test (suite boot): it finds the SMBIOS 2.x
; entry point hvmloader built (SeaBIOS copies it into the F segment, 16-byte
; aligned), copies the structure table from high memory below 1 MiB with
; the BIOS block move (int 15h AH=87h), walks it, and prints
;   SMBIOS BIOS-VENDOR=<type 0 vendor>
;   SMBIOS SYSTEM-SERIAL=<type 1 serial number>
;   SMBIOS UUID=<type 1 UUID bytes in order, 8-4-4-4-12 upper-case hex>
;   SMBIOS OEM-1=<type 11 first string>
;   SMBIOS END
; on COM1 and the 0xE9 debug port, then powers off through ACPI as
; boot_marker.asm does. The runner compares the strings with --smbios.
bits 16
org 0x7C00

COM1_DATA       equ 0x3F8
COM1_LSR        equ 0x3FD
LSR_THR_EMPTY   equ 0x20
DEBUG_PORT      equ 0xE9
PM1A_CNT        equ 0xB004
SLP_EN_S5       equ 1 << 13          ; SLP_TYP 0 (S5 in hvmloader's DSDT)
FSEG            equ 0xF000
ANCHOR_SM       equ '_SM_'           ; as a little-endian dword
ANCHOR_DMI      equ '_DMI'
EP_DMI          equ 0x10             ; entry point: intermediate anchor
EP_TABLE_LEN    equ 0x16             ; u16 structure table length
EP_TABLE_ADDR   equ 0x18             ; u32 structure table address
TABLE_SEG       equ 0x1000           ; the copy lands at 0x10000
TABLE_LINEAR    equ TABLE_SEG << 4
TYPE_BIOS       equ 0
TYPE_SYSTEM     equ 1
TYPE_OEM        equ 11
TYPE_END        equ 127
BIOS_VENDOR_STR equ 4                ; offsets of string numbers in the
SYSTEM_SERIAL_STR equ 7              ; formatted areas (SMBIOS 2.x)
SYSTEM_UUID     equ 8                ; type 1: 16 bytes, the domain handle
; Bit N set: a '-' after UUID byte N; bit 15, the last byte's, ends the loop.
UUID_DASHES     equ (1 << 3) | (1 << 5) | (1 << 7) | (1 << 9) | (1 << 15)
DESC_DATA_RW    equ 0x93             ; present, ring 0, read/write data

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7C00
    cld
    ; Find "_SM_" .. "_DMI_" on a 16-byte boundary in F000:0000-FFF0.
    mov ax, FSEG
    mov es, ax
    xor di, di
.scan:
    cmp dword [es:di], ANCHOR_SM
    jne .next_para
    cmp dword [es:di + EP_DMI], ANCHOR_DMI
    je .found
.next_para:
    add di, 16
    jnz .scan
    mov si, msg_missing
    call print
    jmp power_off

.found:
    ; Block move descriptors: source = the table, destination = 0x10000.
    mov cx, [es:di + EP_TABLE_LEN]
    mov eax, [es:di + EP_TABLE_ADDR]
    mov [gdt_src + 2], ax
    shr eax, 16
    mov [gdt_src + 4], al
    mov [gdt_src + 7], ah
    inc cx                           ; bytes -> words, rounded up
    shr cx, 1
    push ds
    pop es
    mov si, gdt
    mov ah, 0x87
    int 0x15
    jc .copy_failed

    mov ax, TABLE_SEG
    mov ds, ax                       ; DS:BX walks the copy
    xor bx, bx
.walk:
    mov al, [bx]                     ; type
    cmp al, TYPE_END
    je .done
    cmp al, TYPE_BIOS
    jne .not_bios
    mov si, msg_vendor
    mov dl, [bx + BIOS_VENDOR_STR]
    call print_field
.not_bios:
    cmp al, TYPE_SYSTEM
    jne .not_system
    mov si, msg_serial
    mov dl, [bx + SYSTEM_SERIAL_STR]
    call print_field
    call print_uuid                  ; leaves AL 0: not TYPE_OEM below
.not_system:
    cmp al, TYPE_OEM
    jne .skip
    mov si, msg_oem
    mov dl, 1
    call print_field
.skip:
    ; Past the formatted area, then past the strings to the double NUL.
    movzx cx, byte [bx + 1]
    add bx, cx
.skip_strings:
    cmp word [bx], 0
    je .next_struct
    inc bx
    jmp .skip_strings
.next_struct:
    add bx, 2
    jmp .walk
.done:
    xor ax, ax
    mov ds, ax                       ; the messages are in segment 0
    mov si, msg_end
    call print
    jmp power_off
.copy_failed:
    mov si, msg_copy
    call print
    ; fall through

power_off:
    mov dx, PM1A_CNT
    mov ax, SLP_EN_S5
    out dx, ax
.halt:
    hlt
    jmp .halt

; Prints the label at CS:SI (segment 0), then string number DL of the
; structure at DS:BX, then CR LF. String 0 means "none": prints nothing.
print_field:
    push ax                          ; the caller's structure type
    push ds
    xor ax, ax
    mov ds, ax
    call print
    pop ds
    test dl, dl
    jz .eol
    movzx si, byte [bx + 1]
    add si, bx                       ; first string
.find:
    dec dl
    jz .emit
.past:
    lodsb
    test al, al
    jnz .past
    jmp .find
.emit:
    call print
.eol:
    push ds
    xor ax, ax
    mov ds, ax
    mov si, msg_crlf
    call print
    pop ds
    pop ax
    ret

; Prints "SMBIOS UUID=", the 16 UUID bytes of the type 1 structure at DS:BX
; in 8-4-4-4-12 hex (upper case: the runner compares without case), then
; CR LF. Clobbers AX, DX, SI.
print_uuid:
    push ds
    pop es                           ; ES:SI walks the UUID
    push ds
    push 0
    pop ds                           ; the messages are in segment 0
    mov si, msg_uuid
    call print
    lea si, [bx + SYSTEM_UUID]
    mov dx, UUID_DASHES
.byte:
    es lodsb
    aam 16                           ; AH = high nibble, AL = low nibble
    xchg al, ah
    call hex_digit
    mov al, ah
    call hex_digit
    shr dx, 1                        ; CF: a '-' follows; ZF: that was byte 15
    jz .eol
    jnc .byte
    mov al, '-'
    call putc
    jmp .byte
.eol:
    mov si, msg_crlf
    call print
    pop ds
    ret

; Prints AL (0-15) as a hex digit; keeps AH.
hex_digit:
    cmp al, 10
    sbb al, 0x69                     ; with das: '0'-'9' or 'A'-'F'
    das
    ; fall through

; Prints AL on COM1 and port 0xE9.
putc:
    push dx
    push ax
    mov dx, COM1_LSR
.wait:
    in al, dx
    test al, LSR_THR_EMPTY
    jz .wait
    pop ax
    mov dx, COM1_DATA
    out dx, al
    out DEBUG_PORT, al
    pop dx
    ret

; Prints the NUL-terminated string at DS:SI on COM1 and port 0xE9; AL ends 0.
print:
.next:
    lodsb
    test al, al
    jz .out
    call putc
    jmp .next
.out:
    ret

msg_vendor:  db "SMBIOS BIOS-VENDOR=", 0
msg_serial:  db "SMBIOS SYSTEM-SERIAL=", 0
msg_oem:     db "SMBIOS OEM-1=", 0
msg_uuid:    db "SMBIOS UUID=", 0
msg_end:     db "SMBIOS END"
msg_crlf:    db 13, 10, 0
msg_missing: db "SMBIOS NO ENTRY POINT", 13, 10, 0
msg_copy:    db "SMBIOS COPY FAILED", 13, 10, 0

; int 15h AH=87h: six descriptors; the BIOS fills in all but source and
; destination (limit 0xFFFF, base bits 0-23, access, base bits 24-31).
align 8
gdt:
    times 16 db 0                    ; null, GDT
gdt_src:
    dw 0xFFFF, 0
    db 0, DESC_DATA_RW, 0, 0
gdt_dst:
    dw 0xFFFF, TABLE_LINEAR & 0xFFFF
    db TABLE_LINEAR >> 16, DESC_DATA_RW, 0, 0
    times 16 db 0                    ; BIOS code and stack

    times 510 - ($ - $$) db 0
    dw 0xAA55
