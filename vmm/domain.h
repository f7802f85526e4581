#pragma once
// One guest: its KVM VM, guest-physical memory, trap bus, vCPU threads and
// the small devices the core itself owns. basalt-vmm runs exactly one.

#include "base/result.h"
#include "vmm/builder/domain_spec.h"
#include "vmm/console.h"
#include "vmm/io_bus.h"
#include "vmm/msr_dispatch.h"
#include "vmm/options.h"
#include "vmm/vcpu_thread.h"
#include "vmm/vendor_policy.h"
#include "vmm/virtual_wire.h"
#include "vmm/xen/hypercall.h"
#include "vmm/xen/vcpu_context.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace basalt {

namespace kvm {
class Hypervisor;
class Vm;
class Vcpu;
struct IoExit;
} // namespace kvm
struct KernelImage;
class Rtc;
namespace firmware {
struct FirmwareImage;
}
namespace xen {
class XenPlatform;
struct VcpuContext;
} // namespace xen
namespace ioreq {
class IoreqServers;
}
namespace npt {
class PhysMap;
class GuestMemory;
} // namespace npt

enum class DomainState { Built, Running, Paused, Stopped };
const char* domainStateName(DomainState state);

struct DomainStatus {
    std::string name;
    DomainState state = DomainState::Built;
    std::vector<VcpuState> vcpus;
    uint64_t memoryBytes = 0;
    std::string stopReason; // empty while running
};

class Domain final : public ExitHandler {
public:
    // Builds the whole guest from a validated spec; nothing runs yet.
    // `domid`: the guest's Xen domain id (--domid; QEMU's -xen-domid).
    static Result<std::unique_ptr<Domain>> create(const DomainSpec& spec,
                                                  uint16_t domid = kDefaultGuestDomid);
    ~Domain() override;

    // Starts every vCPU and blocks until the domain stops; returns the exit
    // status for the process (vmm/exit_status.h, or the test exit port's value).
    int run();

    // Safe from any thread, including vCPU threads. The first request wins.
    void requestStop(int status, const std::string& reason);
    void pause();
    void resume();
    DomainStatus status() const;
    // A Xen debug key from the control plane ('q' sends VIRQ_DEBUG to every
    // vCPU, xen/debug_keys.h); false for a key Basalt does not know.
    bool debugKey(char key);

    // ExitHandler: the one switch that decides what every exit means.
    bool handleExit(kvm::Vcpu& vcpu, kvm::VcpuExit& exit) override;

    IoBus& bus() { return bus_; }
    npt::PhysMap& physMap() { return *physMap_; }
    npt::GuestMemory& memory() { return *memory_; }
    MsrDispatcher& msrs() { return *msrs_; }
    xen::XenPlatform& xen() { return *xen_; }
    // The device model's ioreq servers (vmm/ioreq/); the RTC's time offset
    // and the device-model host go through it.
    ioreq::IoreqServers& ioreqServers() { return *ioreqServers_; }
    kvm::Vm& vm() { return *vm_; }
    uint16_t domid() const { return domid_; }

private:
    Domain(const DomainSpec& spec, uint16_t domid);
    Status build();
    // `firmware`: hvmloader's modules, hvm_start_info and hvm_info_table too.
    Status loadKernel(const KernelImage& image, const firmware::FirmwareImage* firmware);
    Status addCoreDevices();
    void useFirmwareMemoryMap();
    bool isDeviceModelCmos(const kvm::IoExit& io) const;
    Status addPlatformTimers();
    void setUpXenPlatform();
    void setUpKernelXen(); // KVM_CAP_XEN_HVM where the host has it
    void tellXenAboutTsc(kvm::Vcpu& bsp);
    void crash(kvm::Vcpu& vcpu, const std::string& why);
    // VCPUOP_initialise/up/down (XenPlatformConfig::vcpuControl).
    void loadVcpuContext(uint32_t vcpu, const xen::VcpuContext& context);
    void setVcpuOnline(uint32_t vcpu, bool online);

    DomainSpec spec_;
    uint16_t domid_;
    std::unique_ptr<kvm::Hypervisor> hypervisor_;
    std::unique_ptr<kvm::Vm> vm_;
    std::unique_ptr<npt::PhysMap> physMap_;
    std::unique_ptr<npt::GuestMemory> memory_;
    std::unique_ptr<VendorPolicy> vendor_;
    std::unique_ptr<MsrDispatcher> msrs_;
    std::unique_ptr<Console> console_;
    std::unique_ptr<xen::XenPlatform> xen_;
    xen::HvmContextPolicy contextPolicy_; // from the guest CPUID, before xen_
    xen::HypercallStub hypercallStub_ = xen::HypercallStub::PortIo; // KVM_CAP_XEN_HVM or not
    std::unique_ptr<ioreq::IoreqServers> ioreqServers_;
    IoBus bus_;
    std::shared_ptr<Rtc> rtc_; // the CMOS beyond register 13 is QEMU's (Rtc)
    VirtualWire virtualWire_;  // vCPU 0's thread only
    std::vector<std::unique_ptr<kvm::Vcpu>> vcpus_;
    std::vector<std::unique_ptr<VcpuThread>> threads_;

    mutable std::mutex stateMutex_;
    std::condition_variable stopped_;
    DomainState state_ = DomainState::Built;
    std::optional<int> exitStatus_;
    std::string stopReason_;
};

} // namespace basalt
