/*
 * xenstore from inside a guest: finds its store ring through HVM_PARAM_STORE_PFN
 * and HVM_PARAM_STORE_EVTCHN and speaks xs_wire over it
 * (docs/misc/xenstore-ring.txt), polling for replies (no interrupts needed):
 *   - writes and reads its home path, relative ("data/test") and absolute
 *     ("/local/domain/<domid>/data/test");
 *   - tells the harness (data/ready) and waits until the harness, having checked
 *     the write from outside with xenstore-read, answers in data/ack;
 *   - is refused (EACCES) another domain's key, which the harness wrote, both
 *     reading and writing it.
 * Run by test/integration/xenstore/guest_ring.sh with --xenstore and --domid.
 */
#include "xen/xen_evt_rt.h"

const char guest_name[] = GUEST_NAME;

#define HVMOP_get_param 1
#define HVM_PARAM_STORE_PFN 1
#define HVM_PARAM_STORE_EVTCHN 2

#define XENMEM_memory_map 9
#define E820_RESERVED 2
#define MAX_E820 32

#define XS_READ 2
#define XS_WRITE 11
#define XS_ERROR 16
#define XS_PAYLOAD_MAX 4096
#define RING_SIZE 1024
#define RING_MASK(i) ((i) & (RING_SIZE - 1))
#define XENSTORE_CONNECTED 0

/* Nanoseconds the guest waits for one reply (software KVM is slow). */
#define REPLY_TIMEOUT_NS 20000000000ull
/* How long the harness may take to acknowledge our write. */
#define ACK_TIMEOUT_NS 60000000000ull

struct xs_hdr {
    u32 type, req_id, tx_id, len;
};
struct xs_ring {
    char req[RING_SIZE];
    char rsp[RING_SIZE];
    volatile u32 req_cons, req_prod, rsp_cons, rsp_prod;
    volatile u32 server_features, connection, error;
};

static struct xs_ring* ring;
static u32 store_port;
static u32 next_req = 1;
static char reply_buf[XS_PAYLOAD_MAX + 1];
static struct xs_hdr reply_hdr;

static u64 get_param(u32 index) {
    static struct {
        u16 domid, pad;
        u32 index;
        u64 value;
    } p;
    p.domid = XEN_DOMID_SELF;
    p.index = index;
    p.value = 0;
    expect("HVMOP_get_param", HC2(XEN_HC_hvm_op, HVMOP_get_param, &p), 0);
    return p.value;
}

