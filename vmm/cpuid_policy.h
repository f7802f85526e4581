#pragma once
// The vendor-neutral half of the guest CPU policy: the CPUID table each vCPU
// is given and the MSRs whose accesses bypass KVM's own emulation. The
// vendor-specific half is a VendorPolicy (vmx/, svm/), applied from here.

#include "base/cpuid.h"
#include "vmm/vendor_policy.h"

#include <cstdint>
#include <string>
#include <vector>

namespace basalt {

// CPUID 0x40000000-0x400000FF: the hypervisor leaves. KVM reports its own
// there ("KVMKVMKVM" and its PV feature bits); Basalt removes them because
// guests must find Xen, whose leaves the Xen ABI layer adds in this range.
inline constexpr uint32_t kHypervisorLeafBase = 0x40000000;
inline constexpr uint32_t kHypervisorLeafLast = 0x400000FF;

// Xen's MSRs, without Viridian: the hypercall-page MSR at the base, and the
// rest of the range Xen claims (with Viridian on, Xen moves its base to
// 0x40000200 and Viridian takes 0x40000000-0x400001FF; not supported yet).
inline constexpr uint32_t kXenHypercallPageMsr = 0x40000000;
inline constexpr uint32_t kXenMsrRangeLast = 0x400002FF;

// KVM's paravirtual MSRs (kvmclock, async PF, steal time, PV EOI...): the
// original pair and the 0x4b564dxx ("KVM") block.
inline constexpr uint32_t kKvmLegacyMsrFirst = 0x11; // MSR_KVM_WALL_CLOCK
inline constexpr uint32_t kKvmLegacyMsrLast = 0x12;  // MSR_KVM_SYSTEM_TIME
inline constexpr uint32_t kKvmMsrFirst = 0x4B564D00;
inline constexpr uint32_t kKvmMsrLast = 0x4B564DFF;

// Xen's HVM numbering (xen/arch/x86/hvm/vlapic.c, hvmloader's LAPIC_ID):
// vCPU i has APIC ID 2i, which hvmloader's MADT and AP wake-up and guests
// built for Xen rely on. The vCPU index stays the identity everywhere else.
inline constexpr uint32_t xenApicId(uint32_t vcpuIndex) {
    return 2 * vcpuIndex;
}

// The CPUID table for vCPU `vcpuIndex` of `vcpuCount`: KVM's supported set
// without KVM's own leaves, with the hypervisor bit, Xen 4.17's HVM topology
// (one package of vcpuCount cores, APIC ID = xenApicId(vcpuIndex), counts and
// ID widths doubled the way xc_cpuid_apply_policy doubles them), then the
// vendor's adjustments. Expects vcpuIndex < vcpuCount (a count of 0 is
// treated as 1).
CpuidTable makeGuestCpuid(const CpuidTable& kvmSupported, const VendorPolicy& vendor,
                          uint32_t vcpuIndex, uint32_t vcpuCount);

// The vendor's MSR rules plus the vendor-neutral ones (Xen's MSRs, KVM's PV
// MSRs). The result passes checkMsrRules().
std::vector<MsrRule> makeMsrPolicy(const VendorPolicy& vendor);

// Problems with a rule set, one per line: empty or wrapping ranges, rules that
// apply to no access, and rules that claim the same access to the same MSR
// (KVM's filter and MsrDispatcher take the first match, so an overlap silently
// hides a rule). Empty means the rules are sound.
std::string checkMsrRules(const std::vector<MsrRule>& rules);

} // namespace basalt
