#pragma once
// The host's KVM: /dev/kvm, its capabilities and the CPUID it can virtualize.
// Hypervisor / Vm / Vcpu are the only classes that issue KVM ioctls.

#include "base/cpuid.h"
#include "base/result.h"
#include "base/unique_fd.h"

#include <memory>

namespace basalt::kvm {

class Vm;

class Hypervisor {
public:
    static constexpr const char* kDevicePath = "/dev/kvm";

    // Opens /dev/kvm and checks the API version and the capabilities the core
    // cannot run without.
    static Result<std::unique_ptr<Hypervisor>> open();

    // KVM_GET_SUPPORTED_CPUID.
    Result<CpuidTable> supportedCpuid() const;

    // KVM_CHECK_EXTENSION on /dev/kvm; 0 when absent.
    int checkExtension(long capability) const;

    uint32_t maxVcpus() const { return maxVcpus_; }
    // KVM vcpu ids (initial APIC IDs) must be below this (KVM_CAP_MAX_VCPU_ID,
    // else KVM_CAP_MAX_VCPUS as the KVM API documents).
    uint32_t maxVcpuIdLimit() const { return maxVcpuIdLimit_; }
    size_t vcpuMmapSize() const { return vcpuMmapSize_; }

    Result<std::unique_ptr<Vm>> createVm();

    int fd() const { return fd_.get(); }

private:
    explicit Hypervisor(UniqueFd fd) : fd_(std::move(fd)) {}

    UniqueFd fd_;
    uint32_t maxVcpus_ = 1;
    uint32_t maxVcpuIdLimit_ = 1;
    size_t vcpuMmapSize_ = 0;
};

} // namespace basalt::kvm
