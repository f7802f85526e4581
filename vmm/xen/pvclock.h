#pragma once
// Xen system time as the guest reads it from vcpu_time_info (pvclock):
//     system_time + ((tsc - tsc_timestamp) << tsc_shift) * tsc_to_system_mul >> 32
// (a negative shift shifts right). Basalt's pvclock is one linear function of
// the guest TSC for the whole domain, anchored at XenPlatform::systemTimeNs()
// when the platform learns the TSC frequency, so every vCPU reads the same,
// monotonic clock; refreshes only move the (tsc_timestamp, system_time) pair
// along that line. The record is written with the version protocol: odd
// while it changes, even when stable, so a guest retries a torn read.
//
// Example: a 2 GHz TSC gives tsc_shift = 0 and mul = 2^31
// (0.5 ns per tick); a 3 GHz TSC gives shift -1 and mul ~ 2^32 * 2/3.

#include <cstdint>

// After <cstdint>: the Xen headers use the fixed-width types.
#include "vmm/xen/xen_headers.h"

namespace basalt::xen {

struct TscScale {
    uint32_t mul = 0; // tsc_to_system_mul
    int8_t shift = 0; // tsc_shift
};

// The (mul, shift) that turn ticks of a `hz` clock into nanoseconds.
TscScale tscScaleFor(uint64_t hz);
// Nanoseconds for `ticks` with `scale`, as the guest computes them.
uint64_t scaleTicks(uint64_t ticks, TscScale scale);
// The host TSC frequency measured against CLOCK_MONOTONIC (about 10 ms),
// for when the hypervisor does not report it.
uint64_t measureTscHz();
// CPUID 0x80000007 EDX bit 8: the TSC rate never changes.
bool hostHasInvariantTsc();
uint64_t readHostTsc();

class Pvclock {
public:
    // `tscHz`: guest TSC frequency; guest TSC = host TSC + `guestTscOffset`;
    // at host TSC `anchorHostTsc` system time was `anchorNs`.
    Pvclock(uint64_t tscHz, int64_t guestTscOffset, bool stable, uint64_t anchorHostTsc,
            uint64_t anchorNs);

    // The record for "now" (version left 0).
    vcpu_time_info_t now() const;
    // Writes `record` into the guest's vcpu_time_info at `dst` with the
    // version protocol; concurrent writers are serialised by the caller.
    static void publish(uint8_t* dst, const vcpu_time_info_t& record);

    TscScale scale() const { return scale_; }
    uint64_t tscHz() const { return tscHz_; }

private:
    uint64_t tscHz_;
    int64_t guestTscOffset_;
    bool stable_;
    uint64_t anchorHostTsc_;
    uint64_t anchorNs_;
    TscScale scale_;
};

} // namespace basalt::xen
