; Real-mode AP trampoline of the smp guest. The BSP copies the bytes between
; trampoline_start and trampoline_end to TRAMPOLINE_BASE and points the SIPI
; vector at it. An AP starts at CS:IP = 0800:0000 in real mode, loads the
; trampoline's own GDT, enters 32-bit protected mode, takes a ticket for a
; per-CPU stack and calls ap_main(ticket) (smp.c); then it parks in cli; hlt.
;
; Code in the copy addresses itself as TRAMPOLINE_BASE + (label - trampoline_start);
; everything else it touches (ap_main, the stacks, the ticket) is at its linked
; address in the image. The blob lives in a data section: it runs only as a copy.

TRAMPOLINE_BASE equ 0x8000
CODE_SELECTOR   equ 0x08
DATA_SELECTOR   equ 0x10
CR0_PE          equ 1
AP_STACK_SHIFT  equ 12
MAX_APS         equ 15

%define TRAMPOLINE_ADDR(label) (TRAMPOLINE_BASE + (label) - trampoline_start)

extern ap_main

section .data.trampoline progbits alloc noexec write align=16
global trampoline_start
global trampoline_end

bits 16
trampoline_start:
    cli
    cld
    mov ax, cs
    mov ds, ax
    lgdt [gdt_pointer - trampoline_start]
    mov eax, cr0
    or eax, CR0_PE
    mov cr0, eax
    jmp dword CODE_SELECTOR:TRAMPOLINE_ADDR(protected_entry)

bits 32
protected_entry:
    mov ax, DATA_SELECTOR
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov eax, 1
    lock xadd [ap_stack_ticket], eax
    cmp eax, MAX_APS
    jae .park                       ; more APs than stacks: stay out of the way
    mov ebx, eax
    inc eax
    shl eax, AP_STACK_SHIFT
    add eax, ap_stacks
    mov esp, eax                    ; top of stack number `ticket`
    push ebx
    mov eax, ap_main
    call eax
.park:
    cli
    hlt
    jmp .park

align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF           ; 0x08: flat 32-bit code
    dq 0x00CF92000000FFFF           ; 0x10: flat data
gdt_end:
gdt_pointer:
    dw gdt_end - gdt - 1
    dd TRAMPOLINE_ADDR(gdt)
trampoline_end:

section .data
global ap_stack_ticket
align 4
ap_stack_ticket: dd 0

section .bss
global ap_stacks
alignb 4096
ap_stacks:
    resb MAX_APS << AP_STACK_SHIFT
