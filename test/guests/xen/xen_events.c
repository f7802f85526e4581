/*
 * Event channels, 2-level ABI: loopback interdomain channels, IPIs, masking,
 * status, close and use after close, VIRQ_TIMER from a singleshot timer,
 * hostile ports/domains/vCPUs with Xen's errnos, and delivery through the
 * HVM_PARAM_CALLBACK_IRQ GSI callback into a PIC interrupt handler.
 * Built twice: 32-bit (xen_events32) and 64-bit (xen_events64).
 */
#include "xen/xen_evt_rt.h"

const char guest_name[] = GUEST_NAME;

#ifdef __x86_64__
#define CODE_SELECTOR 0x18
#else
#define CODE_SELECTOR 0x08
#endif
#define CALLBACK_GSI 5 /* ISA IRQ 5: PIC master, vector 0x25 */
#define CALLBACK_VECTOR (PIC_MASTER_VECTOR + CALLBACK_GSI)
#define PIC_MASTER_CMD 0x20
#define PIC_MASTER_DATA 0x21
#define PIC_EOI 0x20
#define MAX_SPINS 200000
/* Not mapped by any page table (64-bit) or not RAM (32-bit, paging off). */
#ifdef __x86_64__
#define UNMAPPED ((void*)0x0000600000000000ull)
#else
#define UNMAPPED ((void*)0xE0000000u)
#endif

static volatile u32 upcalls;

static void callback_isr(struct isr_frame* frame) {
    (void)frame;
    ack_upcall(); /* as Linux's upcall handler: before scanning the bits */
    ++upcalls;
    outb(PIC_MASTER_CMD, PIC_EOI);
}

static void wait_upcalls(u32 want, const char* what) {
    __asm__ volatile("sti" ::: "memory");
    for (u32 i = 0; upcalls < want && i < MAX_SPINS; ++i)
        cpu_relax();
    __asm__ volatile("cli" ::: "memory");
    if (upcalls != want)
        fail_hex(what, upcalls);
}

static void loopback(void) {
    xlong rc;
    u32 p1 = alloc_unbound(XEN_DOMID_SELF, XEN_DOMID_SELF, &rc);
    expect("alloc_unbound", rc, 0);
    struct evtchn_status* s = port_status(p1, &rc);
    expect("status unbound rc", rc, 0);
    expect("status unbound", s->status, EVTCHNSTAT_unbound);
    expect("status unbound dom", s->u_dom, GUEST_DOMID);
    u32 p2;
    expect("bind_interdomain self", bind_interdomain(XEN_DOMID_SELF, p1, &p2), 0);
    expect("bound port pending after bind", test_bit(pending_words(), p2), 1);
    clear_bit(pending_words(), p2);
    expect("send on p1", port_op(EVTCHNOP_send, p1), 0);
    expect("send p1 -> p2 pending", test_bit(pending_words(), p2), 1);
    expect("p1 not pending", test_bit(pending_words(), p1), 0);
    s = port_status(p2, &rc);
    expect("status interdomain", s->status, EVTCHNSTAT_interdomain);
    expect("status interdomain port", s->u_port, p1);
    expect("second bind to a bound port", bind_interdomain(XEN_DOMID_SELF, p1, &p2), -XEN_EINVAL);
    expect("close p2", port_op(EVTCHNOP_close, p2), 0);
    expect("close clears pending", test_bit(pending_words(), p2), 0);
    s = port_status(p1, &rc);
    expect("far end unbound again", s->status, EVTCHNSTAT_unbound);
    s = port_status(p2, &rc);
    expect("closed port status", s->status, EVTCHNSTAT_closed);
    expect("send after close", port_op(EVTCHNOP_send, p2), -XEN_EINVAL);
    expect("close after close", port_op(EVTCHNOP_close, p2), -XEN_EINVAL);
    expect("send on unbound is dropped", port_op(EVTCHNOP_send, p1), 0);
    expect("close p1", port_op(EVTCHNOP_close, p1), 0);
}

static u32 ipi_and_mask(void) {
    u32 ipi;
    expect("bind_ipi", bind_ipi(0, &ipi), 0);
    xlong rc;
    expect("status ipi", port_status(ipi, &rc)->status, EVTCHNSTAT_ipi);
    u32 unused;
    expect("bind_vcpu of an IPI", bind2(EVTCHNOP_bind_vcpu, ipi, 0, &unused), -XEN_EINVAL);
    ack_upcall();
    set_bit(mask_words(), ipi);
    expect("send ipi (masked)", port_op(EVTCHNOP_send, ipi), 0);
    expect("masked ipi pending", test_bit(pending_words(), ipi), 1);
    expect("masked: no upcall_pending", *upcall_pending(), 0);
    expect("unmask", port_op(EVTCHNOP_unmask, ipi), 0);
    expect("unmask raises upcall_pending", *upcall_pending(), 1);
    expect("unmask sets the selector", (*pending_sel() >> (ipi / WORD_BITS)) & 1, 1);
    return ipi;
}

