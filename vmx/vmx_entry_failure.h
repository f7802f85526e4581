#pragma once
// Turns KVM_EXIT_FAIL_ENTRY's hardware_entry_failure_reason on Intel into a
// sentence an operator can act on.

#include <cstdint>
#include <string>

namespace basalt::vmx {

// Two shapes reach us from KVM: a VMX exit reason with bit 31 set (the CPU
// checked the guest state and refused it: reasons 33, 34 or 41), or a bare
// VM-instruction error number (VMLAUNCH/VMRESUME failed before that, e.g.
// invalid control or host-state fields).
std::string describeEntryFailure(uint64_t hardwareReason);

// "EPT_VIOLATION" for a full or basic exit reason, "unknown (0x..)" otherwise.
std::string exitReasonName(uint64_t reason);

} // namespace basalt::vmx
