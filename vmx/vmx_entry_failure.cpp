#include "vmx/vmx_entry_failure.h"

#include "vmx/vm_instruction_error.h"
#include "vmx/vmx_exit_reasons.h"

#include <cstdio>
#include <limits>

namespace basalt::vmx {

namespace {

std::string hex(uint64_t value) {
    char text[sizeof "0x" + 16];
    std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
    return text;
}

std::string unknown(uint64_t value) {
    return "unknown (" + hex(value) + ")";
}

// What went wrong, and where to look, for the three entry-failure exits.
struct EntryFailureText {
    std::string what;
    const char* hint = "";
};

EntryFailureText entryFailureText(uint16_t basic) {
    switch (static_cast<ExitReason>(basic)) {
    case ExitReason::InvalidGuestState:
        return {"invalid guest state",
                "; hint: the vCPU's segment registers (CS/SS access rights, real-mode bases), "
                "CR0/CR4 (fixed bits, PG without PE) and EFER (LMA/LME against CR0.PG) "
                "must be consistent"};
    case ExitReason::MsrLoading:
        return {"MSR loading",
                "; hint: an entry of the VM-entry MSR-load list was refused; the exit "
                "qualification gives its index"};
    case ExitReason::MachineCheck:
        return {"machine-check event",
                "; hint: the host CPU took a machine check during VM entry (see the host's MCE "
                "log)"};
    default:
        break;
    }
    std::string_view name = basicExitReasonName(basic);
    return {name.empty() ? std::string("unknown exit reason") : std::string(name)};
}

} // namespace

std::string describeEntryFailure(uint64_t hardwareReason) {
    if (hardwareReason > std::numeric_limits<uint32_t>::max())
        return "VM entry failed: unrecognized VMX failure reason " + hex(hardwareReason);

    auto full = static_cast<uint32_t>(hardwareReason);
    if (full & kExitReasonEntryFailure) {
        auto basic = static_cast<uint16_t>(full & kBasicExitReasonMask);
        EntryFailureText text = entryFailureText(basic);
        return "VM entry failed: " + text.what + " (VMX exit reason " + std::to_string(basic) +
               ", " + hex(full) + ")" + text.hint;
    }

    std::string_view error = vmInstructionErrorText(full);
    return "VM entry failed: VMLAUNCH/VMRESUME reported VM-instruction error " +
           std::to_string(full) + " (" +
           (error.empty() ? std::string("not defined by the SDM") : std::string(error)) + ")";
}

std::string exitReasonName(uint64_t reason) {
    if (reason > std::numeric_limits<uint32_t>::max())
        return unknown(reason);
    std::string_view name =
        basicExitReasonName(static_cast<uint16_t>(reason & kBasicExitReasonMask));
    return name.empty() ? unknown(reason) : std::string(name);
}

} // namespace basalt::vmx
