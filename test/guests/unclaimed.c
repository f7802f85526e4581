/*
 * unclaimed: accesses nobody claims. Port I/O to an unclaimed port reads all
 * ones (1/2/4 bytes, and through rep ins{b,w,d}) and drops writes; rep outsb to
 * the console prints; MMIO in the hole below 4 GiB with no device reads all
 * ones (1/2/4 bytes, and through rep movsb) and drops writes.
 * basalt-vmm --entry protected. About 1 500 guest instructions.
 */
#include "rt/rt.h"

const char guest_name[] = "unclaimed";

/* Not a PIC, PIT, keyboard, RTC, serial, POST, console or test port. */
#define UNCLAIMED_PORT 0x2E0
/* Below the MMIO hole at 0xF0000000 and far above guest RAM. */
#define UNCLAIMED_MMIO_A 0xE0000000u
#define UNCLAIMED_MMIO_B 0xE0001000u

#define BUF_BYTES 16
#define GUARD 0x5A

static u8 buffer[BUF_BYTES + 4];

static void fill_buffer(void) {
    memset(buffer, 0, BUF_BYTES);
    memset(buffer + BUF_BYTES, GUARD, 4);
}

static void check_buffer_ones(const char* what) {
    for (u32 i = 0; i < BUF_BYTES; i++)
        if (buffer[i] != 0xFF) {
            print("FAIL unclaimed: ");
            print(what);
            print(": byte ");
            print_dec(i);
            fail_hex(" is not 0xff", buffer[i]);
        }
    for (u32 i = BUF_BYTES; i < BUF_BYTES + 4; i++)
        if (buffer[i] != GUARD)
            fail(what);
}

static void check_port_reads(const char* when) {
    u8 b = inb(UNCLAIMED_PORT);
    u16 w = inw(UNCLAIMED_PORT);
    u32 l = inl(UNCLAIMED_PORT);
    if (b != 0xFF || w != 0xFFFF || l != 0xFFFFFFFFu) {
        print(when);
        print(": inb ");
        print_hex(b);
        print(" inw ");
        print_hex(w);
        print(" inl ");
        print_hex(l);
        print("\n");
        fail("unclaimed port does not read all ones");
    }
}

static void check_port_io(void) {
    check_port_reads("before writes");
    outb(UNCLAIMED_PORT, 0x12);
    outw(UNCLAIMED_PORT, 0x3456);
    outl(UNCLAIMED_PORT, 0x789ABCDEu);
    check_port_reads("after writes");

    void* dst;
    u32 count;
    fill_buffer();
    dst = buffer;
    count = BUF_BYTES;
    __asm__ volatile("cld; rep insb" : "+D"(dst), "+c"(count) : "d"(UNCLAIMED_PORT) : "memory");
    check_buffer_ones("rep insb");
    if (count != 0 || dst != buffer + BUF_BYTES)
        fail("rep insb did not advance EDI/ECX");

    fill_buffer();
    dst = buffer;
    count = BUF_BYTES / 2;
    __asm__ volatile("cld; rep insw" : "+D"(dst), "+c"(count) : "d"(UNCLAIMED_PORT) : "memory");
    check_buffer_ones("rep insw");
    if (count != 0 || dst != buffer + BUF_BYTES)
        fail("rep insw did not advance EDI/ECX");

    fill_buffer();
    dst = buffer;
    count = BUF_BYTES / 4;
    __asm__ volatile("cld; rep insl" : "+D"(dst), "+c"(count) : "d"(UNCLAIMED_PORT) : "memory");
    check_buffer_ones("rep insl");
    if (count != 0 || dst != buffer + BUF_BYTES)
        fail("rep insd did not advance EDI/ECX");

    /* String output: dropped on the unclaimed port, printed on the console. */
    static const char dropped[] = "dropped!";
    const void* src = dropped;
    count = sizeof(dropped) - 1;
    __asm__ volatile("cld; rep outsb" : "+S"(src), "+c"(count) : "d"(UNCLAIMED_PORT) : "memory");
    src = dropped;
    count = 2;
    __asm__ volatile("cld; rep outsl" : "+S"(src), "+c"(count) : "d"(UNCLAIMED_PORT) : "memory");
    check_port_reads("after string writes");

    static const char line[] = "string io ok\n";
    src = line;
    count = sizeof(line) - 1;
    __asm__ volatile("cld; rep outsb" : "+S"(src), "+c"(count) : "d"(CONSOLE_PORT) : "memory");
    if (count != 0 || src != line + sizeof(line) - 1)
        fail("rep outsb did not advance ESI/ECX");
}

static void check_mmio_reads(uptr base, const char* when) {
    u8 b = *(volatile u8*)(base + 1);
    u16 w = *(volatile u16*)(base + 2);
    u32 l = *(volatile u32*)(base + 4);
    u32 l0 = *(volatile u32*)base;
    if (b != 0xFF || w != 0xFFFF || l != 0xFFFFFFFFu || l0 != 0xFFFFFFFFu) {
        print_hex(base);
        print(" ");
        print(when);
        print(": u8 ");
        print_hex(b);
        print(" u16 ");
        print_hex(w);
        print(" u32 ");
        print_hex(l);
        print("\n");
        fail("MMIO with no device does not read all ones");
    }
}

static void check_mmio(uptr base) {
    check_mmio_reads(base, "before writes");
    *(volatile u8*)(base + 1) = 0x12;
    *(volatile u16*)(base + 2) = 0x3456;
    *(volatile u32*)(base + 4) = 0x789ABCDEu;
    *(volatile u32*)base = 0;
    check_mmio_reads(base, "after writes");

    fill_buffer();
    const void* src = (const void*)base;
    void* dst = buffer;
    u32 count = BUF_BYTES;
    __asm__ volatile("cld; rep movsb" : "+S"(src), "+D"(dst), "+c"(count) : : "memory");
    check_buffer_ones("rep movsb from MMIO");
}

void guest_main(u32 nr_vcpus) {
    (void)nr_vcpus;
    check_port_io();
    print("port io ok\n");
    check_mmio(UNCLAIMED_MMIO_A);
    check_mmio(UNCLAIMED_MMIO_B);
    print("mmio ok\n");
    pass();
}
