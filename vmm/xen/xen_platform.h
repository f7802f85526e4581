#pragma once
// The Xen HVM platform a guest sees (DESIGN.md decision 2): CPUID leaves, the
// hypercall page, hypercalls and the per-domain Xen state behind them. One per
// domain, owned by Domain; vCPU threads call in concurrently.

#include "base/cpuid.h"
#include "base/result.h"
#include "vmm/xen/hvm_params.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace basalt {
class Console;
namespace kvm {
class Vcpu;
}
namespace npt {
class GuestMemory;
class PhysMap;
} // namespace npt
} // namespace basalt

namespace basalt::xen {

class HypercallContext;

inline constexpr uint32_t kXenMajor = 4;
inline constexpr uint32_t kXenMinor = 17;
inline constexpr uint32_t kHypercallPageMsr = 0x40000000;

// Why the guest asked to stop (SCHEDOP_shutdown reasons, xen/sched.h).
enum class ShutdownReason { Poweroff, Reboot, Suspend, Crash, Watchdog, SoftReset };

struct XenPlatformConfig {
    uint16_t domid = 1;
    uint32_t vcpuCount = 1;
    // Drives a guest interrupt line (in-kernel IOAPIC/PIC GSI); how event
    // channel upcalls reach a guest that set HVM_PARAM_CALLBACK_IRQ.
    std::function<void(uint32_t gsi, bool level)> setGsiLevel;
};

class XenPlatform {
public:
    using ShutdownFn = std::function<void(ShutdownReason reason, uint32_t vcpu)>;

    XenPlatform(const XenPlatformConfig& config, npt::PhysMap& physMap, npt::GuestMemory& memory,
                Console& console, ShutdownFn shutdown);
    ~XenPlatform();

    // CPUID 0x40000000-0x40000005 for one vCPU, appended to its table.
    void addCpuidLeaves(CpuidTable& table, uint32_t vcpuIndex) const;

    // MSR 0x40000000: a write installs the hypercall page at the page-aligned
    // guest-physical address; low bits select the page (only 0 exists).
    // Returns false to inject #GP.
    bool writeHypercallPageMsr(uint32_t vcpu, uint64_t value);

    // The hypercall port is live only once a hypercall page was installed, so
    // a guest that knows nothing of Xen sees an ordinary unclaimed port.
    bool hypercallsEnabled() const { return hypercallPageInstalled_.load(); }

    // Runs the hypercall whose stub trapped on `vcpu` and writes rax.
    void hypercall(kvm::Vcpu& vcpu);

    // The part of hypercall() that needs no vCPU: the guest's registers in,
    // the value for rax out. The fuzz target drives this directly.
    struct HypercallRegisters {
        uint64_t rax, rbx, rcx, rdx, rsi, rdi, r8, r10;
        uint64_t cr0, cr3, cr4, efer;
        bool longMode; // EFER.LMA and CS.L
        uint8_t cpl;
    };
    int64_t dispatch(uint32_t vcpu, const HypercallRegisters& regs);

    const XenPlatformConfig& config() const { return config_; }
    npt::PhysMap& physMap() { return physMap_; }
    npt::GuestMemory& memory() { return memory_; }
    Console& console() { return console_; }
    HvmParams& params() { return params_; }
    void shutdown(ShutdownReason reason, uint32_t vcpu) { shutdown_(reason, vcpu); }

    // Guest changed HVM_PARAM_CALLBACK_IRQ: event delivery follows it.
    void callbackIrqChanged(uint64_t value);
    // HVMOP_set_evtchn_upcall_vector for the calling vCPU.
    int64_t setUpcallVector(HypercallContext& ctx);

    // Xen system time: nanoseconds since the domain was built, from the
    // host's CLOCK_MONOTONIC. pvclock (vcpu_time_info) and HVMOP_get_time
    // both derive from it.
    uint64_t systemTimeNs() const;

    // [memory, shared info, time, grants]: accessors go here.

    // [event channels, timers, vCPU ops]: accessors go here.

private:
    XenPlatformConfig config_;
    npt::PhysMap& physMap_;
    npt::GuestMemory& memory_;
    Console& console_;
    ShutdownFn shutdown_;
    HvmParams params_;
    std::atomic<bool> hypercallPageInstalled_{false};
    uint64_t bootNs_; // CLOCK_MONOTONIC at construction

    // [memory, shared info, time, grants]: members go here.

    // [event channels, timers, vCPU ops]: members go here.
};

} // namespace basalt::xen
