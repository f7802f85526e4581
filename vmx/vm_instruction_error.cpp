#include "vmx/vm_instruction_error.h"

namespace basalt::vmx {

std::string_view vmInstructionErrorText(uint32_t error) {
    using E = VmInstructionError;
    switch (static_cast<E>(error)) {
    case E::VmcallInRoot:
        return "VMCALL executed in VMX root operation";
    case E::VmclearInvalidAddress:
        return "VMCLEAR with invalid physical address";
    case E::VmclearVmxonPointer:
        return "VMCLEAR with VMXON pointer";
    case E::VmlaunchNonClearVmcs:
        return "VMLAUNCH with non-clear VMCS";
    case E::VmresumeNonLaunchedVmcs:
        return "VMRESUME with non-launched VMCS";
    case E::VmresumeAfterVmxoff:
        return "VMRESUME after VMXOFF";
    case E::EntryInvalidControlFields:
        return "VM entry with invalid control field(s)";
    case E::EntryInvalidHostStateFields:
        return "VM entry with invalid host-state field(s)";
    case E::VmptrldInvalidAddress:
        return "VMPTRLD with invalid physical address";
    case E::VmptrldVmxonPointer:
        return "VMPTRLD with VMXON pointer";
    case E::VmptrldBadRevision:
        return "VMPTRLD with incorrect VMCS revision identifier";
    case E::UnsupportedVmcsComponent:
        return "VMREAD/VMWRITE from/to unsupported VMCS component";
    case E::VmwriteReadOnlyComponent:
        return "VMWRITE to read-only VMCS component";
    case E::VmxonInRoot:
        return "VMXON executed in VMX root operation";
    case E::EntryInvalidExecutiveVmcsPointer:
        return "VM entry with invalid executive-VMCS pointer";
    case E::EntryNonLaunchedExecutiveVmcs:
        return "VM entry with non-launched executive VMCS";
    case E::EntryExecutiveVmcsNotVmxon:
        return "VM entry with executive-VMCS pointer not VMXON pointer";
    case E::VmcallNonClearVmcs:
        return "VMCALL with non-clear VMCS";
    case E::VmcallInvalidExitControls:
        return "VMCALL with invalid VM-exit control fields";
    case E::VmcallBadMsegRevision:
        return "VMCALL with incorrect MSEG revision identifier";
    case E::VmxoffDualMonitor:
        return "VMXOFF under dual-monitor treatment of SMIs and SMM";
    case E::VmcallInvalidSmmMonitorFeatures:
        return "VMCALL with invalid SMM-monitor features";
    case E::EntryInvalidExecutiveControls:
        return "VM entry with invalid VM-execution control fields in executive VMCS";
    case E::EntryBlockedByMovSs:
        return "VM entry with events blocked by MOV SS";
    case E::InvalidInveptInvvpidOperand:
        return "invalid operand to INVEPT/INVVPID";
    }
    return {};
}

} // namespace basalt::vmx
