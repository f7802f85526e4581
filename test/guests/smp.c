/*
 * smp: INIT-SIPI-SIPI bring-up of every AP (run with --vcpus 4). The BSP copies
 * a real-mode trampoline (smp.asm) to 0x8000; each AP switches to protected
 * mode with the trampoline's GDT, takes a stack, records its LAPIC ID and its
 * CPUID.1:EBX[31:24] and atomically counts itself. The BSP waits (bounded) for
 * ESI-1 APs and checks the IDs are distinct, agree with CPUID and follow Xen's
 * numbering, 2 x vCPU index (2, 4, .., 2(N-1)). APs then park in cli; hlt.
 * basalt-vmm --entry protected --vcpus 4. About 2 000 guest instructions of
 * work on the BSP plus ~15 000 in its delay and wait loops, 100 per AP.
 *
 * Delays are calibrated spins (PAUSE loops), not a timer: KVM latches INIT and
 * SIPI, so the architectural 10 ms / 200 us waits only need to be "some time".
 */
#include "rt/rt.h"

const char guest_name[] = "smp";

#define TRAMPOLINE_BASE 0x8000u
#define SIPI_VECTOR (TRAMPOLINE_BASE >> 12)
#define MAX_APS 15 /* smp.asm has as many stacks */

#define LAPIC_BASE 0xFEE00000u
#define LAPIC_ID (LAPIC_BASE + 0x20)
#define LAPIC_SVR (LAPIC_BASE + 0xF0)
#define LAPIC_ICR_LOW (LAPIC_BASE + 0x300)
#define LAPIC_ICR_HIGH (LAPIC_BASE + 0x310)
#define LAPIC_SVR_ENABLE (1u << 8)
#define SPURIOUS_VECTOR 0xFF
#define ICR_DELIVERY_INIT (5u << 8)
#define ICR_DELIVERY_STARTUP (6u << 8)
#define ICR_DELIVERY_PENDING (1u << 12)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_ALL_EXCLUDING_SELF (3u << 18)

/* About 3 ms and 0.3 ms here (2 M instructions/s); shorter on hardware. */
#define INIT_DELAY_SPINS 1000
#define SIPI_DELAY_SPINS 100
/* A few seconds here if APs never come; far more than bring-up needs anywhere. */
#define AP_WAIT_SPINS 2000000
#define ICR_IDLE_SPINS 100000

extern const u8 trampoline_start[], trampoline_end[];

struct ap_record {
    u32 lapic_id;
    u32 cpuid_id;
};

static volatile struct ap_record records[MAX_APS];
static volatile u32 ap_count;

static u32 lapic_id(void) {
    return mmio_read32(LAPIC_ID) >> 24;
}

static u32 cpuid_apic_id(void) {
    u32 a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    return b >> 24;
}

/* Called on each AP by the trampoline with its stack ticket (0..MAX_APS-1). */
void ap_main(u32 ticket);
void ap_main(u32 ticket) {
    records[ticket].lapic_id = lapic_id();
    records[ticket].cpuid_id = cpuid_apic_id();
    __atomic_fetch_add(&ap_count, 1, __ATOMIC_SEQ_CST); /* lock xadd: publishes the record */
}

static void spin(u32 n) {
    for (volatile u32 i = 0; i < n; i++)
        cpu_relax();
}

static void send_ipi(u32 icr_low, const char* what) {
    mmio_write32(LAPIC_ICR_HIGH, 0);
    mmio_write32(LAPIC_ICR_LOW, icr_low);
    for (u32 i = 0; mmio_read32(LAPIC_ICR_LOW) & ICR_DELIVERY_PENDING; i++)
        if (i > ICR_IDLE_SPINS)
            fail(what);
}

void guest_main(u32 nr_vcpus) {
    print("smp: ");
    print_dec(nr_vcpus);
    print(" vcpus\n");
    if (nr_vcpus < 2)
        fail_hex("needs at least 2 vCPUs (--vcpus 4)", nr_vcpus);
    if (nr_vcpus > MAX_APS + 1)
        fail_hex("more vCPUs than AP stacks", nr_vcpus);
    u32 aps = nr_vcpus - 1;

    u32 bsp_id = lapic_id();
    if (bsp_id != cpuid_apic_id())
        fail_hex("BSP LAPIC ID differs from CPUID.1:EBX[31:24]", bsp_id);
    /* Xen's numbering: vCPU i has APIC ID 2*i, so the BSP (vCPU 0) has 0. */
    if (bsp_id != 0)
        fail_hex("BSP LAPIC ID is not 0 (2 x vCPU 0)", bsp_id);
    print("cpu ");
    print_dec(bsp_id);
    print(" up (bsp)\n");

    memcpy((void*)TRAMPOLINE_BASE, trampoline_start, (size_t)(trampoline_end - trampoline_start));
    mmio_write32(LAPIC_SVR, LAPIC_SVR_ENABLE | SPURIOUS_VECTOR);

    send_ipi(ICR_ALL_EXCLUDING_SELF | ICR_LEVEL_ASSERT | ICR_DELIVERY_INIT, "INIT stays pending");
    spin(INIT_DELAY_SPINS);
    for (int i = 0; i < 2; i++) {
        send_ipi(ICR_ALL_EXCLUDING_SELF | ICR_LEVEL_ASSERT | ICR_DELIVERY_STARTUP | SIPI_VECTOR,
                 "SIPI stays pending");
        spin(SIPI_DELAY_SPINS);
    }

    u32 waited = 0;
    while (ap_count < aps) {
        if (++waited > AP_WAIT_SPINS) {
            print("APs up: ");
            print_dec(ap_count);
            print(" of ");
            print_dec(aps);
            print("\n");
            fail("not every AP came up");
        }
        cpu_relax();
    }
    /* A second SIPI must not start an AP twice: the count stays put. */
    spin(SIPI_DELAY_SPINS * 10);
    if (ap_count != aps)
        fail_hex("more AP arrivals than APs", ap_count);

    u32 seen = 1u; /* the BSP, vCPU index 0 */
    for (u32 i = 0; i < aps; i++) {
        u32 id = records[i].lapic_id, cpuid_id = records[i].cpuid_id;
        print("cpu ");
        print_dec(id);
        print(" up (cpuid apic id ");
        print_dec(cpuid_id);
        print(")\n");
        if (id != cpuid_id)
            fail_hex("AP LAPIC ID differs from its CPUID.1:EBX[31:24]", (u64)id << 32 | cpuid_id);
        /* Xen's numbering: APIC ID = 2 x vCPU index, never odd. */
        if ((id & 1) || id / 2 >= nr_vcpus)
            fail_hex("AP LAPIC ID is not 2 x a vCPU index", id);
        u32 index = id / 2;
        if (seen & (1u << index))
            fail_hex("two CPUs report the same APIC ID", id);
        seen |= 1u << index;
    }
    if (seen != (1u << nr_vcpus) - 1)
        fail_hex("APIC IDs are not 0,2,..,2(N-1)", seen);
    pass();
}
