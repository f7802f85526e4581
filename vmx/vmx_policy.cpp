// The Intel VT-x half of the CPU policy (see vmm/vendor_policy.h).

#include "vmm/vendor_policy.h"
#include "vmx/vmx_cpuid.h"
#include "vmx/vmx_entry_failure.h"
#include "vmx/vmx_msrs.h"

namespace basalt {

namespace {

class VmxPolicy final : public VendorPolicy {
public:
    CpuVendor vendor() const override { return CpuVendor::Intel; }
    std::string_view name() const override { return "Intel VT-x"; }

    void adjustCpuid(CpuidTable& table) const override;
    std::vector<MsrRule> msrRules() const override;

    std::string describeEntryFailure(uint64_t hardwareReason) const override {
        return vmx::describeEntryFailure(hardwareReason);
    }
    std::string exitReasonName(uint64_t reason) const override {
        return vmx::exitReasonName(reason);
    }
};

void VmxPolicy::adjustCpuid(CpuidTable& table) const {
    // Nested VMX is not offered: Basalt neither enables KVM's nested state
    // handling (KVM_{GET,SET}_NESTED_STATE for save/restore) nor would Xen 4.17
    // show VMX to an HVM guest without nestedhvm=1. KVM reports VMX whenever its
    // "nested" module parameter is on.
    if (CpuidEntry* features = findCpuid(table, vmx::kLeafFeatures))
        features->ecx &= ~vmx::kFeaturesEcxVmx;

    // SGX needs the VMM to map a virtual EPC (/dev/sgx_vepc) into the guest and
    // describe it in leaf 0x12; Basalt maps none, so a guest told "SGX" would
    // find zero EPC sections. Xen 4.17 does not offer SGX to guests either.
    if (CpuidEntry* structured = findCpuid(table, vmx::kLeafStructuredFeatures, 0)) {
        structured->ebx &= ~vmx::kStructuredEbxSgx;
        structured->ecx &= ~vmx::kStructuredEcxSgxLaunchControl;
    }
    for (CpuidEntry& entry : table)
        if (entry.function == vmx::kLeafSgx)
            entry.eax = entry.ebx = entry.ecx = entry.edx = 0;
}

std::vector<MsrRule> VmxPolicy::msrRules() const {
    // IA32_FEATURE_CONTROL (0x3A) stays with KVM: KVM keeps a per-vCPU copy
    // whose writable bits follow the guest's CPUID (no VMX bit once VMX is
    // hidden), and guests read it early without a #GP handler (Xen notes Windows
    // 10 does), so denying it would crash them rather than hide anything.
    return {
        MsrRule{vmx::kMsrVmxCapabilityFirst,
                vmx::kMsrVmxCapabilityLast - vmx::kMsrVmxCapabilityFirst + 1, MsrAction::Deny, true,
                true,
                "VMX capability MSRs (IA32_VMX_BASIC..IA32_VMX_EXIT_CTLS2): nested VMX is "
                "hidden"},
    };
}

} // namespace

std::unique_ptr<VendorPolicy> makeVmxPolicy() {
    return std::make_unique<VmxPolicy>();
}

} // namespace basalt
