#pragma once
// One KVM virtual machine: its memslots, in-kernel interrupt controllers and
// timer, MSR filter and vCPUs.

#include "base/result.h"
#include "base/unique_fd.h"
#include "npt/memslot_backend.h"
#include "vmm/vendor_policy.h"

#include <memory>
#include <vector>

namespace basalt::kvm {

class Hypervisor;
class Vcpu;

class Vm final : public npt::MemslotBackend {
public:
    // Fixed guest-physical pages KVM needs on Intel for real-mode emulation
    // (TSS and identity-map page table); they sit just below the BIOS area in
    // the MMIO hole, where libxl/QEMU also put them.
    static constexpr uint64_t kTssAddress = 0xFFFBD000;
    static constexpr uint64_t kIdentityMapAddress = 0xFFFBC000;

    static Result<std::unique_ptr<Vm>> create(Hypervisor& hypervisor, UniqueFd vmFd);

    // MemslotBackend
    uint32_t maxSlots() const override { return maxSlots_; }
    Status setSlot(const npt::MemslotSpec& spec) override;
    Status removeSlot(uint32_t slot) override;
    Status fetchAndClearDirtyLog(uint32_t slot, std::span<uint64_t> bitmap) override;

    // Routes guest RDMSR/WRMSR of the rules' ranges to userspace (MsrExit).
    // Without KVM_CAP_X86_USER_SPACE_MSR the rules cannot be enforced: that is
    // an error, the caller decides whether to continue.
    Status setMsrFilter(const std::vector<MsrRule>& rules);

    Status setIrqLine(uint32_t gsi, bool level);
    // One MSI (address/data as a PCI device writes them) through KVM_SIGNAL_MSI.
    // Returns whether it was delivered: false when the guest had it blocked.
    Result<bool> signalMsi(uint64_t address, uint32_t data);
    // Pins of the in-kernel IOAPIC: GSIs at or above this cannot be raised.
    static constexpr uint32_t kIoapicPins = 24;

    // One redirection-table entry of the in-kernel IOAPIC (KVM_GET_IRQCHIP).
    Result<uint64_t> ioapicRedirection(uint32_t pin) const;

    // The vCPU with index `index` (Xen's vcpu_id, 0..n-1) and KVM vcpu id /
    // initial APIC ID `apicId`: Basalt follows Xen's numbering, APIC ID =
    // 2 x index (Domain::build), which the caller checks against the host's
    // KVM_CAP_MAX_VCPU_ID (Hypervisor::maxVcpuId).
    Result<std::unique_ptr<Vcpu>> createVcpu(uint32_t index, uint32_t apicId);

    int fd() const { return fd_.get(); }

private:
    Vm(Hypervisor& hypervisor, UniqueFd fd) : hypervisor_(hypervisor), fd_(std::move(fd)) {}
    Status setupPlatform();

    Hypervisor& hypervisor_;
    UniqueFd fd_;
    uint32_t maxSlots_ = 32;
    std::vector<uint64_t> slotSizes_; // bytes per slot, for dirty bitmap sizing
};

} // namespace basalt::kvm
