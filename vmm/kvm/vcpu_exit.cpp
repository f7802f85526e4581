#include "vmm/kvm/vcpu_exit.h"

#include <linux/kvm.h>

namespace basalt::kvm {

const char* internalErrorName(uint32_t suberror) {
    switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION:
        return "emulation failure (KVM could not emulate a guest instruction)";
    case KVM_INTERNAL_ERROR_SIMUL_EX:
        return "simultaneous exceptions";
    case KVM_INTERNAL_ERROR_DELIVERY_EV:
        return "exception or interrupt delivery failed";
    case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
        return "unexpected hardware exit reason";
    default:
        return "unknown internal error";
    }
}

} // namespace basalt::kvm
