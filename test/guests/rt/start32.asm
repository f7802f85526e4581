; Entry of the 32-bit C test guests (basalt-vmm --entry protected).
;
; Basalt's contract: flat 32-bit protected mode, paging off, GDT at 0x500,
; ESI = number of vCPUs. The Multiboot v1 header lets the same ELF run under
; `qemu-system-x86_64 -kernel` too; then EAX holds the Multiboot magic and the
; loader's GDT is not guaranteed, so we load one with the same selectors.

bits 32

MB_HEADER_MAGIC equ 0x1BADB002
MB_HEADER_FLAGS equ 0               ; ELF image: the loader uses the program headers
MB_LOADER_MAGIC equ 0x2BADB002
STACK_SIZE      equ 16384
CPUID_EDX_HTT   equ 1 << 28

section .multiboot progbits alloc noexec nowrite align=4
    dd MB_HEADER_MAGIC
    dd MB_HEADER_FLAGS
    dd -(MB_HEADER_MAGIC + MB_HEADER_FLAGS)

section .text.start progbits alloc exec nowrite align=16
global _start
extern guest_main
extern fail

_start:
    cli
    cld
    cmp eax, MB_LOADER_MAGIC
    jne .contract_state
    lgdt [mb_gdt_pointer]
    jmp 0x08:.reload_cs
.reload_cs:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    ; Multiboot does not pass the CPU count: take CPUID.1:EBX[23:16] (QEMU -smp N,cores=N).
    mov eax, 1
    cpuid
    mov esi, 1
    test edx, CPUID_EDX_HTT
    jz .contract_state
    shr ebx, 16
    movzx esi, bl
    test esi, esi
    jnz .contract_state
    mov esi, 1
.contract_state:
    mov esp, stack_top
    push esi
    call guest_main
    push returned_msg
    call fail
.hang:
    cli
    hlt
    jmp .hang

section .rodata
returned_msg: db "guest_main returned", 0
align 8
mb_gdt:
    dq 0
    dq 0x00CF9A000000FFFF           ; 0x08: flat 32-bit code
    dq 0x00CF92000000FFFF           ; 0x10: flat data
mb_gdt_end:
mb_gdt_pointer:
    dw mb_gdt_end - mb_gdt - 1
    dd mb_gdt

section .bss
align 16
stack_bottom:
    resb STACK_SIZE
stack_top:
