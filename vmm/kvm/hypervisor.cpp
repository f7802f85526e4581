#include "vmm/kvm/hypervisor.h"

#include "base/log.h"
#include "vmm/kvm/cpuid_convert.h"
#include "vmm/kvm/vm.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

namespace basalt::kvm {

BASALT_LOG_CATEGORY(Kvm, "kvm");

namespace {

constexpr int kExpectedApiVersion = 12; // KVM_API_VERSION, stable since 2.6.22

// Capabilities the core depends on, with what breaks without them.
struct RequiredCap {
    long cap;
    const char* name;
};
constexpr RequiredCap kRequiredCaps[] = {
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP (in-kernel LAPIC/IOAPIC/PIC)"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2 (in-kernel PIT)"},
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT (clean vCPU pause)"},
};

constexpr int kMaxCpuidEntries = 256;

} // namespace

Result<std::unique_ptr<Hypervisor>> Hypervisor::open() {
    UniqueFd fd(::open(kDevicePath, O_RDWR | O_CLOEXEC));
    if (!fd)
        return errnoError(std::string("cannot open ") + kDevicePath);

    int version = ::ioctl(fd.get(), KVM_GET_API_VERSION, 0);
    if (version != kExpectedApiVersion)
        return makeError(ENOTSUP, "KVM API version " + std::to_string(version) +
                                      " is not the expected " +
                                      std::to_string(kExpectedApiVersion));

    std::unique_ptr<Hypervisor> hv(new Hypervisor(std::move(fd)));
    for (const auto& req : kRequiredCaps)
        if (hv->checkExtension(req.cap) <= 0)
            return makeError(ENOTSUP, std::string("host KVM lacks ") + req.name);

    int maxVcpus = hv->checkExtension(KVM_CAP_MAX_VCPUS);
    if (maxVcpus <= 0)
        maxVcpus = hv->checkExtension(KVM_CAP_NR_VCPUS);
    hv->maxVcpus_ = maxVcpus > 0 ? static_cast<uint32_t>(maxVcpus) : 1;
    int maxVcpuId = hv->checkExtension(KVM_CAP_MAX_VCPU_ID);
    hv->maxVcpuIdLimit_ = maxVcpuId > 0 ? static_cast<uint32_t>(maxVcpuId) : hv->maxVcpus_;

    int mmapSize = ::ioctl(hv->fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
    if (mmapSize <= 0)
        return errnoError("KVM_GET_VCPU_MMAP_SIZE");
    hv->vcpuMmapSize_ = static_cast<size_t>(mmapSize);

    LOG(Kvm, Debug, "KVM opened: max %u vCPUs, run area %zu bytes", hv->maxVcpus_,
        hv->vcpuMmapSize_);
    return hv;
}

int Hypervisor::checkExtension(long capability) const {
    int r = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
    return r < 0 ? 0 : r;
}

Result<CpuidTable> Hypervisor::supportedCpuid() const {
    auto buffer = CpuidBuffer::create(kMaxCpuidEntries);
    if (::ioctl(fd_.get(), kIoctlGetSupportedCpuid, buffer.get()) < 0)
        return errnoError("KVM_GET_SUPPORTED_CPUID");
    return buffer.toTable();
}

Result<std::unique_ptr<Vm>> Hypervisor::createVm() {
    int vmFd = ::ioctl(fd_.get(), KVM_CREATE_VM, 0);
    if (vmFd < 0)
        return errnoError("KVM_CREATE_VM");
    return Vm::create(*this, UniqueFd(vmFd));
}

} // namespace basalt::kvm
