#pragma once
// Turns KVM_EXIT_FAIL_ENTRY's hardware_entry_failure_reason on AMD (the VMCB
// EXITCODE after a failed VMRUN) into a sentence an operator can act on.

#include <cstdint>
#include <string>

namespace basalt::svm {

std::string describeEntryFailure(uint64_t hardwareReason);

} // namespace basalt::svm
