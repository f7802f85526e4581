#pragma once
// The Xen HVM platform a guest sees (DESIGN.md decision 2): CPUID leaves, the
// hypercall page, hypercalls and the per-domain Xen state behind them. One per
// domain, owned by Domain; vCPU threads call in concurrently.

#include "base/cpuid.h"
#include "base/result.h"
#include "vmm/xen/hvm_params.h"
#include "vmm/xen/hypercall.h"
#include "vmm/xen/vcpu_context.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace basalt {
class Console;
namespace kvm {
class Vcpu;
struct XenHypercallExit;
} // namespace kvm
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
    // The core's vCPU hotplug hook for VCPUOP_initialise/up/down (Xen's
    // _VPF_down). Without it (null), those subops answer -ENOSYS.
    struct VcpuControl {
        // Loads a checked VCPUOP_initialise context into `vcpu` on its own
        // thread before it next runs, and takes it offline until setOnline.
        std::function<void(uint32_t vcpu, const VcpuContext& context)> load;
        // Offline: the vCPU's thread waits outside KVM_RUN. Never blocks, so
        // a vCPU may take itself offline from its own hypercall.
        std::function<void(uint32_t vcpu, bool online)> setOnline;
    } vcpuControl;
    // Which CR4/EFER bits a VCPUOP_initialise context may set.
    HvmContextPolicy contextPolicy;
    // The hypercall page's stubs: vmcall/vmmcall only where the kernel
    // intercepts them (KVM_CAP_XEN_HVM, vmm/kvm/xen_hvm.h).
    HypercallStub hypercallStub = HypercallStub::PortIo;
    // The domain handle XENVER_guest_handle returns: the domain's UUID bytes
    // (vmm/builder/domain_uuid.h). All zero when the spec has none.
    std::array<uint8_t, 16> handle{};
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
    // Runs a hypercall the kernel intercepted (KVM_EXIT_XEN) and sets its
    // result, which KVM loads into rax (kernel_hypercall.cpp).
    void hypercall(kvm::Vcpu& vcpu, kvm::XenHypercallExit& exit);

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
    // Shared info, pvclock, grant tables, E820 and the p2m (xen_memory.h).
    // Null only if its host pages could not be allocated (logged); then
    // memory_op and grant_table_op answer -ENOMEM.
    class XenMemory* xenMemory() const;
    // The event bitmaps and vcpu_info (shared_info.h); null as above.
    class SharedInfo* sharedInfo() const;
    // VCPUOP_register_vcpu_info (SharedInfo::registerVcpuInfo), then the
    // vCPU's pvclock is rewritten. 0 or a negative Xen errno.
    int registerVcpuInfo(uint32_t vcpu, uint64_t gfn, uint32_t offset);
    // Rewrites `vcpu`'s vcpu_time_info; timers and the vCPU loop may call it.
    void refreshTime(uint32_t vcpu);
    // pvclock's TSC: the host TSC frequency (KVM_GET_TSC_KHZ; 0 keeps the
    // measured one) and guest TSC - host TSC. The domain sets it at start.
    void setTsc(uint64_t tscKhz, int64_t guestTscOffset);
    // hvm_latch_shinfo_size(): the guest's mode picks shared_info's layout.
    void latchSharedInfoLayout(bool longMode);

    // [event channels, timers, vCPU ops]: accessors go here.
    // Ports, upcalls, Xen timers, runstates (xen_events.h); never null.
    class XenEvents& events() const;
    // Set before the domain pauses or stops its vCPU threads, cleared on
    // resume: no vCPU may then sleep in SCHEDOP_block/poll (vcpu_wait.h).
    void holdVcpus(bool held);

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
    // shared_ptr: destroyed where the type is incomplete (xen_platform.cpp).
    std::shared_ptr<class XenMemory> xenMemory_;
    void initMemory(); // xen_platform_memory.cpp

    // [event channels, timers, vCPU ops]: members go here.
    // Declared after the shared info they point into: destroyed first.
    std::shared_ptr<class EventBitmaps> eventBits_;
    std::shared_ptr<class XenEvents> events_;
    void initEvents(); // xen_platform_events.cpp
};

} // namespace basalt::xen
