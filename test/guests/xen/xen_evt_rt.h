/*
 * Event-channel helpers for the test guests: the argument structs of
 * event_channel_op/sched_op/vcpu_op (same layout in 32- and 64-bit unless
 * noted), shared_info mapped over a RAM page, and its 2-level bits.
 */
#pragma once

#include "xen/xen_rt.h"

#define XEN_EACCES 13
#define XEN_ENOSPC 28
#define XEN_ETIME 62

#define EVTCHNOP_bind_interdomain 0
#define EVTCHNOP_bind_virq 1
#define EVTCHNOP_close 3
#define EVTCHNOP_send 4
#define EVTCHNOP_status 5
#define EVTCHNOP_alloc_unbound 6
#define EVTCHNOP_bind_ipi 7
#define EVTCHNOP_bind_vcpu 8
#define EVTCHNOP_unmask 9
#define EVTCHNOP_reset 10
#define EVTCHNOP_init_control 11
#define EVTCHNSTAT_closed 0
#define EVTCHNSTAT_unbound 1
#define EVTCHNSTAT_interdomain 2
#define EVTCHNSTAT_virq 4
#define EVTCHNSTAT_ipi 5
#define VIRQ_TIMER 0
#define VIRQ_CONSOLE 2
#define NR_VIRQS 24

#define SCHEDOP_yield 0
#define SCHEDOP_block 1
#define SCHEDOP_shutdown 2
#define SCHEDOP_poll 3
#define SCHEDOP_remote_shutdown 4
#define SCHEDOP_shutdown_code 5
#define SCHEDOP_watchdog 6
#define SHUTDOWN_poweroff 0
#define SHUTDOWN_crash 3

#define VCPUOP_initialise 0
#define VCPUOP_is_up 3
#define VCPUOP_get_runstate_info 4
#define VCPUOP_register_runstate_memory_area 5
#define VCPUOP_set_periodic_timer 6
#define VCPUOP_stop_periodic_timer 7
#define VCPUOP_set_singleshot_timer 8
#define VCPUOP_stop_singleshot_timer 9
#define VCPU_SSHOTTMR_future 1
#define RUNSTATE_running 0
#define RUNSTATE_blocked 2

#define XENMEM_add_to_physmap 7
#define XENMAPSPACE_shared_info 0
#define HVMOP_set_param 0
#define HVMOP_get_time 10
#define HVM_PARAM_CALLBACK_IRQ 0
#define GUEST_DOMID 1 /* basalt-vmm's domain id for a lone guest */

struct evtchn_pair { /* alloc_unbound: dom, remote_dom, port */
    u16 dom, remote_dom;
    u32 port;
};
struct evtchn_status {
    u16 dom;
    u16 pad;
    u32 port, status, vcpu;
    u16 u_dom;
    u16 pad2;
    u32 u_port; /* interdomain port; virq number is u32 at u_dom's offset */
};
struct sched_shutdown {
    u32 reason;
};
/* sched_poll: 64-bit {ptr, u32, pad, u64}; 32-bit {ptr, u32, u64} packed to 4. */
struct sched_poll {
    uptr ports;
    u32 nr_ports;
    u64 timeout;
} __attribute__((packed, aligned(4)));
#ifdef __x86_64__
#define SCHED_POLL_PAD 4
#else
#define SCHED_POLL_PAD 0
#endif
struct singleshot {
    u64 timeout_abs_ns;
    u32 flags;
    u32 pad;
};
/* vcpu_runstate_info: the 32-bit layout has no padding after state. */
struct runstate {
    u32 state;
#ifdef __x86_64__
    u32 pad;
#endif
    u64 entry;
    u64 time[4];
} __attribute__((packed, aligned(4)));

static u8 shinfo[4096] __attribute__((aligned(4096)));

static inline xlong evtchn_op(u32 cmd, void* arg) {
    return HC2(XEN_HC_event_channel_op, cmd, arg);
}
static inline xlong sched_op(u32 cmd, void* arg) {
    return HC2(XEN_HC_sched_op, cmd, arg);
}
static inline xlong vcpu_op(u32 cmd, u32 vcpu, void* arg) {
    return HC3(XEN_HC_vcpu_op, cmd, vcpu, arg);
}

