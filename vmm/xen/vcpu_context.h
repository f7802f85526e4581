#pragma once
// VCPUOP_initialise for an HVM guest: the vcpu_hvm_context a guest hands in
// (xen/hvm/hvm_vcpu.h), checked as Xen 4.17's arch_set_info_hvm_guest()
// checks it, and turned into the registers the core loads into the vCPU.
//
// Example: an OS starts vCPU 1 in 32-bit flat protected mode with
//   mode=VCPU_HVM_MODE_32B, eip=ap_entry, esp=stack, cr0=PE|ET,
//   cs_ar=0xc9b (G, D, P, code), ds/es/ss_ar=0xc93, tr_ar=0x8b, limits ~0
// decodeHvmContext() accepts it (setting the accessed bits, as Xen does);
// applyTo() overlays CS/DS/ES/SS/TR, CR0/CR3/CR4/EFER on the vCPU's reset
// special registers, leaving FS, GS, LDT, GDTR and IDTR at reset values
// (Xen's context has none of them), and the vCPU starts there on VCPUOP_up.

#include <cstdint> // before the Xen headers, which use it

#include "base/cpuid.h"
#include "vmm/kvm/registers.h"
#include "vmm/xen/xen_headers.h"

#include <xen/hvm/hvm_vcpu.h>

namespace basalt::xen {

// What VCPUOP_initialise loads: the general registers in full, and the
// special registers Xen's context covers.
struct VcpuContext {
    kvm::GeneralRegisters regs;
    kvm::Segment cs, ds, es, ss, tr;
    uint64_t cr0 = 0, cr3 = 0, cr4 = 0, efer = 0;

    // The vCPU's current special registers with this context laid over them.
    void applyTo(kvm::SpecialRegisters& sregs) const;
};

// The guest's CPU features that decide which CR4 and EFER bits a context may
// set (Xen's hvm_cr4_guest_valid_bits() and hvm_efer_valid()).
struct HvmContextPolicy {
    uint64_t cr4ValidBits = 0;
    bool syscall = false, longMode = false, nx = false, ffxsr = false;
};
// From the CPUID the guest's vCPUs are given. No nested virtualization:
// CR4.VMXE and EFER.SVME are never valid.
HvmContextPolicy hvmContextPolicy(const CpuidTable& guestCpuid);

// 0 and `out` filled, or -XEN_EINVAL for a context Xen refuses. `ctx` is a
// host copy of guest memory: every field is checked before use.
int decodeHvmContext(const vcpu_hvm_context_t& ctx, const HvmContextPolicy& policy,
                     VcpuContext& out);

} // namespace basalt::xen
