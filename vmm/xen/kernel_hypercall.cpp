#include "vmm/xen/kernel_hypercall.h"

#include "base/log.h"
#include "vmm/kvm/vcpu.h"

namespace basalt::xen {

BASALT_LOG_CATEGORY(KernelHypercall, "xen-kernel-hcall");

namespace {
constexpr uint64_t kLow32 = 0xFFFFFFFF;
}

XenPlatform::HypercallRegisters kernelHypercallRegisters(const kvm::XenHypercallExit& exit,
                                                         const kvm::SpecialRegisters& sregs) {
    XenPlatform::HypercallRegisters r{};
    r.rax = exit.input;
    const auto& p = exit.params;
    if (exit.longMode) {
        r.rdi = p[0];
        r.rsi = p[1];
        r.rdx = p[2];
        r.r10 = p[3];
        r.r8 = p[4];
    } else {
        r.rbx = p[0] & kLow32;
        r.rcx = p[1] & kLow32;
        r.rdx = p[2] & kLow32;
        r.rsi = p[3] & kLow32;
        r.rdi = p[4] & kLow32;
    }
    r.cr0 = sregs.cr0;
    r.cr3 = sregs.cr3;
    r.cr4 = sregs.cr4;
    r.efer = sregs.efer;
    r.longMode = exit.longMode;
    r.cpl = exit.cpl;
    return r;
}

uint64_t kernelHypercallResult(const kvm::XenHypercallExit& exit, int64_t result) {
    auto value = static_cast<uint64_t>(result);
    return exit.longMode ? value : value & kLow32;
}

void XenPlatform::hypercall(kvm::Vcpu& vcpu, kvm::XenHypercallExit& exit) {
    auto sregs = vcpu.getSpecialRegisters();
    int64_t result;
    if (!sregs.ok()) {
        LOG_RATELIMITED(KernelHypercall, Error, "vCPU %u: cannot read registers for a hypercall",
                        vcpu.id());
        result = -XEN_EFAULT;
    } else {
        result = dispatch(vcpu.id(), kernelHypercallRegisters(exit, *sregs));
    }
    if (exit.result)
        *exit.result = kernelHypercallResult(exit, result);
}

} // namespace basalt::xen