static inline void map_shared_info(void) {
    static struct {
        u16 domid, size;
        u32 space;
        uptr idx, gpfn;
    } x;
    x.domid = XEN_DOMID_SELF;
    x.space = XENMAPSPACE_shared_info;
    x.gpfn = (uptr)shinfo >> 12;
    expect("map shared_info", HC2(XEN_HC_memory_op, XENMEM_add_to_physmap, &x), 0);
}

static inline u64 xen_now(void) {
    static u64 now;
    expect("HVMOP_get_time", HC2(XEN_HC_hvm_op, HVMOP_get_time, &now), 0);
    return now;
}

/* shared_info: vcpu_info[32] of 64 bytes, then evtchn_pending[] and evtchn_mask[]. */
#define WORD_BITS (8 * sizeof(uptr))
static inline volatile uptr* pending_words(void) {
    return (volatile uptr*)(shinfo + 2048);
}
static inline volatile uptr* mask_words(void) {
    return pending_words() + WORD_BITS;
}
static inline int test_bit(volatile uptr* w, u32 bit) {
    return (w[bit / WORD_BITS] >> (bit % WORD_BITS)) & 1;
}
static inline void set_bit(volatile uptr* w, u32 bit) {
    __asm__ volatile("lock; bts %1, %0" : "+m"(*w) : "r"((uptr)bit) : "memory");
}
static inline void clear_bit(volatile uptr* w, u32 bit) {
    __asm__ volatile("lock; btr %1, %0" : "+m"(*w) : "r"((uptr)bit) : "memory");
}
static inline volatile u8* upcall_pending(void) {
    return (volatile u8*)shinfo; /* vcpu_info[0].evtchn_upcall_pending */
}
static inline volatile uptr* pending_sel(void) {
    return (volatile uptr*)(shinfo + sizeof(uptr)); /* after pending, mask, pad */
}
/* What an upcall handler does first: take the selector, drop upcall_pending. */
static inline void ack_upcall(void) {
    *upcall_pending() = 0;
    *pending_sel() = 0;
}

static inline u32 alloc_unbound(u16 dom, u16 remote, xlong* rc) {
    static struct evtchn_pair a;
    a.dom = dom;
    a.remote_dom = remote;
    a.port = 0;
    *rc = evtchn_op(EVTCHNOP_alloc_unbound, &a);
    return a.port;
}
static inline xlong port_op(u32 cmd, u32 port) {
    static u32 p;
    p = port;
    return evtchn_op(cmd, &p);
}
static inline xlong bind2(u32 cmd, u32 a, u32 b, u32* port) { /* virq/ipi/interdomain */
    static u32 args[3];
    args[0] = a;
    args[1] = b;
    args[2] = 0;
    xlong rc = evtchn_op(cmd, args);
    *port = args[2];
    return rc;
}
static inline xlong bind_ipi(u32 vcpu, u32* port) {
    static u32 args[2];
    args[0] = vcpu;
    args[1] = 0;
    xlong rc = evtchn_op(EVTCHNOP_bind_ipi, args);
    *port = args[1];
    return rc;
}
static inline xlong bind_interdomain(u16 dom, u32 remote_port, u32* port) {
    static struct {
        u16 dom, pad;
        u32 remote_port, local_port;
    } b;
    b.dom = dom;
    b.remote_port = remote_port;
    xlong rc = evtchn_op(EVTCHNOP_bind_interdomain, &b);
    *port = b.local_port;
    return rc;
}
static inline struct evtchn_status* port_status(u32 port, xlong* rc) {
    static struct evtchn_status s;
    memset(&s, 0, sizeof s);
    s.dom = XEN_DOMID_SELF;
    s.port = port;
    *rc = evtchn_op(EVTCHNOP_status, &s);
    return &s;
}
static inline xlong poll_ports(u32* ports, u32 n, u64 timeout) {
    static struct sched_poll p;
    static u8 raw[24];
    p.ports = (uptr)ports;
    p.nr_ports = n;
    p.timeout = timeout;
    /* Lay it out as the guest ABI does (64-bit pads after nr_ports). */
    memcpy(raw, &p, sizeof(uptr) + 4);
    memset(raw + sizeof(uptr) + 4, 0, SCHED_POLL_PAD);
    memcpy(raw + sizeof(uptr) + 4 + SCHED_POLL_PAD, &timeout, 8);
    return sched_op(SCHEDOP_poll, raw);
}
