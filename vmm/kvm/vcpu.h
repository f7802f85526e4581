#pragma once
// One KVM vCPU: its fd, its shared kvm_run page, registers and CPUID.
// run() is called only from the vCPU's own thread; requestExit() from any.

#include "base/cpuid.h"
#include "base/mapped_region.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "vmm/kvm/registers.h"
#include "vmm/kvm/vcpu_exit.h"

#include <memory>
#include <string>

struct kvm_run;

namespace basalt::kvm {

class Vcpu {
public:
    static Result<std::unique_ptr<Vcpu>> create(UniqueFd fd, uint32_t id, uint32_t apicId,
                                                size_t runSize);

    // The vCPU index (Xen's vcpu_id, 0..n-1): the vCPU's identity everywhere
    // in the core (hypercalls, ioreq slots, threads, logs).
    uint32_t id() const { return id_; }
    // Its KVM vcpu id, which is its initial APIC ID (2 x id(), Xen's
    // numbering): only for addressing the vCPU's LAPIC.
    uint32_t apicId() const { return apicId_; }

    // Enters the guest until the next exit that userspace must handle.
    // A pending requestExit() makes it return InterruptedExit at once.
    VcpuExit run();

    // Makes the current or next run() return InterruptedExit. Pair it with a
    // signal to the vCPU thread to interrupt a KVM_RUN already in progress.
    void requestExit();
    void clearExitRequest();

    Status setCpuid(const CpuidTable& table);
    Result<GeneralRegisters> getRegisters() const;
    Status setRegisters(const GeneralRegisters& regs);
    Result<SpecialRegisters> getSpecialRegisters() const;
    Status setSpecialRegisters(const SpecialRegisters& sregs);

    // KVM_SET_MP_STATE to runnable: an AP leaves its wait for INIT/SIPI
    // (VCPUOP_up of a vCPU given a VCPUOP_initialise context).
    Status makeRunnable();

    // The guest TSC frequency (KVM_GET_TSC_KHZ).
    Result<uint64_t> tscKhz() const;
    // Reads one MSR of the vCPU (KVM_GET_MSRS).
    Result<uint64_t> readMsr(uint32_t index) const;
    // One 32-bit register of the in-kernel LAPIC at `offset` (APIC_LVT0 is
    // 0x350), through KVM_GET_LAPIC / KVM_SET_LAPIC. The vCPU's own thread.
    Result<uint32_t> lapicRegister(uint32_t offset) const;
    Status setLapicRegister(uint32_t offset, uint32_t value);

    // Register dump for crash reports; never fails (says why if it cannot read).
    std::string dumpState() const;

private:
    Vcpu(UniqueFd fd, uint32_t id, uint32_t apicId, MappedRegion run);

    UniqueFd fd_;
    uint32_t id_;
    uint32_t apicId_;
    MappedRegion runRegion_;
    kvm_run* run_;
};

} // namespace basalt::kvm
