#pragma once
// VM-instruction error numbers (Intel SDM vol. 3, "VM Instruction Error
// Numbers"). When VMLAUNCH/VMRESUME itself fails, before any guest state is
// checked, KVM reports this number (without the entry-failure bit) as
// KVM_EXIT_FAIL_ENTRY's hardware reason.

#include <cstdint>
#include <string_view>

namespace basalt::vmx {

enum class VmInstructionError : uint32_t {
    VmcallInRoot = 1,
    VmclearInvalidAddress = 2,
    VmclearVmxonPointer = 3,
    VmlaunchNonClearVmcs = 4,
    VmresumeNonLaunchedVmcs = 5,
    VmresumeAfterVmxoff = 6,
    EntryInvalidControlFields = 7,
    EntryInvalidHostStateFields = 8,
    VmptrldInvalidAddress = 9,
    VmptrldVmxonPointer = 10,
    VmptrldBadRevision = 11,
    UnsupportedVmcsComponent = 12,
    VmwriteReadOnlyComponent = 13,
    VmxonInRoot = 15,
    EntryInvalidExecutiveVmcsPointer = 16,
    EntryNonLaunchedExecutiveVmcs = 17,
    EntryExecutiveVmcsNotVmxon = 18,
    VmcallNonClearVmcs = 19,
    VmcallInvalidExitControls = 20,
    VmcallBadMsegRevision = 22,
    VmxoffDualMonitor = 23,
    VmcallInvalidSmmMonitorFeatures = 24,
    EntryInvalidExecutiveControls = 25,
    EntryBlockedByMovSs = 26,
    InvalidInveptInvvpidOperand = 28,
};

// The SDM's wording for an error number; empty if it defines none.
std::string_view vmInstructionErrorText(uint32_t error);

} // namespace basalt::vmx
