#include "svm/svm_entry_failure.h"

#include "svm/svm_exit_codes.h"

namespace basalt::svm {

std::string describeEntryFailure(uint64_t hardwareReason) {
    uint64_t code = normalizeExitCode(hardwareReason);
    switch (static_cast<ExitCode>(code)) {
    case ExitCode::Invalid:
        return "VM entry failed: VMRUN rejected the VMCB (invalid guest state, SVM exit code "
               "VMEXIT_INVALID); hint: EFER (SVME set, LME/LMA against CR0.PG), reserved bits "
               "of CR0/CR3/CR4/DR6/DR7 and the CS/SS attributes must pass VMRUN's consistency "
               "checks";
    case ExitCode::Busy:
        return "VM entry failed: VMRUN found the guest's VMSA busy (SVM exit code VMEXIT_BUSY, "
               "SEV-SNP)";
    case ExitCode::IdleRequired:
        return "VM entry failed: VMRUN needs the sibling thread idle (SVM exit code "
               "VMEXIT_IDLE_REQUIRED)";
    case ExitCode::InvalidPmc:
        return "VM entry failed: VMRUN rejected the guest's PMC state (SVM exit code "
               "VMEXIT_INVALID_PMC)";
    default:
        break;
    }
    // Any other code means the guest did run and exited normally; KVM should
    // not call that an entry failure, so say what we got.
    return "VM entry failed: unexpected SVM exit code " + exitCodeName(hardwareReason);
}

} // namespace basalt::svm
