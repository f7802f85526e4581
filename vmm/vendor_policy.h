#pragma once
// The vendor-specific half of the core's CPU policy (DESIGN.md decision 1).
// vmx/ implements it for Intel VT-x, svm/ for AMD-V; vmm/ picks one at run time
// from the host's CPUID vendor and never branches on the vendor elsewhere.
// This header is all vmx/ and svm/ see of vmm/.

#include "base/cpuid.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace basalt {

// What the core does with a guest RDMSR/WRMSR of an MSR named in the policy.
enum class MsrAction {
    Userspace, // exit to basalt-vmm, which emulates it (e.g. the Xen hypercall-page MSR)
    Deny,      // the guest gets #GP (feature hidden from the guest, e.g. nested VMX MSRs)
};

struct MsrRule {
    uint32_t first = 0; // first MSR index of the range
    uint32_t count = 1; // number of consecutive MSRs
    MsrAction action = MsrAction::Deny;
    bool read = true;  // the rule applies to RDMSR
    bool write = true; // the rule applies to WRMSR
    const char* why = "";
};

class VendorPolicy {
public:
    virtual ~VendorPolicy() = default;

    virtual CpuVendor vendor() const = 0;
    virtual std::string_view name() const = 0; // "Intel VT-x" or "AMD-V"

    // Vendor-specific shaping of the guest CPUID table (e.g. hide nested
    // virtualization). Runs after the common policy in vmm/cpuid_policy.cpp.
    virtual void adjustCpuid(CpuidTable& table) const = 0;

    // MSRs whose guest accesses must not reach KVM's default handling.
    virtual std::vector<MsrRule> msrRules() const = 0;

    // Turns KVM_EXIT_FAIL_ENTRY's hardware_entry_failure_reason into a named,
    // readable sentence (VMX exit reason with the entry-failure bit, or SVM exit code).
    virtual std::string describeEntryFailure(uint64_t hardwareReason) const = 0;

    // Name of a hardware exit reason (VMX basic exit reason or SVM exit code),
    // used when KVM reports one in an internal error; "unknown (0x..)" otherwise.
    virtual std::string exitReasonName(uint64_t reason) const = 0;
};

std::unique_ptr<VendorPolicy> makeVmxPolicy(); // defined in vmx/
std::unique_ptr<VendorPolicy> makeSvmPolicy(); // defined in svm/

} // namespace basalt
