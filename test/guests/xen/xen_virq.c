/*
 * VIRQ_DEBUG and VIRQ_CONSOLE as an HVM domU sees them under Xen 4.17.
 * VIRQ_DEBUG is per-vCPU; Xen's 'q' debug key sends it to every vCPU of every
 * domain. The runner (run_with_debug_key.py) waits for READY, then sends
 * {"command":"debug-key","key":"q"} over the control socket; the guest polls
 * its VIRQ_DEBUG port until then. VIRQ_CONSOLE is global: it binds on vCPU 0
 * only, and Xen raises it for the hardware domain alone, so it must never be
 * pending here. Built twice: 32-bit (xen_virq32) and 64-bit (xen_virq64).
 */
#include "xen/xen_evt_rt.h"

const char guest_name[] = GUEST_NAME;

#define VIRQ_DEBUG 1
#define NS_PER_S 1000000000ull
#define DEBUG_KEY_WAIT_S 120 /* generous: the runner sends the key at once */

static u32 ports[1];

void guest_main(u32 nr_vcpus) {
    (void)nr_vcpus;
    xen_setup();
    map_shared_info();

    u32 debug, console, unused;
    expect("bind VIRQ_DEBUG", bind2(EVTCHNOP_bind_virq, VIRQ_DEBUG, 0, &debug), 0);
    expect("bind VIRQ_DEBUG twice", bind2(EVTCHNOP_bind_virq, VIRQ_DEBUG, 0, &unused), -XEN_EEXIST);
    expect("bind VIRQ_CONSOLE", bind2(EVTCHNOP_bind_virq, VIRQ_CONSOLE, 0, &console), 0);
    expect("bind VIRQ_CONSOLE on vCPU 1 (global VIRQ)",
           bind2(EVTCHNOP_bind_virq, VIRQ_CONSOLE, 1, &unused), -XEN_EINVAL);
    if (test_bit(pending_words(), debug))
        fail("VIRQ_DEBUG pending before any debug key");

    print("READY\n");
    ports[0] = debug;
    u64 deadline = xen_now() + DEBUG_KEY_WAIT_S * NS_PER_S;
    while (!test_bit(pending_words(), debug)) {
        expect("poll VIRQ_DEBUG", poll_ports(ports, 1, deadline), 0);
        if (xen_now() >= deadline)
            fail("no VIRQ_DEBUG after the debug key");
    }
    print("VIRQ_DEBUG arrived\n");
    if (test_bit(pending_words(), console))
        fail("VIRQ_CONSOLE fired for a domU");
    pass();
}
