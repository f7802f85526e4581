/*
 * grant_table_op, version 1, from the guest's side: query_size, versions,
 * setup_table (frame list in the guest's word size), mapping the grant
 * frames with add_to_physmap and writing entries through them, and hostile
 * arguments (bad domains, too many frames, unmapped buffers, a ref past the
 * table, v2). The host side (map/unmap/copy) is covered by unit tests.
 * Built twice: 32-bit (compat frame list) and 64-bit.
 */
#include "xen/xen_rt.h"

const char guest_name[] = GUEST_NAME;

#define GNTTABOP_map_grant_ref 0
#define GNTTABOP_setup_table 2
#define GNTTABOP_copy 5
#define GNTTABOP_query_size 6
#define GNTTABOP_set_version 8
#define GNTTABOP_get_version 10
#define GNTST_okay 0
#define GNTST_general_error (-1)
#define GNTST_bad_domain (-2)
#define GNTST_bad_virt_addr (-5)
#define GNTST_permission_denied (-8)
#define GTF_permit_access 1
#define XENMEM_add_to_physmap 7
#define XENMAPSPACE_grant_table 1
#define MAX_FRAMES 32
#define FRAME_GPFN 0xF0000u

struct query_size {
    u16 dom;
    u32 nr_frames;
    u32 max_nr_frames;
    short status;
};

struct get_version {
    u16 dom, pad;
    u32 version;
};

struct setup_table {
    u16 dom;
    u32 nr_frames;
    short status;
    uptr frame_list; /* handle: 8 bytes at offset 16 in 64-bit, 4 at 12 in 32-bit */
};

struct xatp {
    u16 domid;
    u16 size;
    u32 space;
    uptr idx;
    uptr gpfn;
};

/* grant_entry_v1_t */
struct grant_entry {
    u16 flags;
    u16 domid;
    u32 frame;
};

#ifdef __x86_64__
#define UNMAPPED ((uptr)0x0000600000000000ull)
#else
#define UNMAPPED ((uptr)0xE0000000u)
#endif

static uptr frames[MAX_FRAMES + 1];
static struct query_size qs;
static struct get_version gv;
static struct setup_table st;
static u32 version;

static xlong gnttab(u32 cmd, void* arg, u32 count) {
    return HC3(XEN_HC_grant_table_op, cmd, arg, count);
}

static xlong setup(u16 dom, u32 nr, uptr list, u32 count) {
    st.dom = dom;
    st.nr_frames = nr;
    st.status = 0x77;
    st.frame_list = list;
    return gnttab(GNTTABOP_setup_table, &st, count);
}

static xlong map_frame(uptr idx, uptr gpfn) {
    static struct xatp x;
    x.domid = XEN_DOMID_SELF;
    x.space = XENMAPSPACE_grant_table;
    x.idx = idx;
    x.gpfn = gpfn;
    return HC2(XEN_HC_memory_op, XENMEM_add_to_physmap, &x);
}

