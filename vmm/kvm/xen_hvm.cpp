#include "vmm/kvm/xen_hvm.h"

#include "base/log.h"
#include "vmm/kvm/hypervisor.h"
#include "vmm/kvm/vm.h"

#include <cstddef>
#include <cstring>
#include <linux/kvm.h>
#include <sys/ioctl.h>

namespace basalt::kvm {

BASALT_DECLARE_LOG_CATEGORY(Kvm);

static_assert(xen_hvm_bits::kHypercallMsr == KVM_XEN_HVM_CONFIG_HYPERCALL_MSR);
static_assert(xen_hvm_bits::kInterceptHcall == KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL);
static_assert(xen_hvm_bits::kSharedInfo == KVM_XEN_HVM_CONFIG_SHARED_INFO);
static_assert(xen_hvm_bits::kRunstate == KVM_XEN_HVM_CONFIG_RUNSTATE);
static_assert(xen_hvm_bits::kEvtchn2Level == KVM_XEN_HVM_CONFIG_EVTCHN_2LEVEL);
static_assert(xen_hvm_bits::kEvtchnSend == KVM_XEN_HVM_CONFIG_EVTCHN_SEND);

XenHvmPlan planXenHvm(uint32_t bits, bool coreRegistersSharedInfo) {
    using namespace xen_hvm_bits;
    XenHvmPlan plan;
    // The kernel only intercepts vmcall/vmmcall for Xen when both are there.
    if ((bits & kHypercallMsr) && (bits & kInterceptHcall)) {
        plan.kernelHypercalls = true;
        plan.configFlags = kInterceptHcall;
    }
    // The kernel injects the upcall vector when it sees vcpu_info's
    // evtchn_upcall_pending: it needs the shared_info attributes, and the
    // core must register the pages with it.
    plan.vectorCallback = plan.kernelHypercalls && (bits & kSharedInfo) && coreRegistersSharedInfo;
    return plan;
}

uint32_t xenHvmCapabilities(const Hypervisor& hypervisor) {
    int bits = hypervisor.checkExtension(KVM_CAP_XEN_HVM);
    return bits > 0 ? static_cast<uint32_t>(bits) : 0;
}

Status configureXenHvm(Vm& vm, const XenHvmPlan& plan, uint32_t msr) {
    if (!plan.kernelHypercalls)
        return {};
    kvm_xen_hvm_config config{};
    config.flags = plan.configFlags;
    config.msr = msr;
    if (::ioctl(vm.fd(), KVM_XEN_HVM_CONFIG, &config) < 0)
        return errnoError("KVM_XEN_HVM_CONFIG");
    LOG(Kvm, Info, "Xen hypercalls are intercepted by the kernel (KVM_CAP_XEN_HVM)");
    return {};
}

std::optional<XenHypercallExit> decodeXenExit(std::span<uint8_t> run) {
    if (run.size() < sizeof(kvm_run))
        return std::nullopt;
    // Field by field from the bytes: the buffer may be a copy with any
    // alignment, and nothing in it is trusted beyond its layout.
    uint32_t reason;
    std::memcpy(&reason, run.data() + offsetof(kvm_run, exit_reason), sizeof reason);
    if (reason != KVM_EXIT_XEN)
        return std::nullopt;
    kvm_xen_exit xen;
    std::memcpy(&xen, run.data() + offsetof(kvm_run, xen), sizeof xen);
    if (xen.type != KVM_EXIT_XEN_HCALL)
        return std::nullopt;
    XenHypercallExit exit;
    exit.longMode = xen.u.hcall.longmode != 0;
    exit.cpl = static_cast<uint8_t>(xen.u.hcall.cpl & 3);
    exit.input = xen.u.hcall.input;
    for (size_t i = 0; i < exit.params.size(); ++i)
        exit.params[i] = xen.u.hcall.params[i];
    exit.result = reinterpret_cast<uint64_t*>(run.data() + offsetof(kvm_run, xen) +
                                              offsetof(kvm_xen_exit, u.hcall.result));
    return exit;
}

} // namespace basalt::kvm
