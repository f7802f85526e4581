/*
 * dirtylog: the dirty-logging probe of README.md, run with
 * --test-dirty-port 0x700 --memory 32 (the probe's 16 ports must not hold the
 * test exit port 0xF4). The window is pfns 0x400..0x4FF
 * (4-5 MiB); this image (1 MiB) and its stack/data stay outside it.
 * Rounds: declared writes must match (twice); an undeclared write must be
 * reported as a mismatch; a write before BEGIN must be forgotten by BEGIN.
 * basalt-vmm --entry protected. About 800 guest instructions.
 */
#include "rt/rt.h"

const char guest_name[] = "dirtylog";

#ifndef DIRTY_PORT
#define DIRTY_PORT 0x700 /* meson passes -DDIRTY_PORT; PORT..PORT+15 must not hold 0xF4 */
#endif
#define DIRTY_CMD (DIRTY_PORT + 0)
#define DIRTY_WINDOW_PFN (DIRTY_PORT + 4)
#define DIRTY_WINDOW_PAGES (DIRTY_PORT + 8)
#define DIRTY_DECLARE (DIRTY_PORT + 12)
#define CMD_BEGIN 1
#define CMD_CHECK 2
#define RESULT_MATCH 1
#define RESULT_MISMATCH 0
#define RESULT_NONE 0xFFFFFFFFu

#define WINDOW_FIRST_PFN 0x400
#define WINDOW_PAGES 0x100
#define PAGE_SHIFT 12

static u8 round_no;

static void touch(u32 pfn, int declare) {
    if (pfn < WINDOW_FIRST_PFN || pfn >= WINDOW_FIRST_PFN + WINDOW_PAGES)
        fail_hex("test bug: page outside the window", pfn);
    volatile u8* p = (volatile u8*)(uptr)((pfn << PAGE_SHIFT) + (pfn & 0xFF));
    *p = (u8)(round_no + 1);
    if (declare)
        outl(DIRTY_DECLARE, pfn);
}

static u32 check(void) {
    outl(DIRTY_CMD, CMD_CHECK);
    return inl(DIRTY_CMD);
}

static void expect(u32 got, u32 want, const char* why) {
    print("round ");
    print_dec(round_no);
    print(": check reads ");
    print_hex(got);
    print("\n");
    if (got != want)
        fail_hex(why, got);
}

void guest_main(u32 nr_vcpus) {
    (void)nr_vcpus;
    outl(DIRTY_WINDOW_PFN, WINDOW_FIRST_PFN);
    outl(DIRTY_WINDOW_PAGES, WINDOW_PAGES);
    print("before any check: ");
    print_hex(inl(DIRTY_CMD));
    print("\n");

    round_no = 1;
    outl(DIRTY_CMD, CMD_BEGIN);
    touch(0x400, 1);
    touch(0x403, 1);
    touch(0x47F, 1);
    touch(0x4FF, 1);
    expect(check(), RESULT_MATCH, "round 1: written pages 400 403 47f 4ff not matched");

    round_no = 2;
    outl(DIRTY_CMD, CMD_BEGIN);
    touch(0x401, 1);
    touch(0x480, 1);
    expect(check(), RESULT_MATCH, "round 2: written pages 401 480 not matched");

    round_no = 3;
    outl(DIRTY_CMD, CMD_BEGIN);
    touch(0x402, 0);
    expect(check(), RESULT_MISMATCH, "round 3: an undeclared write to 402 went unnoticed");
    print("round 3: mismatch detected as expected\n");

    /* Logging is still on: a write before BEGIN must be discarded by it. */
    round_no = 4;
    touch(0x405, 0);
    outl(DIRTY_CMD, CMD_BEGIN);
    expect(check(), RESULT_MATCH, "round 4: BEGIN did not discard a write made before it");

    pass();
}