void guest_main(u32 nr_vcpus) {
    (void)nr_vcpus;
    xen_setup();

    qs.dom = XEN_DOMID_SELF;
    expect("query_size", gnttab(GNTTABOP_query_size, &qs, 1), 0);
    expect("query_size status", qs.status, GNTST_okay);
    expect("initial frames", qs.nr_frames, 1);
    expect("max frames", qs.max_nr_frames, MAX_FRAMES);
    qs.dom = 5;
    expect("query_size other domain", gnttab(GNTTABOP_query_size, &qs, 1), 0);
    expect("query_size bad domain", qs.status, GNTST_bad_domain);
    qs.dom = 0;
    expect("query_size dom0", gnttab(GNTTABOP_query_size, &qs, 1), 0);
    expect("query_size dom0 status", qs.status, GNTST_permission_denied);
    expect("query_size count 2", gnttab(GNTTABOP_query_size, &qs, 2), -XEN_EINVAL);
    expect("query_size unmapped", gnttab(GNTTABOP_query_size, (void*)UNMAPPED, 1), -XEN_EFAULT);

    gv.dom = XEN_DOMID_SELF;
    expect("get_version", gnttab(GNTTABOP_get_version, &gv, 1), 0);
    expect("version 1", gv.version, 1);
    gv.dom = 0;
    expect("get_version dom0", gnttab(GNTTABOP_get_version, &gv, 1), -XEN_EPERM);
    gv.dom = 5;
    expect("get_version dom5", gnttab(GNTTABOP_get_version, &gv, 1), -XEN_ESRCH);
    version = 1;
    expect("set_version 1", gnttab(GNTTABOP_set_version, &version, 1), 0);
    version = 2;
    expect("set_version 2", gnttab(GNTTABOP_set_version, &version, 1), -XEN_ENOSYS);
    expect("set_version writes back 1", version, 1);
    version = 3;
    expect("set_version 3", gnttab(GNTTABOP_set_version, &version, 1), -XEN_EINVAL);
    expect("set_version unmapped", gnttab(GNTTABOP_set_version, (void*)UNMAPPED, 1),
           -XEN_EFAULT);

    /* setup_table grows the table; unmapped frames read as INVALID_GFN. */
    for (int i = 0; i <= MAX_FRAMES; ++i)
        frames[i] = 0x1234;
    expect("setup_table 4", setup(XEN_DOMID_SELF, 4, (uptr)frames, 1), 0);
    expect("setup_table status", st.status, GNTST_okay);
    expect("frame 0 not mapped", (xlong)frames[0], (xlong)~(uptr)0);
    expect("frame 3 not mapped", (xlong)frames[3], (xlong)~(uptr)0);
    expect("frame 4 untouched", (xlong)frames[4], 0x1234);
    qs.dom = XEN_DOMID_SELF;
    expect("query_size after setup", gnttab(GNTTABOP_query_size, &qs, 1), 0);
    expect("grown to 4 frames", qs.nr_frames, 4);

    /* Map frames 0 and 1 and see them in the frame list. */
    expect("map frame 0", map_frame(0, FRAME_GPFN), 0);
    expect("map frame 1", map_frame(1, FRAME_GPFN + 1), 0);
    expect("map status frame (v1 has none)", map_frame(0x80000000u, FRAME_GPFN + 2), -XEN_EINVAL);
    expect("map frame past the max", map_frame(MAX_FRAMES, FRAME_GPFN + 2), -XEN_EINVAL);
    expect("setup_table again", setup(XEN_DOMID_SELF, 4, (uptr)frames, 1), 0);
    expect("frame 0 gpfn", (xlong)frames[0], FRAME_GPFN);
    expect("frame 1 gpfn", (xlong)frames[1], FRAME_GPFN + 1);
    /* Entries written through the mapped frames stay there. */
    volatile struct grant_entry* table = (volatile struct grant_entry*)(uptr)(FRAME_GPFN * 4096ull);
    table[8].frame = 0x900;
    table[8].domid = 0;
    table[8].flags = GTF_permit_access;
    volatile struct grant_entry* second =
        (volatile struct grant_entry*)(uptr)((FRAME_GPFN + 1) * 4096ull);
    second[1].frame = 0x901;
    expect("entry 8 frame", table[8].frame, 0x900);
    expect("entry 8 flags", table[8].flags, GTF_permit_access);
    expect("entry 513 frame", second[1].frame, 0x901);
    /* Moving frame 0 keeps its contents. */
    expect("move frame 0", map_frame(0, FRAME_GPFN + 8), 0);
    volatile struct grant_entry* moved =
        (volatile struct grant_entry*)(uptr)((FRAME_GPFN + 8) * 4096ull);
    expect("moved entry 8", moved[8].frame, 0x900);

    /* Hostile setup_table. */
    expect("setup_table too many", setup(XEN_DOMID_SELF, MAX_FRAMES + 1, (uptr)frames, 1), 0);
    expect("too many status", st.status, GNTST_general_error);
    expect("setup_table huge", setup(XEN_DOMID_SELF, 0xFFFFFFFFu, (uptr)frames, 1), 0);
    expect("huge status", st.status, GNTST_general_error);
    expect("setup_table dom5", setup(5, 1, (uptr)frames, 1), 0);
    expect("dom5 status", st.status, GNTST_bad_domain);
    expect("setup_table dom0", setup(0, 1, (uptr)frames, 1), 0);
    expect("dom0 status", st.status, GNTST_permission_denied);
    expect("setup_table unmapped list", setup(XEN_DOMID_SELF, 1, UNMAPPED, 1), 0);
    expect("unmapped list status", st.status, GNTST_bad_virt_addr);
    expect("setup_table count 2", setup(XEN_DOMID_SELF, 1, (uptr)frames, 2), -XEN_EINVAL);
    expect("setup_table unmapped", gnttab(GNTTABOP_setup_table, (void*)UNMAPPED, 1), -XEN_EFAULT);
    expect("negative count", gnttab(GNTTABOP_query_size, &qs, 0x80000000u), -XEN_EINVAL);
    expect("continuation bits", gnttab(GNTTABOP_query_size | (1u << 12), &qs, 1), -XEN_EINVAL);
    /* Mapping other domains' grants is the host's job, not a domU's. */
    expect("map_grant_ref", gnttab(GNTTABOP_map_grant_ref, &qs, 1), -XEN_ENOSYS);
    expect("copy", gnttab(GNTTABOP_copy, &qs, 1), -XEN_ENOSYS);
    pass();
}
