#include "vmm/domain.h"

#include "base/log.h"
#include "firmware/firmware_boot.h"
#include "firmware/hvm_info_table.h"
#include "npt/guest_memory.h"
#include "npt/phys_map.h"
#include "vmm/boot_state.h"
#include "vmm/builder/hvm_start_info.h"
#include "vmm/builder/kernel_image.h"
#include "vmm/cpuid_policy.h"
#include "vmm/devices/acpi_pm.h"
#include "vmm/devices/debug_console_port.h"
#include "vmm/devices/dirty_log_probe.h"
#include "vmm/devices/rtc.h"
#include "vmm/devices/test_exit_port.h"
#include "vmm/exit_status.h"
#include "vmm/ioreq/ioreq_servers.h"
#include "vmm/kvm/hypervisor.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/kvm/vm.h"
#include "vmm/kvm/xen_hvm.h"
#include "vmm/xen/debug_keys.h"
#include "vmm/xen/xen_events.h"
#include "vmm/xen/xen_memory.h"
#include "vmm/xen/xen_platform.h"

#include <unistd.h>
#include <x86intrin.h>

namespace basalt {

BASALT_LOG_CATEGORY(DomainLog, "domain");

namespace {

constexpr uint64_t kMiB = 1ull << 20;

// xAPIC ID 0xFF is the broadcast destination: with Xen's numbering (2 x
// index) the 128th vCPU gets 254, so kMaxVcpus = 128 still fits the xAPIC.
constexpr uint32_t kApicBroadcastId = 0xFF;
static_assert(xenApicId(kMaxVcpus - 1) < kApicBroadcastId);
uint64_t hostMemoryBytes() {
    long pages = sysconf(_SC_PHYS_PAGES);
    long pageSize = sysconf(_SC_PAGESIZE);
    return pages > 0 && pageSize > 0 ? static_cast<uint64_t>(pages) * pageSize : 0;
}

Result<std::unique_ptr<VendorPolicy>> vendorPolicyFor(const CpuidTable& hostCpuid) {
    switch (cpuVendorOf(hostCpuid)) {
    case CpuVendor::Intel:
        return makeVmxPolicy();
    case CpuVendor::Amd:
        return makeSvmPolicy();
    case CpuVendor::Unknown:
        break;
    }
    return makeError(ENOTSUP, "unsupported host CPU vendor: Basalt runs on Intel VT-x or AMD-V");
}

} // namespace

const char* domainStateName(DomainState state) {
    switch (state) {
    case DomainState::Built:
        return "built";
    case DomainState::Running:
        return "running";
    case DomainState::Paused:
        return "paused";
    case DomainState::Stopped:
        return "stopped";
    }
    return "?";
}

Domain::Domain(const DomainSpec& spec, uint16_t domid) : spec_(spec), domid_(domid) {}

Domain::~Domain() {
    // vCPU threads reference this object: stop them before members go away.
    threads_.clear();
}

Result<std::unique_ptr<Domain>> Domain::create(const DomainSpec& spec, uint16_t domid) {
    BASALT_TRY(validateSpec(spec));
    std::unique_ptr<Domain> domain(new Domain(spec, domid));
    BASALT_TRY(domain->build());
    return domain;
}

Status Domain::build() {
    uint64_t hostBytes = hostMemoryBytes();
    if (hostBytes && spec_.memoryBytes > hostBytes)
        return makeError(ENOMEM, "guest memory of " + std::to_string(spec_.memoryBytes / kMiB) +
                                     " MiB exceeds this host's " +
                                     std::to_string(hostBytes / kMiB) + " MiB of RAM");

    // Check the kernel before touching KVM, so that a bad kernel is reported
    // as such on any host.
    std::optional<firmware::FirmwareImage> firmware;
    Result<KernelImage> image = makeError(ENOENT, "no kernel");
    if (spec_.firmware) {
        auto loaded = firmware::loadFirmware(*spec_.firmware);
        if (!loaded.ok())
            return loaded.error();
        firmware = std::move(*loaded);
        image = firmware->loader;
    } else {
        const KernelSpec& k = spec_.kernel;
        image = loadKernelFile(k.path, k.entryMode, k.loadAddress);
    }
    if (!image.ok())
        return image.error();
    BASALT_TRY(checkImageFits(*image, spec_.memoryBytes, spec_.mmioHoleStart));

    auto hypervisor = kvm::Hypervisor::open();
    if (!hypervisor.ok())
        return hypervisor.error();
    hypervisor_ = std::move(*hypervisor);
    if (spec_.vcpus > hypervisor_->maxVcpus())
        return makeError(EINVAL, std::to_string(spec_.vcpus) + " vCPUs requested but this host's " +
                                     "KVM supports at most " +
                                     std::to_string(hypervisor_->maxVcpus()));
    // The last vCPU's APIC ID (Xen's 2 x index) must be a KVM vcpu id this host
    // accepts.
    if (xenApicId(spec_.vcpus - 1) >= hypervisor_->maxVcpuIdLimit())
        return makeError(EINVAL, std::to_string(spec_.vcpus) + " vCPUs need APIC ID " +
                                     std::to_string(xenApicId(spec_.vcpus - 1)) +
                                     " but this host's KVM allows vcpu ids below " +
                                     std::to_string(hypervisor_->maxVcpuIdLimit()));

    auto supported = hypervisor_->supportedCpuid();
    if (!supported.ok())
        return supported.error();
    auto vendor = vendorPolicyFor(*supported);
    if (!vendor.ok())
        return vendor.error();
    vendor_ = std::move(*vendor);
    LOG(DomainLog, Debug, "host virtualization: %s", std::string(vendor_->name()).c_str());

    auto vm = hypervisor_->createVm();
    if (!vm.ok())
        return vm.error();
    vm_ = std::move(*vm);

    msrs_ = std::make_unique<MsrDispatcher>(makeMsrPolicy(*vendor_));
    if (auto s = vm_->setMsrFilter(msrs_->rules()); !s.ok())
        LOG(DomainLog, Warn, "MSR policy not enforced: %s", s.error().message.c_str());

    auto physMap = npt::PhysMap::create(*vm_, spec_.memoryBytes, spec_.mmioHoleStart);
    if (!physMap.ok())
        return physMap.error();
    physMap_ = std::move(*physMap);
    memory_ = std::make_unique<npt::GuestMemory>(*physMap_);

    auto console = Console::open(spec_.consoleLogPath.value_or(""), true);
    if (!console.ok())
        return console.error();
    console_ = std::move(*console);

    setUpKernelXen();
    contextPolicy_ = xen::hvmContextPolicy(makeGuestCpuid(*supported, *vendor_, 0, spec_.vcpus));
    setUpXenPlatform();
    ioreq::IoreqConfig ioreqConfig;
    ioreqConfig.domid = xen_->config().domid;
    ioreqConfig.vcpuCount = spec_.vcpus;
    ioreqConfig.channels = &xen_->events().channels();
    ioreqConfig.crash = [this](const std::string& why) {
        LOG(DomainLog, Error, "%s", why.c_str());
        requestStop(kExitCrashed, "crashed: " + why);
    };
    auto ioreqServers = ioreq::IoreqServers::create(ioreqConfig);
    if (!ioreqServers.ok())
        return ioreqServers.error();
    ioreqServers_ = std::move(*ioreqServers);
    for (uint32_t i = 0; i < spec_.vcpus; ++i) {
        auto vcpu = vm_->createVcpu(i, xenApicId(i));
        if (!vcpu.ok())
            return vcpu.error();
        CpuidTable cpuid = makeGuestCpuid(*supported, *vendor_, i, spec_.vcpus);
        xen_->addCpuidLeaves(cpuid, i);
        BASALT_TRY((*vcpu)->setCpuid(cpuid));
        vcpus_.push_back(std::move(*vcpu));
    }
    BASALT_TRY(loadKernel(*image, firmware ? &*firmware : nullptr));
    if (firmware)
        useFirmwareMemoryMap();
    tellXenAboutTsc(*vcpus_.front());
    BASALT_TRY(addCoreDevices());
    for (auto& vcpu : vcpus_)
        threads_.push_back(std::make_unique<VcpuThread>(*vcpu, *this));
    return {};
}

Status Domain::loadKernel(const KernelImage& image, const firmware::FirmwareImage* firmware) {
    for (const auto& segment : image.segments) {
        BASALT_TRY(memory_->loadImage(segment.gpa, segment.bytes));
        BASALT_TRY(memory_->fill(segment.gpa + segment.bytes.size(), 0,
                                 segment.memSize - segment.bytes.size()));
    }

    kvm::Vcpu& bsp = *vcpus_.front();
    auto reset = bsp.getSpecialRegisters();
    if (!reset.ok())
        return reset.error();
    auto boot = prepareBootState(image.mode, image.entry, spec_.vcpus, *reset, *memory_);
    if (!boot.ok())
        return boot.error();
    std::vector<RamRange> ram;
    for (const auto& region : physMap_->regions())
        if (region.kind == npt::RegionKind::Ram)
            ram.push_back({region.gpa, region.size});
    if (firmware) {
        // As Xen's domain builder: modules and hvm_start_info after
        // hvmloader, hvm_info_table at HVM_INFO_PADDR.
        const uint64_t lowEnd = lowRamEnd(spec_.memoryBytes, spec_.mmioHoleStart);
        auto placed = firmware::placeFirmware(*firmware, ram, lowEnd);
        if (!placed.ok())
            return placed.error();
        for (const auto& piece : placed->pieces)
            BASALT_TRY(memory_->loadImage(piece.gpa, piece.bytes));
        firmware::HvmInfoLayout layout;
        layout.vcpus = spec_.vcpus;
        layout.lowRamEnd = physMap_->lowRamEnd();
        if (spec_.memoryBytes > layout.lowRamEnd)
            layout.highRamEnd = physMap_->highRamEnd();
        auto table = firmware::buildHvmInfoTable(layout);
        if (!table.ok())
            return table.error();
        BASALT_TRY(memory_->loadImage(table->gpa, table->bytes));
        boot->regs.rbx = placed->startInfoGpa;
    } else if (spec_.kernel.bootProtocol == BootProtocol::HvmStartInfo) {
        auto info =
            buildHvmStartInfo(image, ram, lowRamEnd(spec_.memoryBytes, spec_.mmioHoleStart));
        if (!info.ok())
            return info.error();
        BASALT_TRY(memory_->loadImage(info->gpa, info->bytes));
        boot->regs.rbx = info->gpa;
    }
    BASALT_TRY(bsp.setSpecialRegisters(boot->sregs));
    BASALT_TRY(bsp.setRegisters(boot->regs));
    return {};
}

// XENMEM_memory_map as libxl sets it for hvmloader (firmwareMemoryMap).
void Domain::useFirmwareMemoryMap() {
    xen::XenMemory* memory = xen_->xenMemory();
    if (!memory)
        return;
    std::vector<RamRange> ram;
    for (const xen::E820Entry& entry : memory->e820())
        if (entry.type == xen::kE820Ram)
            ram.push_back({entry.addr, entry.size});
    std::vector<xen::E820Entry> map;
    for (const RamRange& range : firmware::firmwareMemoryMap(ram))
        map.push_back({range.gpa, range.size, xen::kE820Ram});
    memory->setE820(std::move(map));
}

void Domain::setUpXenPlatform() {
    auto onShutdown = [this](xen::ShutdownReason reason, uint32_t vcpu) {
        std::string who = "vCPU " + std::to_string(vcpu);
        switch (reason) {
        case xen::ShutdownReason::Poweroff:
            requestStop(kExitPoweredOff, "guest powered off (SCHEDOP_shutdown from " + who + ")");
            break;
        case xen::ShutdownReason::Reboot:
        case xen::ShutdownReason::SoftReset:
            requestStop(kExitRebootRequested, "guest asked to reboot (" + who + ")");
            break;
        case xen::ShutdownReason::Crash:
        case xen::ShutdownReason::Watchdog:
        case xen::ShutdownReason::Suspend:
            requestStop(kExitCrashed, "crashed: guest reported a crash, watchdog or unsupported "
                                      "suspend (SCHEDOP_shutdown from " +
                                          who + ")");
            break;
        }
    };
    xen::XenPlatformConfig config{domid_, spec_.vcpus, [this](uint32_t gsi, bool level) {
                                      if (auto s = vm_->setIrqLine(gsi, level); !s.ok())
                                          LOG(DomainLog, Error, "%s", s.error().message.c_str());
                                  }};
    config.vcpuControl.load = [this](uint32_t vcpu, const xen::VcpuContext& context) {
        loadVcpuContext(vcpu, context);
    };
    config.vcpuControl.setOnline = [this](uint32_t vcpu, bool online) {
        setVcpuOnline(vcpu, online);
    };
    config.contextPolicy = contextPolicy_;
    config.hypercallStub = hypercallStub_;
    if (spec_.uuid)
        config.handle = *spec_.uuid;
    xen_ = std::make_unique<xen::XenPlatform>(config, *physMap_, *memory_, *console_, onShutdown);
    msrs_->onWrite(xen::kHypercallPageMsr, [this](uint32_t vcpu, uint32_t, uint64_t value) {
        return xen_->writeHypercallPageMsr(vcpu, value);
    });
    // Xen reads the hypercall-page MSR as 0 rather than faulting.
    msrs_->onRead(xen::kHypercallPageMsr,
                  [](uint32_t, uint32_t) -> std::optional<uint64_t> { return 0; });
}

void Domain::setUpKernelXen() {
    uint32_t caps = kvm::xenHvmCapabilities(*hypervisor_);
    // The core does not (yet) register shared_info/vcpu_info with the kernel,
    // so the kernel cannot inject the vector callback: it stays unadvertised.
    kvm::XenHvmPlan plan = kvm::planXenHvm(caps, /*coreRegistersSharedInfo=*/false);
    LOG(DomainLog, Debug, "KVM_CAP_XEN_HVM: %#x; kernel hypercalls %s", caps,
        plan.kernelHypercalls ? "on" : "off (port-I/O stubs)");
    if (!plan.kernelHypercalls)
        return;
    if (auto s = kvm::configureXenHvm(*vm_, plan, xen::kHypercallPageMsr); !s.ok()) {
        LOG(DomainLog, Warn, "kernel Xen hypercalls unavailable, using port-I/O stubs: %s",
            s.error().message.c_str());
        return;
    }
    hypercallStub_ = vendor_->vendor() == CpuVendor::Amd ? xen::HypercallStub::Vmmcall
                                                         : xen::HypercallStub::Vmcall;
}

void Domain::loadVcpuContext(uint32_t vcpu, const xen::VcpuContext& context) {
    if (vcpu >= threads_.size())
        return;
    // Xen leaves an initialised vCPU down until VCPUOP_up; the load runs on
    // the vCPU's own thread when it comes up (ioctls of a vCPU belong there).
    threads_[vcpu]->setOnline(false);
    threads_[vcpu]->runBeforeEntry([this, context](kvm::Vcpu& target) {
        auto sregs = target.getSpecialRegisters();
        Status loaded = sregs.ok() ? target.makeRunnable() : Status(sregs.error());
        if (loaded.ok()) {
            context.applyTo(*sregs);
            loaded = target.setSpecialRegisters(*sregs);
        }
        if (loaded.ok())
            loaded = target.setRegisters(context.regs);
        // What Xen accepts but the CPU cannot enter fails VM entry under
        // Xen and crashes the domain; KVM refuses it here instead.
        if (!loaded.ok())
            crash(target, "VCPUOP_initialise context cannot be loaded: " + loaded.error().message);
    });
}

void Domain::setVcpuOnline(uint32_t vcpu, bool online) {
    if (vcpu < threads_.size())
        threads_[vcpu]->setOnline(online);
}

bool Domain::debugKey(char key) {
    return xen::handleDebugKey(*xen_, key);
}

// pvclock must describe the guest's TSC: its frequency and its offset from
// the host TSC (KVM starts a new guest's TSC near 0).
void Domain::tellXenAboutTsc(kvm::Vcpu& bsp) {
    constexpr uint32_t kMsrTsc = 0x10;
    auto khz = bsp.tscKhz();
    auto guestTsc = bsp.readMsr(kMsrTsc);
    uint64_t hostTsc = __rdtsc();
    if (!khz.ok() || !guestTsc.ok()) {
        LOG(DomainLog, Warn, "cannot read the guest TSC; pvclock assumes the host's: %s",
            (!khz.ok() ? khz.error() : guestTsc.error()).message.c_str());
        return;
    }
    xen_->setTsc(*khz, static_cast<int64_t>(*guestTsc - hostTsc));
}

Status Domain::addCoreDevices() {
    BASALT_TRY(bus_.add(AddressSpace::Pio, DebugConsolePort::kPort, 1,
                        std::make_shared<DebugConsolePort>(*console_), "debug console"));
    if (spec_.testExitPort) {
        auto stop = [this](int status) {
            requestStop(status, "guest wrote " + std::to_string(status) + " to the test exit port");
        };
        BASALT_TRY(bus_.add(AddressSpace::Pio, *spec_.testExitPort, kTestExitPortCount,
                            std::make_shared<TestExitPort>(stop), "test exit port"));
    }
    if (spec_.testDirtyPort)
        BASALT_TRY(bus_.add(AddressSpace::Pio, *spec_.testDirtyPort, DirtyLogProbe::kRegisterBytes,
                            std::make_shared<DirtyLogProbe>(*physMap_), "dirty-log probe"));
    BASALT_TRY(addPlatformTimers());
    return {};
}

// What Xen emulates in the hypervisor for every HVM guest, device model or
// not: the RTC and the ACPI PM blocks. They are on the IoBus, which is
// consulted before any ioreq server, so QEMU never sees these ports.
Status Domain::addPlatformTimers() {
    static const HostClock hostClock; // stateless
    auto irqLine = [this](uint32_t gsi) {
        return [this, gsi](bool level) {
            if (auto s = vm_->setIrqLine(gsi, level); !s.ok())
                LOG(DomainLog, Error, "%s", s.error().message.c_str());
        };
    };
    Rtc::Config rtcConfig;
    rtcConfig.clock = &hostClock;
    rtcConfig.setIrq = irqLine(Rtc::kIsaIrq);
    rtcConfig.timeOffset = [this](int64_t delta) {
        if (ioreqServers_)
            ioreqServers_->broadcastTimeOffset(delta);
    };
    auto rtc = std::make_shared<Rtc>(std::move(rtcConfig));
    rtc_ = rtc;
    BASALT_TRY(bus_.add(AddressSpace::Pio, Rtc::kBasePort, Rtc::kPortCount, rtc, "RTC/CMOS"));
    rtc->startTimerThread();

    AcpiPm::Config pmConfig;
    pmConfig.clock = &hostClock;
    pmConfig.setSci = irqLine(AcpiPm::kSciGsi);
    pmConfig.powerOff = [this] {
        requestStop(kExitPoweredOff, "guest powered off (ACPI S5 through PM1a_CNT)");
    };
    auto pm = std::make_shared<AcpiPm>(std::move(pmConfig));
    BASALT_TRY(pm->attach(bus_));
    pm->startTimerThread();
    return {};
}

int Domain::run() {
    {
        std::lock_guard lock(stateMutex_);
        if (state_ != DomainState::Built)
            return kExitConfigError;
        state_ = DomainState::Running;
    }
    for (auto& thread : threads_)
        thread->start();

    int status;
    {
        std::unique_lock lock(stateMutex_);
        stopped_.wait(lock, [this] { return exitStatus_.has_value(); });
        status = *exitStatus_;
    }
    for (auto& thread : threads_)
        thread->stop();
    {
        std::lock_guard lock(stateMutex_);
        state_ = DomainState::Stopped;
    }
    LOG(DomainLog, Info, "domain '%s' stopped: %s", spec_.name.c_str(), stopReason_.c_str());
    return status;
}

void Domain::requestStop(int status, const std::string& reason) {
    std::lock_guard lock(stateMutex_);
    if (exitStatus_)
        return;
    exitStatus_ = status;
    stopReason_ = reason;
    // vCPU threads stop themselves at their next loop turn; run() joins them.
    if (xen_)
        xen_->holdVcpus(true); // none may keep sleeping in SCHEDOP_block/poll
    if (ioreqServers_)
        ioreqServers_->release("stopped: the domain is stopping"); // nor wait on an ioreq
    for (auto& thread : threads_)
        thread->requestStop();
    stopped_.notify_all();
}

void Domain::pause() {
    {
        std::lock_guard lock(stateMutex_);
        if (state_ != DomainState::Running || exitStatus_)
            return;
        state_ = DomainState::Paused;
    }
    xen_->holdVcpus(true); // wakes vCPUs sleeping in SCHEDOP_block/poll
    for (auto& thread : threads_)
        thread->pause();
}

void Domain::resume() {
    {
        std::lock_guard lock(stateMutex_);
        if (state_ != DomainState::Paused || exitStatus_)
            return;
        state_ = DomainState::Running;
    }
    xen_->holdVcpus(false);
    for (auto& thread : threads_)
        thread->resume();
}

DomainStatus Domain::status() const {
    DomainStatus s;
    {
        std::lock_guard lock(stateMutex_);
        s.name = spec_.name;
        s.state = state_;
        s.memoryBytes = spec_.memoryBytes;
        s.stopReason = stopReason_;
    }
    for (const auto& thread : threads_)
        s.vcpus.push_back(thread->state());
    return s;
}

} // namespace basalt
