#pragma once
// KVM's Xen HVM support (KVM_CAP_XEN_HVM), DESIGN.md decision 2: where the
// host kernel has it, hypercalls are intercepted in the kernel (the guest's
// vmcall/vmmcall) and reach the core as KVM_EXIT_XEN instead of the
// hypercall page's port-I/O stub. Chosen at run time: without the capability
// (this workplace's machines) nothing here is configured and the port-I/O
// stubs stay.
//
// Example: the kernel reports HYPERCALL_MSR | INTERCEPT_HCALL | SHARED_INFO.
// planXenHvm() picks kernel hypercalls, configureXenHvm() sets
// KVM_XEN_HVM_CONFIG {INTERCEPT_HCALL, msr 0x40000000}, the hypercall page
// gets `mov eax, nr; vmcall; ret` stubs (vmmcall on AMD), and a guest's
// xen_version(0) exits with KVM_EXIT_XEN {longmode, cpl 0, input 17,
// params[0] = 0}; the core writes 0x40011 to `result`, which KVM puts in rax
// on the next KVM_RUN. The vector callback stays unadvertised until the core
// also tells the kernel where shared_info and vcpu_info are.

#include "base/result.h"
#include "vmm/kvm/vcpu_exit.h"

#include <cstdint>
#include <optional>
#include <span>

namespace basalt::kvm {

class Hypervisor;
class Vm;

// KVM_CHECK_EXTENSION(KVM_CAP_XEN_HVM)'s bits (the kernel's KVM_XEN_HVM_CONFIG_*).
namespace xen_hvm_bits {
inline constexpr uint32_t kHypercallMsr = 1u << 0;
inline constexpr uint32_t kInterceptHcall = 1u << 1;
inline constexpr uint32_t kSharedInfo = 1u << 2;
inline constexpr uint32_t kRunstate = 1u << 3;
inline constexpr uint32_t kEvtchn2Level = 1u << 4;
inline constexpr uint32_t kEvtchnSend = 1u << 5;
} // namespace xen_hvm_bits

struct XenHvmPlan {
    // KVM_XEN_HVM_CONFIG with the hypercall MSR and INTERCEPT_HCALL;
    // hypercalls arrive as XenHypercallExit.
    bool kernelHypercalls = false;
    // XENFEAT_hvm_callback_vector / HVMOP_set_evtchn_upcall_vector may be
    // offered: the kernel injects the upcall vector itself.
    bool vectorCallback = false;
    uint32_t configFlags = 0; // for KVM_XEN_HVM_CONFIG
};

// `capabilityBits`: KVM_CHECK_EXTENSION(KVM_CAP_XEN_HVM), 0 when absent.
// `coreRegistersSharedInfo`: the core tells the kernel where shared_info
// and each vcpu_info are (KVM_XEN_ATTR_TYPE_SHARED_INFO / VCPU_INFO),
// without which the kernel cannot see evtchn_upcall_pending to inject.
XenHvmPlan planXenHvm(uint32_t capabilityBits, bool coreRegistersSharedInfo);

// KVM_CHECK_EXTENSION(KVM_CAP_XEN_HVM) on this host.
uint32_t xenHvmCapabilities(const Hypervisor& hypervisor);

// KVM_XEN_HVM_CONFIG: `msr` is the hypercall-page MSR. No hypercall blobs:
// the core writes the page (INTERCEPT_HCALL forbids blobs).
Status configureXenHvm(Vm& vm, const XenHvmPlan& plan, uint32_t msr);

// Decodes a kvm_run page (or a synthesized copy of one) whose exit is
// KVM_EXIT_XEN; nullopt for any other exit or an unknown KVM_EXIT_XEN type.
std::optional<XenHypercallExit> decodeXenExit(std::span<uint8_t> run);

} // namespace basalt::kvm
