/*
 * sched_op and vcpu_op: yield, poll (timeout, pending port, hostile counts,
 * ports and buffers), remote_shutdown and watchdog errnos, is_up, timers,
 * and the runstate area in the guest's layout (32-bit: no padding).
 * Built twice: 32-bit (xen_sched32) and 64-bit (xen_sched64).
 */
#include "xen/xen_evt_rt.h"

const char guest_name[] = GUEST_NAME;

#define POLL_MS 20
#define NS_PER_MS 1000000ull

static u32 ports[129];
static struct runstate area;

static void poll_tests(void) {
    u32 ipi;
    expect("bind_ipi", bind_ipi(0, &ipi), 0);
    ports[0] = ipi;
    expect("poll 129 ports", poll_ports(ports, 129, 0), -XEN_EINVAL);
    expect("poll unmapped list", poll_ports((u32*)0xE0000000u, 1, 0), -XEN_EFAULT);
    ports[1] = 5000;
    expect("poll port 5000", poll_ports(ports, 2, 0), -XEN_EINVAL);

    u64 start = xen_now();
    expect("poll with timeout", poll_ports(ports, 1, start + POLL_MS * NS_PER_MS), 0);
    u64 slept = xen_now() - start;
    if (slept < POLL_MS * NS_PER_MS)
        fail_hex("poll returned before its timeout (ns)", slept);

    set_bit(mask_words(), ipi); /* poll works on masked ports */
    expect("send", port_op(EVTCHNOP_send, ipi), 0);
    start = xen_now();
    expect("poll a pending port", poll_ports(ports, 1, start + 10000 * NS_PER_MS), 0);
    if (xen_now() - start > 5000 * NS_PER_MS)
        fail("poll of a pending port slept");
    expect("close", port_op(EVTCHNOP_close, ipi), 0);
}

static void sched_misc(void) {
    expect("yield", sched_op(SCHEDOP_yield, 0), 0);
    static struct {
        u16 domid, pad;
        u32 reason;
    } remote;
    remote.domid = GUEST_DOMID;
    expect("remote_shutdown self", sched_op(SCHEDOP_remote_shutdown, &remote), -XEN_EPERM);
    remote.domid = 42;
    expect("remote_shutdown dom42", sched_op(SCHEDOP_remote_shutdown, &remote), -XEN_ESRCH);
    static u32 wd[2];
    wd[0] = 3;
    wd[1] = 10;
    expect("watchdog id 3", sched_op(SCHEDOP_watchdog, wd), -XEN_EINVAL);
    wd[0] = 0;
    wd[1] = 600;
    expect("watchdog allocate", sched_op(SCHEDOP_watchdog, wd), 1);
    wd[0] = 1;
    wd[1] = 0;
    expect("watchdog free", sched_op(SCHEDOP_watchdog, wd), 0);
    expect("watchdog free twice", sched_op(SCHEDOP_watchdog, wd), -XEN_EINVAL);
    expect("unknown sched_op", sched_op(77, 0), -XEN_ENOSYS);
    expect("shutdown unmapped", sched_op(SCHEDOP_shutdown, (void*)(uptr)0xE0000000u), -XEN_EFAULT);
}

static void vcpu_tests(void) {
    expect("is_up vcpu 0", vcpu_op(VCPUOP_is_up, 0, 0), 1);
    expect("is_up vcpu 1 (absent)", vcpu_op(VCPUOP_is_up, 1, 0), -XEN_ENOENT);
    static u64 period;
    period = 100000; /* 100 us: below Xen's 1 ms minimum */
    expect("periodic 100us", vcpu_op(VCPUOP_set_periodic_timer, 0, &period), -XEN_EINVAL);
    period = 5 * NS_PER_MS;
    expect("periodic 5ms", vcpu_op(VCPUOP_set_periodic_timer, 0, &period), 0);
    expect("stop periodic", vcpu_op(VCPUOP_stop_periodic_timer, 0, 0), 0);
    static struct singleshot t;
    t.timeout_abs_ns = xen_now() + 1000 * NS_PER_MS;
    expect("singleshot", vcpu_op(VCPUOP_set_singleshot_timer, 0, &t), 0);
    expect("stop singleshot", vcpu_op(VCPUOP_stop_singleshot_timer, 0, 0), 0);
    expect("initialise the BSP", vcpu_op(VCPUOP_initialise, 0, &t), -XEN_EEXIST);

    static uptr reg[2];
    reg[0] = (uptr)&area;
    area.state = 0xFFFF;
    expect("register runstate", vcpu_op(VCPUOP_register_runstate_memory_area, 0, reg), 0);
    expect("runstate running", area.state, RUNSTATE_running);
    u32 ipi;
    expect("bind_ipi", bind_ipi(0, &ipi), 0);
    ports[0] = ipi;
    expect("poll to block", poll_ports(ports, 1, xen_now() + 5 * NS_PER_MS), 0);
    expect("runstate after block", area.state, RUNSTATE_running);
    if (area.time[RUNSTATE_blocked] < 5 * NS_PER_MS)
        fail_hex("runstate blocked time too small", area.time[RUNSTATE_blocked]);
    if (area.entry == 0 || area.time[RUNSTATE_running] == 0)
        fail("runstate entry/running time not filled");
    static struct runstate info;
    expect("get_runstate_info", vcpu_op(VCPUOP_get_runstate_info, 0, &info), 0);
    if (info.time[RUNSTATE_blocked] < area.time[RUNSTATE_blocked])
        fail("get_runstate_info went backwards");
}

void guest_main(u32 nr_vcpus) {
    (void)nr_vcpus;
    xen_setup();
    map_shared_info();
    poll_tests();
    sched_misc();
    vcpu_tests();
    pass();
}
