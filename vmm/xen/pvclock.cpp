#include "vmm/xen/pvclock.h"

#include <atomic>
#include <cpuid.h>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <x86intrin.h>

namespace basalt::xen {

namespace {

__extension__ typedef unsigned __int128 Uint128; // for 64x32-bit products

constexpr uint64_t kNsPerSec = 1000000000ull;
constexpr uint32_t kCpuidAdvancedPower = 0x80000007;
constexpr uint32_t kInvariantTscBit = 1u << 8;
constexpr uint64_t kMeasureNs = 10000000; // 10 ms

uint64_t monotonicNs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * kNsPerSec + static_cast<uint64_t>(ts.tv_nsec);
}

} // namespace

TscScale tscScaleFor(uint64_t hz) {
    // Bring the rate into (0.5 GHz, 1 GHz] ticks per second by shifting, so
    // mul = 2^32 * 1e9 / rate fits in 32 bits and keeps the most precision.
    TscScale scale;
    if (hz == 0)
        return scale;
    uint64_t rate = hz;
    int shift = 0;
    while (rate > 2 * kNsPerSec) {
        rate >>= 1;
        --shift;
    }
    while (rate <= kNsPerSec) {
        rate <<= 1;
        ++shift;
    }
    scale.mul = static_cast<uint32_t>((kNsPerSec << 32) / rate);
    scale.shift = static_cast<int8_t>(shift);
    return scale;
}

uint64_t scaleTicks(uint64_t ticks, TscScale scale) {
    if (scale.shift < 0)
        ticks >>= -scale.shift;
    else
        ticks <<= scale.shift;
    return static_cast<uint64_t>((static_cast<Uint128>(ticks) * scale.mul) >> 32);
}

uint64_t readHostTsc() {
    return __rdtsc();
}

uint64_t measureTscHz() {
    uint64_t ns0 = monotonicNs();
    uint64_t tsc0 = readHostTsc();
    uint64_t ns1;
    do {
        ns1 = monotonicNs();
    } while (ns1 - ns0 < kMeasureNs);
    uint64_t tsc1 = readHostTsc();
    return static_cast<uint64_t>(static_cast<Uint128>(tsc1 - tsc0) * kNsPerSec / (ns1 - ns0));
}

bool hostHasInvariantTsc() {
    unsigned a, b, c, d;
    if (!__get_cpuid(kCpuidAdvancedPower, &a, &b, &c, &d))
        return false;
    return d & kInvariantTscBit;
}

Pvclock::Pvclock(uint64_t tscHz, int64_t guestTscOffset, bool stable, uint64_t anchorHostTsc,
                 uint64_t anchorNs)
    : tscHz_(tscHz), guestTscOffset_(guestTscOffset), stable_(stable),
      anchorHostTsc_(anchorHostTsc), anchorNs_(anchorNs), scale_(tscScaleFor(tscHz)) {}

vcpu_time_info_t Pvclock::now() const {
    uint64_t host = readHostTsc();
    // Before the anchor (another CPU's TSC a hair behind) the clock holds still.
    uint64_t elapsed = host > anchorHostTsc_ ? host - anchorHostTsc_ : 0;
    vcpu_time_info_t record{};
    record.tsc_timestamp = anchorHostTsc_ + elapsed + static_cast<uint64_t>(guestTscOffset_);
    record.system_time = anchorNs_ + scaleTicks(elapsed, scale_);
    record.tsc_to_system_mul = scale_.mul;
    record.tsc_shift = scale_.shift;
    record.flags = stable_ ? XEN_PVCLOCK_TSC_STABLE_BIT : 0;
    return record;
}

void Pvclock::publish(uint8_t* dst, const vcpu_time_info_t& record) {
    // 32-bit words only: a 32-bit guest may place its vcpu_info at any 4-byte
    // boundary, so the 64-bit fields need not be 8-byte aligned.
    static_assert(sizeof(vcpu_time_info_t) == 32 && offsetof(vcpu_time_info_t, version) == 0);
    constexpr size_t kWords = sizeof(vcpu_time_info_t) / 4;
    uint32_t words[kWords];
    std::memcpy(words, &record, sizeof words);
    auto word = [dst](size_t i) {
        return std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(dst + 4 * i));
    };
    uint32_t odd = (word(0).load() + 1) | 1;
    word(0).store(odd);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    for (size_t i = 2; i < kWords; ++i) // word 1 is pad0
        word(i).store(words[i], std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    word(0).store(odd + 1);
}

} // namespace basalt::xen
