#pragma once
// Hypercalls the kernel intercepted (KVM_CAP_XEN_HVM, vmm/kvm/xen_hvm.h):
// KVM_EXIT_XEN hands over the number and the arguments in the guest mode's
// order; they go through the same dispatcher as the port-I/O stubs.

#include "vmm/kvm/registers.h"
#include "vmm/kvm/vcpu_exit.h"
#include "vmm/xen/xen_platform.h"

namespace basalt::xen {

// The exit's arguments as the registers XenPlatform::dispatch() reads, with
// the paging state of `sregs` (for copying arguments from guest memory).
XenPlatform::HypercallRegisters kernelHypercallRegisters(const kvm::XenHypercallExit& exit,
                                                         const kvm::SpecialRegisters& sregs);

// The value KVM puts in rax: a 32-bit guest sees eax only.
uint64_t kernelHypercallResult(const kvm::XenHypercallExit& exit, int64_t result);

} // namespace basalt::xen