static u32 strlen_(const char* s) {
    u32 n = 0;
    while (s[n])
        n++;
    return n;
}
static int streq(const char* a, const char* b) {
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static void put_bytes(const void* data, u32 len) {
    const char* p = data;
    for (u32 i = 0; i < len; i++) {
        u64 deadline = xen_now() + REPLY_TIMEOUT_NS;
        while (ring->req_prod - ring->req_cons >= RING_SIZE)
            if (xen_now() > deadline)
                fail("request ring stayed full");
        ring->req[RING_MASK(ring->req_prod)] = p[i];
        barrier();
        ring->req_prod = ring->req_prod + 1;
    }
}

static void get_bytes(void* data, u32 len) {
    char* p = data;
    for (u32 i = 0; i < len; i++) {
        u64 deadline = xen_now() + REPLY_TIMEOUT_NS;
        while (ring->rsp_prod == ring->rsp_cons) {
            if (xen_now() > deadline)
                fail("no reply from xenstored");
            sched_op(SCHEDOP_yield, 0);
        }
        barrier();
        p[i] = ring->rsp[RING_MASK(ring->rsp_cons)];
        barrier();
        ring->rsp_cons = ring->rsp_cons + 1;
    }
}

/* Sends one request of up to two strings (the second without its NUL, as a
 * WRITE's value) and reads its reply into reply_hdr/reply_buf. */
static void call(u32 type, const char* a, const char* b) {
    struct xs_hdr h = {type, next_req++, 0, strlen_(a) + 1 + (b ? strlen_(b) : 0)};
    put_bytes(&h, sizeof h);
    put_bytes(a, strlen_(a) + 1);
    if (b)
        put_bytes(b, strlen_(b));
    expect("EVTCHNOP_send", port_op(EVTCHNOP_send, store_port), 0);
    get_bytes(&reply_hdr, sizeof reply_hdr);
    if (reply_hdr.len > XS_PAYLOAD_MAX)
        fail_hex("reply too long", reply_hdr.len);
    get_bytes(reply_buf, reply_hdr.len);
    reply_buf[reply_hdr.len] = 0;
    if (reply_hdr.req_id != h.req_id)
        fail_hex("reply to another request", reply_hdr.req_id);
}

static void expect_ok(const char* what, u32 type) {
    if (reply_hdr.type != type) {
        print(what);
        print(": ");
        print(reply_buf);
        print("\n");
        fail(what);
    }
}

static void expect_value(const char* what, const char* want) {
    expect_ok(what, XS_READ);
    if (!streq(reply_buf, want)) {
        print(what);
        print(": read '");
        print(reply_buf);
        print("'\n");
        fail(what);
    }
}

static void expect_error(const char* what, const char* err) {
    if (reply_hdr.type != XS_ERROR || !streq(reply_buf, err)) {
        print(what);
        print(": got type ");
        print_dec(reply_hdr.type);
        print(" '");
        print(reply_buf);
        print("'\n");
        fail(what);
    }
}

/* The store page must be reserved in the memory map Xen gives the guest. */
static void check_e820(u64 pfn) {
    static struct {
        u64 addr, size;
        u32 type;
    } __attribute__((packed)) map[MAX_E820];
    static struct {
        u32 nr_entries;
        uptr buffer; /* XEN_GUEST_HANDLE: the guest's word, aligned */
    } mm;
    mm.nr_entries = MAX_E820;
    mm.buffer = (uptr)map;
    expect("XENMEM_memory_map", HC2(XEN_HC_memory_op, XENMEM_memory_map, &mm), 0);
    u64 gpa = pfn << 12;
    for (u32 i = 0; i < mm.nr_entries; i++) {
        if (map[i].addr <= gpa && gpa + 4096 <= map[i].addr + map[i].size) {
            if (map[i].type != E820_RESERVED)
                fail_hex("store page is in an E820 entry of type", map[i].type);
            return;
        }
    }
    fail("store page is not in the E820 map");
}

/* Decimal, for paths. */
static char* fmt_dec(char* out, u32 v) {
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *out++ = tmp[--n];
    *out = 0;
    return out;
}
static char* append(char* out, const char* s) {
    while (*s)
        *out++ = *s++;
    *out = 0;
    return out;
}
static u32 parse_dec(const char* s) {
    u32 v = 0;
    if (!*s)
        fail("empty number");
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            fail("not a number");
        v = v * 10 + (u32)(*s - '0');
    }
    return v;
}

void guest_main(u32 nr_vcpus) {
    (void)nr_vcpus;
    xen_setup();
    u64 pfn = get_param(HVM_PARAM_STORE_PFN);
    store_port = (u32)get_param(HVM_PARAM_STORE_EVTCHN);
    if (pfn == 0 || store_port == 0)
        fail("no store ring (was basalt-vmm given --xenstore?)");
    check_e820(pfn);
    ring = (struct xs_ring*)(uptr)(pfn << 12);
    if (ring->connection != XENSTORE_CONNECTED)
        fail_hex("store ring not connected", ring->connection);

    call(XS_READ, "domid", 0);
    expect_ok("read domid", XS_READ);
    u32 domid = parse_dec(reply_buf);
    static char home[64], abs_test[96], abs_other[96], other_secret[96];
    append(fmt_dec(append(home, "/local/domain/"), domid), "");
    append(append(abs_test, home), "/data/test");
    append(append(abs_other, home), "/data/absolute");
    append(fmt_dec(append(other_secret, "/local/domain/"), domid + 1), "/data/secret");

    call(XS_WRITE, "data/test", "written-by-guest");
    expect_ok("relative write", XS_WRITE);
    call(XS_READ, "data/test", 0);
    expect_value("relative read", "written-by-guest");
    call(XS_READ, abs_test, 0);
    expect_value("absolute read", "written-by-guest");
    call(XS_WRITE, abs_other, "absolute-write");
    expect_ok("absolute write", XS_WRITE);
    call(XS_READ, "data/absolute", 0);
    expect_value("read back absolute write", "absolute-write");

    call(XS_READ, other_secret, 0);
    expect_error("another domain's key is not readable", "EACCES");
    call(XS_WRITE, other_secret, "overwritten");
    expect_error("another domain's key is not writable", "EACCES");

    /* The harness checks our write from outside, then acknowledges. */
    call(XS_WRITE, "data/ready", "1");
    expect_ok("write ready", XS_WRITE);
    u64 deadline = xen_now() + ACK_TIMEOUT_NS;
    for (;;) {
        call(XS_READ, "data/ack", 0);
        if (reply_hdr.type == XS_READ)
            break;
        expect_error("wait for ack", "ENOENT");
        if (xen_now() > deadline)
            fail("the harness never acknowledged");
        sched_op(SCHEDOP_yield, 0);
    }
    expect_value("ack", "seen");
    pass();
}