static void hostile(void) {
    u32 port;
    xlong rc;
    expect("send port 5000", port_op(EVTCHNOP_send, 5000), -XEN_EINVAL);
    expect("unmask port 70000", port_op(EVTCHNOP_unmask, 70000), -XEN_EINVAL);
    expect("close port 0", port_op(EVTCHNOP_close, 0), -XEN_EINVAL);
    port_status(4096, &rc);
    expect("status port 4096", rc, -XEN_EINVAL);
    expect("bind_virq 24", bind2(EVTCHNOP_bind_virq, NR_VIRQS, 0, &port), -XEN_EINVAL);
    expect("bind_virq bad vcpu", bind2(EVTCHNOP_bind_virq, VIRQ_TIMER, 7, &port), -XEN_ENOENT);
    expect("global virq on vcpu 1", bind2(EVTCHNOP_bind_virq, VIRQ_CONSOLE, 1, &port),
           -XEN_EINVAL);
    expect("bind_ipi bad vcpu", bind_ipi(5, &port), -XEN_ENOENT);
    alloc_unbound(0, XEN_DOMID_SELF, &rc);
    expect("alloc_unbound in dom0", rc, -XEN_EPERM);
    alloc_unbound(7, XEN_DOMID_SELF, &rc);
    expect("alloc_unbound in dom7", rc, -XEN_ESRCH);
    expect("bind_interdomain dom0", bind_interdomain(0, 1, &port), -XEN_EINVAL);
    expect("bind_interdomain dom9", bind_interdomain(9, 1, &port), -XEN_ESRCH);
    expect("FIFO init_control", evtchn_op(EVTCHNOP_init_control, shinfo), -XEN_ENOSYS);
    expect("unknown op", evtchn_op(99, shinfo), -XEN_ENOSYS);
    expect("unmapped argument", evtchn_op(EVTCHNOP_send, UNMAPPED), -XEN_EFAULT);
}

static void timer_virq(void) {
    u32 port, again;
    expect("bind_virq timer", bind2(EVTCHNOP_bind_virq, VIRQ_TIMER, 0, &port), 0);
    expect("double VIRQ bind", bind2(EVTCHNOP_bind_virq, VIRQ_TIMER, 0, &again), -XEN_EEXIST);
    xlong rc;
    struct evtchn_status* s = port_status(port, &rc);
    expect("status virq", s->status, EVTCHNSTAT_virq);
    expect("status virq number", s->u_dom, VIRQ_TIMER);
    static struct singleshot t;
    t.timeout_abs_ns = xen_now() - 1;
    t.flags = VCPU_SSHOTTMR_future;
    expect("singleshot in the past", vcpu_op(VCPUOP_set_singleshot_timer, 0, &t), -XEN_ETIME);
    t.timeout_abs_ns = xen_now() + 1000000; /* 1 ms */
    expect("singleshot", vcpu_op(VCPUOP_set_singleshot_timer, 0, &t), 0);
    static u32 ports[1];
    ports[0] = port;
    expect("poll for the timer", poll_ports(ports, 1, xen_now() + 2000000000ull), 0);
    expect("VIRQ_TIMER pending", test_bit(pending_words(), port), 1);
    expect("close virq", port_op(EVTCHNOP_close, port), 0);
    expect("rebind after close", bind2(EVTCHNOP_bind_virq, VIRQ_TIMER, 0, &again), 0);
    expect("same port again", again, port);
}

static void gsi_callback(u32 ipi) {
    idt_init(CODE_SELECTOR);
    pic_init_masked();
    isr_hooks[CALLBACK_VECTOR] = callback_isr;
    ack_upcall();
    clear_bit(pending_words(), ipi);
    static struct {
        u16 domid, pad;
        u32 index;
        u64 value;
    } param;
    param.domid = XEN_DOMID_SELF;
    param.index = HVM_PARAM_CALLBACK_IRQ;
    param.value = CALLBACK_GSI;
    expect("set CALLBACK_IRQ", HC2(XEN_HC_hvm_op, HVMOP_set_param, &param), 0);
    outb(PIC_MASTER_DATA, (u8)~(1u << CALLBACK_GSI));
    expect("send ipi", port_op(EVTCHNOP_send, ipi), 0);
    wait_upcalls(1, "first upcall through the GSI");
    /* The handler cleared upcall_pending; the next event must interrupt again. */
    clear_bit(pending_words(), ipi);
    expect("send ipi again", port_op(EVTCHNOP_send, ipi), 0);
    wait_upcalls(2, "second upcall through the GSI");
    outb(PIC_MASTER_DATA, 0xFF);
}

void guest_main(u32 nr_vcpus) {
    (void)nr_vcpus;
    xen_setup();
    map_shared_info();
    loopback();
    u32 ipi = ipi_and_mask();
    hostile();
    timer_virq();
    gsi_callback(ipi);
    expect("reset", evtchn_op(EVTCHNOP_reset, &(u16){XEN_DOMID_SELF}), 0);
    xlong rc;
    expect("reset closed the ipi", port_status(ipi, &rc)->status, EVTCHNSTAT_closed);
    pass();
}
