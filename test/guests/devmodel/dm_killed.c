/*
 * dm_killed: reads the serial line-status register (0x3FD, QEMU's) in a loop
 * after printing LOOPING, so that the harness can kill QEMU mid-run and check
 * that basalt-vmm crashes the guest and exits with status 2, naming the
 * device model. It never passes on its own.
 */
#include "devmodel/dm_rt.h"

const char guest_name[] = "dm_killed";

#define SERIAL_LSR 0x3FD
#define SERIAL_LSR_NOTHING 0xFF /* what an unclaimed port reads */

void guest_main(u32 nr_vcpus) {
    (void)nr_vcpus;
    if (inb(SERIAL_LSR) == SERIAL_LSR_NOTHING)
        fail("0x3FD reads as unclaimed: no device model behind it");
    print("LOOPING\n");
    for (;;)
        (void)inb(SERIAL_LSR);
}
