; exit_loop: a port-I/O exit latency benchmark guest.
;
; Prints 'S' on 0xE9, executes ITERATIONS `out dx, al` to port 0x3000 (claimed
; by nothing in Basalt or in QEMU's pc machine, so each one is a full exit to
; userspace and back), prints 'E' and writes 0 to port 0xF4.
; With -DREAD_PORT=P it executes `in al, dx` from port P instead: bench/
; ioreq-latency uses P = 0x3FD, the 16550 line-status register, which QEMU
; owns (under Basalt each read is an ioreq round trip to the device model).
;   basalt-vmm --kernel exit_loop_20k.elf --entry protected --test-exit-port 0xf4
;     (exit status 0)
;   qemu-system-x86_64 -accel kvm -kernel exit_loop_20k.elf -debugcon stdio
;     -device isa-debug-exit,iobase=0xf4 (exit status 1 = (0 << 1) | 1)
; The Multiboot v1 header is what lets QEMU load the same ELF32 image.
; Build with nasm -f elf32 -DITERATIONS=N. Three guest instructions per exit.

bits 32

%ifndef ITERATIONS
%error "define ITERATIONS (nasm -DITERATIONS=N)"
%endif

MB_HEADER_MAGIC equ 0x1BADB002
MB_HEADER_FLAGS equ 0               ; ELF image: the loader uses the program headers
CONSOLE_PORT    equ 0xE9
EXIT_PORT       equ 0xF4
UNCLAIMED_PORT  equ 0x3000

section .multiboot progbits alloc noexec nowrite align=4
    dd MB_HEADER_MAGIC
    dd MB_HEADER_FLAGS
    dd -(MB_HEADER_MAGIC + MB_HEADER_FLAGS)

section .text progbits alloc exec nowrite align=16
global _start
_start:
    cli
    mov al, 'S'
    out CONSOLE_PORT, al
    mov ecx, ITERATIONS
%ifdef READ_PORT
    mov dx, READ_PORT
.loop:
    in al, dx
%else
    mov dx, UNCLAIMED_PORT
.loop:
    out dx, al
%endif
    dec ecx
    jnz .loop
    mov al, 'E'
    out CONSOLE_PORT, al
    xor eax, eax
    out EXIT_PORT, al
.halt:
    cli
    hlt
    jmp .halt
