#pragma once
// Intel MSRs the VT-x policy takes a position on (SDM vol. 4, table 2-2).

#include <cstdint>

namespace basalt::vmx {

// Left to KVM, see msrRules() in vmx_policy.cpp.
inline constexpr uint32_t kMsrFeatureControl = 0x3A;

// The VMX capability MSRs, IA32_VMX_BASIC .. IA32_VMX_EXIT_CTLS2. They only
// describe VMX to a hypervisor; a guest without VMX in CPUID has no use for them.
inline constexpr uint32_t kMsrVmxBasic = 0x480;
inline constexpr uint32_t kMsrVmxVmfunc = 0x491;         // last one KVM emulates
inline constexpr uint32_t kMsrVmxProcbasedCtls3 = 0x492; // tertiary controls
inline constexpr uint32_t kMsrVmxExitCtls2 = 0x493;      // secondary exit controls
inline constexpr uint32_t kMsrVmxCapabilityFirst = kMsrVmxBasic;
inline constexpr uint32_t kMsrVmxCapabilityLast = kMsrVmxExitCtls2;

} // namespace basalt::vmx
