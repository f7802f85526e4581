/*
 * memory_op, shared_info and pvclock: the E820, reservations, placing
 * shared_info in the MMIO hole and over RAM, the wallclock and vcpu_time_info
 * version protocol, moving RAM pages (hvmloader's gmfn relocation), giving a
 * page back and populating it again, and hostile arguments with Xen's
 * errnos. Built twice: 32-bit (compat layouts) and 64-bit.
 */
#include "xen/xen_rt.h"

const char guest_name[] = GUEST_NAME;

#define XENMEM_decrease_reservation 1
#define XENMEM_maximum_ram_page 2
#define XENMEM_current_reservation 3
#define XENMEM_maximum_reservation 4
#define XENMEM_populate_physmap 6
#define XENMEM_add_to_physmap 7
#define XENMEM_memory_map 9
#define XENMEM_maximum_gpfn 14
#define XENMEM_remove_from_physmap 15
#define XENMEM_add_to_physmap_batch 23
#define XENMEM_get_vnumainfo 26
#define XENMAPSPACE_shared_info 0
#define XENMAPSPACE_grant_table 1
#define XENMAPSPACE_gmfn 2
#define XENMAPSPACE_gmfn_range 3
#define XENMAPSPACE_gmfn_foreign 4
#define XENMAPSPACE_dev_mmio 5
#define HVMOP_get_time 10
#define XEN_EACCES 13
#define XEN_EDOM 33
#define XEN_EOPNOTSUPP 95

#define RAM_PAGES (16 * 256 - 32) /* 16 MiB minus the VGA hole */
#define PAGE 4096u
#define HOLE_GPFN 0xFDFFFu
#define RAM_GPFN 0x800u
#define ALL_ONES32 0xFFFFFFFFu

/* The guest's word: xen_ulong_t and xen_pfn_t are 4 bytes in 32-bit. */
struct reservation {
    uptr extent_start;
    uptr nr_extents;
    u32 extent_order;
    u32 mem_flags;
    u16 domid;
};

struct xatp {
    u16 domid;
    u16 size;
    u32 space;
    uptr idx;
    uptr gpfn;
};

struct xatp_batch {
    u16 domid;
    u16 space;
    u16 size;
    u16 extra;
    uptr idxs, gpfns, errs;
};

struct remove_from_physmap {
    u16 domid;
    uptr gpfn;
};

struct memory_map {
    u32 nr_entries;
    uptr buffer;
};

struct __attribute__((packed)) e820 {
    u64 addr, size;
    u32 type;
};

struct vnuma_head {
    u16 domid, pad;
    u32 nr_vnodes, nr_vcpus, nr_vmemranges, pad2;
    u64 handles[3];
};

/* vcpu_time_info: the same in both layouts. */
struct time_info {
    u32 version, pad0;
    u64 tsc_timestamp, system_time;
    u32 mul;
    signed char shift;
    u8 flags;
    u8 pad1[2];
};

#ifdef __x86_64__
#define UNMAPPED ((uptr)0x0000600000000000ull)
#define WC_OFFSET 0xC00u /* after 32 vcpu_info and 2 x 64 words */
#else
#define UNMAPPED ((uptr)0xE0000000u)
#define WC_OFFSET 0x900u /* after 32 vcpu_info and 2 x 32 words */
#endif

static struct e820 map[8];
static uptr extents[4];
static uptr idxs[2], gpfns[2];
static int errs[2];

static volatile u32* at(u32 gpfn, u32 offset) {
    return (volatile u32*)(uptr)((u64)gpfn * PAGE + offset);
}

static xlong memop(u32 op, void* arg) {
    return HC2(XEN_HC_memory_op, op, arg);
}

static xlong stat(u32 op, u16 domid) {
    static u16 d;
    d = domid;
    return memop(op, &d);
}

static xlong xatp(u16 domid, u32 space, uptr idx, uptr gpfn) {
    static struct xatp x;
    x.domid = domid;
    x.size = 0;
    x.space = space;
    x.idx = idx;
    x.gpfn = gpfn;
    return memop(XENMEM_add_to_physmap, &x);
}

static xlong reserve(u32 op, uptr gfn, uptr nr, u32 order) {
    static struct reservation r;
    extents[0] = gfn;
    r.extent_start = (uptr)extents;
    r.nr_extents = nr;
    r.extent_order = order;
    r.mem_flags = 0;
    r.domid = XEN_DOMID_SELF;
    return memop(op, &r);
}

static u64 rdtsc(void) {
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}

