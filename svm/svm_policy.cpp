// The AMD-V half of the CPU policy (see vmm/vendor_policy.h).

#include "svm/svm_cpuid.h"
#include "svm/svm_entry_failure.h"
#include "svm/svm_exit_codes.h"
#include "svm/svm_msrs.h"
#include "vmm/vendor_policy.h"

namespace basalt {

namespace {

void zeroLeaf(CpuidTable& table, uint32_t function) {
    for (CpuidEntry& entry : table)
        if (entry.function == function)
            entry.eax = entry.ebx = entry.ecx = entry.edx = 0;
}

class SvmPolicy final : public VendorPolicy {
public:
    CpuVendor vendor() const override { return CpuVendor::Amd; }
    std::string_view name() const override { return "AMD-V"; }

    void adjustCpuid(CpuidTable& table) const override;
    std::vector<MsrRule> msrRules() const override;

    std::string describeEntryFailure(uint64_t hardwareReason) const override {
        return svm::describeEntryFailure(hardwareReason);
    }
    std::string exitReasonName(uint64_t reason) const override { return svm::exitCodeName(reason); }
};

void SvmPolicy::adjustCpuid(CpuidTable& table) const {
    // Nested SVM is not offered (no KVM nested-state save/restore in Basalt, and
    // Xen 4.17 hides SVM without nestedhvm=1). KVM reports SVM whenever its
    // "nested" module parameter is on, which is the default on AMD.
    if (CpuidEntry* features = findCpuid(table, svm::kLeafExtendedFeatures))
        features->ecx &= ~svm::kExtendedFeaturesEcxSvm;

    // Leaf 0x8000000A describes SVM (revision, ASID count, NPT, AVIC...) and is
    // defined only when the SVM bit is set; what KVM fills in describes its
    // nested SVM. Zero is what KVM itself reports with nesting off.
    zeroLeaf(table, svm::kLeafSvmFeatures);

    // SEV/SEV-ES are properties of how a VM is launched (KVM_SEV_* launch
    // commands, encrypted VMSA), which Basalt does not do; a guest told "SEV"
    // would look for a C-bit that means nothing. KVM reports this leaf when the
    // host has SEV enabled, and zero otherwise, which we copy.
    zeroLeaf(table, svm::kLeafEncryptedMemory);
}

std::vector<MsrRule> SvmPolicy::msrRules() const {
    // With SVM hidden, EFER.SVME is reserved (KVM refuses it), so VMRUN cannot
    // run and these MSRs have no effect: deny what KVM would otherwise accept.
    // VM_CR reads stay with KVM, which returns 0 as Xen 4.17 does ("SVM not
    // locked or disabled"), for software that probes it. Xen ignores VM_CR
    // writes and keeps a page-aligned VM_HSAVE_PA for nested SVM; without
    // nested SVM, #GP is the honest answer to a guest that writes them.
    return {
        MsrRule{svm::kMsrVmCr, 1, MsrAction::Deny, false, true,
                "VM_CR: writes refused, nested SVM is hidden"},
        MsrRule{svm::kMsrVmHsavePa, 1, MsrAction::Deny, true, true,
                "VM_HSAVE_PA: nested SVM is hidden"},
    };
}

} // namespace

std::unique_ptr<VendorPolicy> makeSvmPolicy() {
    return std::make_unique<SvmPolicy>();
}

} // namespace basalt
