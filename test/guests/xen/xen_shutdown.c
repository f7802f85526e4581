/*
 * SCHEDOP_shutdown_code then SCHEDOP_shutdown: the first code wins, so a
 * "crash" shutdown after shutdown_code(poweroff) powers the domain off and
 * basalt-vmm exits with status 0 without the test exit port. Prints PASS
 * first; a shutdown that returns is a failure (status 1).
 */
#include "xen/xen_evt_rt.h"

const char guest_name[] = GUEST_NAME;

void guest_main(u32 nr_vcpus) {
    (void)nr_vcpus;
    xen_setup();
    static struct sched_shutdown s;
    s.reason = SHUTDOWN_poweroff;
    expect("shutdown_code", sched_op(SCHEDOP_shutdown_code, &s), 0);
    print("PASS ");
    print(guest_name);
    print("\n");
    s.reason = SHUTDOWN_crash;
    sched_op(SCHEDOP_shutdown, &s);
    fail("SCHEDOP_shutdown returned to the guest");
}