/* Reads vcpu_time_info with the version protocol; fails on a torn record. */
static void read_time(volatile struct time_info* t, struct time_info* out) {
    for (int tries = 0; tries < 1000; ++tries) {
        u32 v1 = t->version;
        barrier();
        out->tsc_timestamp = t->tsc_timestamp;
        out->system_time = t->system_time;
        out->mul = t->mul;
        out->shift = t->shift;
        out->flags = t->flags;
        barrier();
        if (!(v1 & 1) && v1 == t->version) {
            out->version = v1;
            return;
        }
    }
    fail("vcpu_time_info version never settles");
}

/* (delta << shift) * mul >> 32 without 128-bit arithmetic. */
static u64 scale(u64 delta, u32 mul, signed char shift) {
    if (shift < 0)
        delta >>= -shift;
    else
        delta <<= shift;
    return (delta >> 32) * mul + (((delta & 0xFFFFFFFFu) * mul) >> 32);
}

static void check_shared_info(u32 gpfn) {
    volatile u32* wc = at(gpfn, WC_OFFSET);
    expect("wc_version even and set", (wc[0] & 1) == 0 && wc[0] != 0, 1);
    expect("wc_sec after 2020", wc[1] > 1577836800u, 1);
    expect("wc_nsec below 1e9", wc[2] < 1000000000u, 1);
    struct time_info t1, t2;
    volatile struct time_info* t = (volatile struct time_info*)at(gpfn, 0x20);
    read_time(t, &t1);
    expect("pvclock version even", t1.version != 0 && (t1.version & 1) == 0, 1);
    expect("pvclock mul set", t1.mul != 0, 1);
    expect("pvclock shift sane", t1.shift >= -8 && t1.shift <= 8, 1);
    expect("pvclock flags: only TSC_STABLE", t1.flags & ~1u, 0);
    expect("pvclock system_time set", t1.system_time > 0, 1);
    /* The clock the guest computes from the TSC matches HVMOP_get_time and
     * moves forward. */
    u64 now = 0;
    expect("get_time", HC2(XEN_HC_hvm_op, HVMOP_get_time, &now), 0);
    u64 tsc = rdtsc();
    expect("guest TSC past tsc_timestamp", tsc >= t1.tsc_timestamp, 1);
    u64 pv = t1.system_time + scale(tsc - t1.tsc_timestamp, t1.mul, t1.shift);
    u64 diff = pv > now ? pv - now : now - pv;
    if (diff > 200000000ull) { /* 200 ms: this KVM is slow, not that slow */
        print("pvclock ");
        print_dec(pv);
        print(" get_time ");
        print_dec(now);
        print_char('\n');
        fail("pvclock disagrees with HVMOP_get_time");
    }
    read_time(t, &t2);
    u64 pv2 = t2.system_time + scale(rdtsc() - t2.tsc_timestamp, t2.mul, t2.shift);
    expect("pvclock moves forward", pv2 >= pv, 1);
}

