/*
 * xenstore from inside a guest: finds its store ring through HVM_PARAM_STORE_PFN
 * and HVM_PARAM_STORE_EVTCHN and speaks xs_wire over it
 * (docs/misc/xenstore-ring.txt), polling for replies (no interrupts needed):
 *   - writes and reads its home path, relative ("data/test") and absolute
 *     ("/local/domain/<domid>/data/test");
 *   - is refused (EACCES) another domain's key, which the harness wrote, both
 *     reading and writing it;
 *   - tells the harness (data/ready) and waits, on a watch, until the harness,
 *     having checked the writes from outside with xenstore-read, answers in
 *     data/ack;
 *   - says it is idle (data/waiting) and waits on a watch for data/phase2,
 *     with no request outstanding, while the harness kills xenstored (-9) and
 *     starts it again with the same --persist file: basalt-vmm introduces the
 *     ring again, the watch comes back and fires; then it writes data/after.
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
#define XS_WATCH 4
#define XS_WATCH_EVENT 15
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
/* How long xenstored may be away (killed, restarted, ring introduced again). */
#define RESTART_TIMEOUT_NS 120000000000ull

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

/* The token of a watch event that arrived while waiting for a reply. */
static char seen_token[64];

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

static int get_bytes(void* data, u32 len, u64 timeout_ns) {
    char* p = data;
    for (u32 i = 0; i < len; i++) {
        u64 deadline = xen_now() + timeout_ns;
        while (ring->rsp_prod == ring->rsp_cons) {
            if (xen_now() > deadline)
                return 0;
            sched_op(SCHEDOP_yield, 0);
        }
        barrier();
        p[i] = ring->rsp[RING_MASK(ring->rsp_cons)];
        barrier();
        ring->rsp_cons = ring->rsp_cons + 1;
    }
    return 1;
}

/* One whole message into reply_hdr/reply_buf; 0 if none came in time. */
static int read_message(u64 timeout_ns) {
    if (!get_bytes(&reply_hdr, sizeof reply_hdr, timeout_ns))
        return 0;
    if (reply_hdr.len > XS_PAYLOAD_MAX)
        fail_hex("message too long", reply_hdr.len);
    if (!get_bytes(reply_buf, reply_hdr.len, REPLY_TIMEOUT_NS))
        fail("message cut short");
    reply_buf[reply_hdr.len] = 0;
    return 1;
}

/* A watch event's token: after the path's NUL. */
static const char* event_token(void) {
    const char* t = reply_buf;
    while (*t)
        t++;
    return t + 1;
}

static void remember_event(void) {
    const char* t = event_token();
    u32 n = 0;
    while (t[n] && n < sizeof seen_token - 1) {
        seen_token[n] = t[n];
        n++;
    }
    seen_token[n] = 0;
}

/* Sends one request of up to two strings (the second without its NUL, as a
 * WRITE's value) and reads its reply into reply_hdr/reply_buf; watch events
 * on the way are remembered for wait_event(). */
static void call(u32 type, const char* a, const char* b) {
    /* A WRITE's value has no NUL; a WATCH's token has one. */
    u32 blen = b ? strlen_(b) + (type == XS_WATCH) : 0;
    struct xs_hdr h = {type, next_req++, 0, strlen_(a) + 1 + blen};
    put_bytes(&h, sizeof h);
    put_bytes(a, strlen_(a) + 1);
    if (b)
        put_bytes(b, blen);
    expect("EVTCHNOP_send", port_op(EVTCHNOP_send, store_port), 0);
    for (;;) {
        if (!read_message(REPLY_TIMEOUT_NS))
            fail("no reply from xenstored");
        if (reply_hdr.type != XS_WATCH_EVENT)
            break;
        remember_event();
    }
    if (reply_hdr.req_id != h.req_id)
        fail_hex("reply to another request", reply_hdr.req_id);
}

/* Waits for a watch event with `token` (one seen during a call counts). */
static void wait_event(const char* token, u64 timeout_ns) {
    if (streq(seen_token, token)) {
        seen_token[0] = 0;
        return;
    }
    u64 deadline = xen_now() + timeout_ns;
    for (;;) {
        u64 now = xen_now();
        if (now > deadline || !read_message(deadline - now)) {
            print("waiting for watch ");
            print(token);
            print("\n");
            fail("watch never fired");
        }
        if (reply_hdr.type != XS_WATCH_EVENT)
            fail_hex("unexpected reply while idle", reply_hdr.type);
        if (streq(event_token(), token))
            return;
    }
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

/* XS_WATCH: "path\0token\0". */
static void watch(const char* key, const char* token) {
    call(XS_WATCH, key, token);
    expect_ok("watch", XS_WATCH);
}

/* Reads `key` each time its watch fires until it holds `want`. */
static void wait_value(const char* key, const char* token, const char* want, u64 timeout_ns) {
    watch(key, token);
    for (;;) {
        wait_event(token, timeout_ns);
        call(XS_READ, key, 0);
        if (reply_hdr.type == XS_READ) {
            expect_value(key, want);
            return;
        }
        expect_error(key, "ENOENT");
    }
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

    /* The harness checks our writes from outside, then acknowledges. */
    call(XS_WRITE, "data/ready", "1");
    expect_ok("write ready", XS_WRITE);
    wait_value("data/ack", "ack", "seen", ACK_TIMEOUT_NS);

    /* Idle on a watch while xenstored is killed and started again. */
    watch("data/phase2", "phase2");
    wait_event("phase2", ACK_TIMEOUT_NS); /* the new watch fires once */
    call(XS_WRITE, "data/waiting", "1");
    expect_ok("write waiting", XS_WRITE);
    for (;;) {
        wait_event("phase2", RESTART_TIMEOUT_NS);
        call(XS_READ, "data/phase2", 0);
        if (reply_hdr.type == XS_READ)
            break;
        expect_error("read phase2", "ENOENT");
    }
    expect_value("phase2", "go");
    call(XS_WRITE, "data/after", "survived");
    expect_ok("write after restart", XS_WRITE);
    wait_value("data/done", "done", "yes", ACK_TIMEOUT_NS);
    pass();
}
