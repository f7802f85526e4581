; A firmware-override guest: entered in 32-bit protected mode with EBX
; pointing at struct hvm_start_info. It checks the magic, the version, that
; the memory map describes RAM at 0, and that the command-line pointer is
; valid, then reports on port 0xE9 and exits through port 0xF4.
bits 32
section .text
global start
start:
    mov esi, fail_magic
    cmp dword [ebx], 0x336ec578     ; XEN_HVM_START_MAGIC_VALUE
    jne report_fail
    mov esi, fail_version
    cmp dword [ebx + 4], 1
    jb report_fail
    mov esi, fail_memmap
    mov edi, [ebx + 40]             ; memmap_paddr (low half)
    cmp dword [ebx + 48], 0         ; memmap_entries
    je report_fail
    cmp dword [edi], 0              ; first range starts at 0 ...
    jne report_fail
    cmp dword [edi + 16], 1         ; ... and is RAM
    jne report_fail
    mov esi, fail_cmdline
    mov edi, [ebx + 24]             ; cmdline_paddr (low half)
    cmp byte [edi], 0
    jne report_fail
    mov esi, pass_msg
    call print
    mov eax, 0
    out 0xF4, eax
    hlt
report_fail:
    call print
    mov eax, 1
    out 0xF4, eax
    hlt

print:                              ; prints the NUL-terminated string at ESI
    mov dx, 0xE9
.next:
    lodsb
    test al, al
    jz .done
    out dx, al
    jmp .next
.done:
    ret

section .rodata
pass_msg: db "PASS start_info", 10, 0
fail_magic: db "FAIL start_info: bad magic", 10, 0
fail_version: db "FAIL start_info: version < 1", 10, 0
fail_memmap: db "FAIL start_info: memory map", 10, 0
fail_cmdline: db "FAIL start_info: command line", 10, 0