void guest_main(u32 nr_vcpus) {
    (void)nr_vcpus;
    xen_setup();

    /* E820: what the domain's layout implies. */
    static struct memory_map mm;
    mm.nr_entries = 8;
    mm.buffer = (uptr)map;
    expect("memory_map", memop(XENMEM_memory_map, &mm), 0);
    expect("memory_map entries", mm.nr_entries, 2);
    expect("e820[0] base", (xlong)map[0].addr, 0);
    expect("e820[0] size", (xlong)map[0].size, 0xA0000);
    expect("e820[0] RAM", map[0].type, 1);
    expect("e820[1] base", (xlong)map[1].addr, 0xC0000);
    expect("e820[1] end", (xlong)(map[1].addr + map[1].size), 16 << 20);
    mm.nr_entries = 1;
    expect("memory_map short", memop(XENMEM_memory_map, &mm), 0);
    expect("memory_map short count", mm.nr_entries, 1);
    mm.buffer = UNMAPPED;
    mm.nr_entries = 8;
    expect("memory_map unmapped buffer", memop(XENMEM_memory_map, &mm), -XEN_EFAULT);
    expect("memory_map unmapped arg", memop(XENMEM_memory_map, (void*)UNMAPPED), -XEN_EFAULT);

    /* Reservations. */
    expect("current_reservation", stat(XENMEM_current_reservation, XEN_DOMID_SELF), RAM_PAGES);
    expect("maximum_reservation", stat(XENMEM_maximum_reservation, XEN_DOMID_SELF), RAM_PAGES);
    expect("maximum_gpfn", stat(XENMEM_maximum_gpfn, XEN_DOMID_SELF), 0xFFF);
    expect("current_reservation own id", stat(XENMEM_current_reservation, 1), RAM_PAGES);
    expect("reservation of dom0", stat(XENMEM_current_reservation, 0), -XEN_EPERM);
    expect("reservation of dom5", stat(XENMEM_maximum_reservation, 5), -XEN_ESRCH);
    expect("reservation unmapped", memop(XENMEM_current_reservation, (void*)UNMAPPED),
           -XEN_EFAULT);
    expect("maximum_ram_page", memop(XENMEM_maximum_ram_page, 0), 0xFFF);
    expect("maximum_ram_page continuation",
           memop(XENMEM_maximum_ram_page | (1u << 6), 0), -XEN_EINVAL);
    static struct vnuma_head vn;
    vn.domid = XEN_DOMID_SELF;
    expect("get_vnumainfo", memop(XENMEM_get_vnumainfo, &vn), -XEN_EOPNOTSUPP);
    vn.pad = 1;
    expect("get_vnumainfo pad", memop(XENMEM_get_vnumainfo, &vn), -XEN_EINVAL);
    expect("unknown memory_op", memop(60, &vn), -XEN_ENOSYS);

    /* shared_info in the MMIO hole (hvmloader's place), then over RAM (Linux's). */
    expect("shared_info in the hole", xatp(XEN_DOMID_SELF, XENMAPSPACE_shared_info, 0, HOLE_GPFN),
           0);
    check_shared_info(HOLE_GPFN);
    expect("maximum_gpfn covers it", stat(XENMEM_maximum_gpfn, XEN_DOMID_SELF), HOLE_GPFN);
    /* A mark in vcpu_info[31].arch (unused by an HVM guest) follows the page. */
    *at(HOLE_GPFN, 31 * 64 + 16) = 0xFEEDu;
    expect("shared_info over RAM", xatp(XEN_DOMID_SELF, XENMAPSPACE_shared_info, 0, RAM_GPFN), 0);
    expect("same page at the new gpfn", *at(RAM_GPFN, 31 * 64 + 16), 0xFEED);
    expect("old gpfn is a hole again", *at(HOLE_GPFN, WC_OFFSET), ALL_ONES32);
    expect("the RAM page under it was freed", stat(XENMEM_current_reservation, XEN_DOMID_SELF),
           RAM_PAGES - 1);
    check_shared_info(RAM_GPFN);

    /* hvmloader's relocation: RAM pages move to 0xFC000+ with their contents. */
    *at(0xF00, 8) = 0xC0DE;
    *at(0xF01, 8) = 0xF01;
    *at(0xF02, 8) = 0xF02;
    expect("gmfn move", xatp(XEN_DOMID_SELF, XENMAPSPACE_gmfn, 0xF00, 0xFC000), 0);
    expect("moved contents", *at(0xFC000, 8), 0xC0DE);
    expect("source is a hole", *at(0xF00, 8), ALL_ONES32);
    static struct xatp range;
    range.domid = XEN_DOMID_SELF;
    range.size = 2;
    range.space = XENMAPSPACE_gmfn_range;
    range.idx = 0xF01;
    range.gpfn = 0xFC001;
    expect("gmfn_range move", memop(XENMEM_add_to_physmap, &range), 0);
    expect("range page 0", *at(0xFC001, 8), 0xF01);
    expect("range page 1", *at(0xFC002, 8), 0xF02);
    expect("moves keep the reservation", stat(XENMEM_current_reservation, XEN_DOMID_SELF),
           RAM_PAGES - 1);
    expect("gmfn of a hole", xatp(XEN_DOMID_SELF, XENMAPSPACE_gmfn, 0xF00, 0xFC010), -XEN_EINVAL);
    expect("add_to_physmap continuation",
           HC2(XEN_HC_memory_op, XENMEM_add_to_physmap | (0x10000u << 6), &range), -XEN_EDOM);

    /* Give a page back and populate it again. */
    *at(0xE00, 0) = 0x5555;
    expect("decrease_reservation", reserve(XENMEM_decrease_reservation, 0xE00, 1, 0), 1);
    expect("decreased page is gone", *at(0xE00, 0), ALL_ONES32);
    expect("reservation after decrease", stat(XENMEM_current_reservation, XEN_DOMID_SELF),
           RAM_PAGES - 2);
    expect("decrease a hole", reserve(XENMEM_decrease_reservation, 0xE00, 1, 0), 0);
    expect("populate_physmap", reserve(XENMEM_populate_physmap, 0xE00, 1, 0), 1);
    expect("populated page reads zero", *at(0xE00, 0), 0);
    *at(0xE00, 0) = 0x77;
    expect("populated page is RAM", *at(0xE00, 0), 0x77);
    expect("reservation after populate", stat(XENMEM_current_reservation, XEN_DOMID_SELF),
           RAM_PAGES - 1);

    /* Hostile reservations: Xen reports how many extents it did. */
    expect("populate outside RAM", reserve(XENMEM_populate_physmap, 0x100000, 1, 0), 0);
    expect("populate a present page", reserve(XENMEM_populate_physmap, 0xD00, 1, 0), 0);
    expect("extent_order too big", reserve(XENMEM_decrease_reservation, 0xD00, 1, 10), 0);
    expect("page still there", *at(0xD00, 0) != ALL_ONES32, 1);
    expect("absurd nr_extents stops at the first bad one",
           reserve(XENMEM_decrease_reservation, 0xFFFFF, 0x3FFFFFF, 0), 0);
    expect("nr_extents past the continuation limit",
           reserve(XENMEM_decrease_reservation, 0xD00, 0x7FFFFFF, 0), 0);
    static struct reservation bad;
    bad.extent_start = UNMAPPED;
    bad.nr_extents = 4;
    bad.domid = XEN_DOMID_SELF;
    expect("unmapped extent list", memop(XENMEM_decrease_reservation, &bad), 0);
    expect("unmapped reservation", memop(XENMEM_populate_physmap, (void*)UNMAPPED), 0);
    bad.extent_start = (uptr)extents;
    bad.nr_extents = 1;
    bad.domid = 0;
    extents[0] = 0xD00;
    expect("decrease dom0's memory", memop(XENMEM_decrease_reservation, &bad), 0);
    expect("start extent past the end",
           HC2(XEN_HC_memory_op, XENMEM_decrease_reservation | (5u << 6), &bad), 5);

    /* Hostile add_to_physmap. */
    expect("xatp unmapped", memop(XENMEM_add_to_physmap, (void*)UNMAPPED), -XEN_EFAULT);
    expect("shared_info idx 1", xatp(XEN_DOMID_SELF, XENMAPSPACE_shared_info, 1, 0x900),
           -XEN_EINVAL);
    expect("xatp for dom0", xatp(0, XENMAPSPACE_shared_info, 0, 0x900), -XEN_EPERM);
    expect("xatp for dom5", xatp(5, XENMAPSPACE_shared_info, 0, 0x900), -XEN_ESRCH);
    expect("xatp foreign", xatp(XEN_DOMID_SELF, XENMAPSPACE_gmfn_foreign, 0, 0x900),
           -XEN_ENOSYS);
    expect("xatp dev_mmio", xatp(XEN_DOMID_SELF, XENMAPSPACE_dev_mmio, 0, 0x900), -XEN_EACCES);
    expect("xatp unknown space", xatp(XEN_DOMID_SELF, 9, 0, 0x900), -XEN_EINVAL);
    expect("grant status frame (v1)",
           xatp(XEN_DOMID_SELF, XENMAPSPACE_grant_table, 0x80000000u, 0x900), -XEN_EINVAL);
    expect("grant frame past the max", xatp(XEN_DOMID_SELF, XENMAPSPACE_grant_table, 32, 0x900),
           -XEN_EINVAL);
#ifdef __x86_64__
    expect("xatp INVALID_GFN", xatp(XEN_DOMID_SELF, XENMAPSPACE_shared_info, 0, ~(uptr)0),
           -XEN_EINVAL);
#endif

    /* add_to_physmap_batch: per-entry errors. */
    static struct xatp_batch b;
    b.domid = XEN_DOMID_SELF;
    b.space = XENMAPSPACE_grant_table;
    b.size = 2;
    idxs[0] = 0;
    idxs[1] = 99;
    gpfns[0] = 0xFD000;
    gpfns[1] = 0xFD001;
    b.idxs = (uptr)idxs;
    b.gpfns = (uptr)gpfns;
    b.errs = (uptr)errs;
    errs[0] = errs[1] = 12345;
    expect("batch", memop(XENMEM_add_to_physmap_batch, &b), 0);
    expect("batch entry 0", errs[0], 0);
    expect("batch entry 1", errs[1], -XEN_EINVAL);
    b.space = XENMAPSPACE_gmfn_range;
    expect("batch gmfn_range", memop(XENMEM_add_to_physmap_batch, &b), -XEN_EOPNOTSUPP);
    b.space = XENMAPSPACE_grant_table;
    b.errs = UNMAPPED;
    expect("batch unmapped errs", memop(XENMEM_add_to_physmap_batch, &b), -XEN_EFAULT);
    b.domid = 9;
    expect("batch other domain", memop(XENMEM_add_to_physmap_batch, &b), -XEN_ESRCH);

    /* remove_from_physmap. */
    static struct remove_from_physmap rm;
    rm.domid = XEN_DOMID_SELF;
    rm.gpfn = 0xFD000;
    expect("remove grant frame", memop(XENMEM_remove_from_physmap, &rm), 0);
    expect("removed frame is a hole", *at(0xFD000, 0), ALL_ONES32);
    expect("remove a hole", memop(XENMEM_remove_from_physmap, &rm), -XEN_ENOENT);
    rm.domid = 0;
    expect("remove for dom0", memop(XENMEM_remove_from_physmap, &rm), -XEN_EPERM);
    expect("remove unmapped", memop(XENMEM_remove_from_physmap, (void*)UNMAPPED), -XEN_EFAULT);
    pass();
}
