#include "vmm/kvm/vcpu.h"

#include "base/log.h"
#include "vmm/kvm/cpuid_convert.h"
#include "vmm/kvm/xen_hvm.h"

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <x86intrin.h>

namespace basalt::kvm {

BASALT_DECLARE_LOG_CATEGORY(Kvm);

namespace {

Segment fromKvm(const kvm_segment& s) {
    Segment r;
    r.base = s.base;
    r.limit = s.limit;
    r.selector = s.selector;
    r.type = s.type;
    r.present = s.present;
    r.dpl = s.dpl;
    r.db = s.db;
    r.s = s.s;
    r.l = s.l;
    r.g = s.g;
    r.avl = s.avl;
    r.unusable = s.unusable;
    return r;
}

kvm_segment toKvm(const Segment& s) {
    kvm_segment r{};
    r.base = s.base;
    r.limit = s.limit;
    r.selector = s.selector;
    r.type = s.type;
    r.present = s.present;
    r.dpl = s.dpl;
    r.db = s.db;
    r.s = s.s;
    r.l = s.l;
    r.g = s.g;
    r.avl = s.avl;
    r.unusable = s.unusable;
    return r;
}

SystemEventExit decodeSystemEvent(uint32_t type) {
    using Kind = SystemEventExit::Kind;
    switch (type) {
    case KVM_SYSTEM_EVENT_SHUTDOWN:
        return {Kind::Shutdown, type};
    case KVM_SYSTEM_EVENT_RESET:
        return {Kind::Reset, type};
    case KVM_SYSTEM_EVENT_CRASH:
        return {Kind::Crash, type};
    default:
        return {Kind::Other, type};
    }
}

} // namespace

Result<std::unique_ptr<Vcpu>> Vcpu::create(UniqueFd fd, uint32_t id, uint32_t apicId,
                                           size_t runSize) {
    auto run = MappedRegion::map(runSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (!run.ok())
        return makeError(run.error().code,
                         "vCPU " + std::to_string(id) + " run area: " + run.error().message);
    return std::unique_ptr<Vcpu>(new Vcpu(std::move(fd), id, apicId, std::move(*run)));
}

Vcpu::Vcpu(UniqueFd fd, uint32_t id, uint32_t apicId, MappedRegion run)
    : fd_(std::move(fd)), id_(id), apicId_(apicId), runRegion_(std::move(run)),
      run_(reinterpret_cast<kvm_run*>(runRegion_.data())) {}

void Vcpu::requestExit() {
    // kvm_run is shared with the kernel; this byte is read on KVM_RUN entry.
    std::atomic_ref<uint8_t>(run_->immediate_exit).store(1, std::memory_order_release);
}

void Vcpu::clearExitRequest() {
    std::atomic_ref<uint8_t>(run_->immediate_exit).store(0, std::memory_order_release);
}

VcpuExit Vcpu::run() {
    if (::ioctl(fd_.get(), KVM_RUN, 0) < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return InterruptedExit{};
        LOG_RATELIMITED(Kvm, Error, "vCPU %u: KVM_RUN failed: %s", id_, strerror(errno));
        return InternalErrorExit{0, {static_cast<uint64_t>(errno)}};
    }
    auto* base = reinterpret_cast<uint8_t*>(run_);
    switch (run_->exit_reason) {
    case KVM_EXIT_IO:
        return IoExit{run_->io.port, run_->io.size, run_->io.direction == KVM_EXIT_IO_OUT,
                      run_->io.count, base + run_->io.data_offset};
    case KVM_EXIT_MMIO:
        return MmioExit{run_->mmio.phys_addr, static_cast<uint8_t>(run_->mmio.len),
                        run_->mmio.is_write != 0, run_->mmio.data};
    case KVM_EXIT_X86_RDMSR:
    case KVM_EXIT_X86_WRMSR:
        return MsrExit{run_->msr.index, run_->exit_reason == KVM_EXIT_X86_WRMSR, run_->msr.data,
                       reinterpret_cast<uint64_t*>(&run_->msr.data), &run_->msr.error};
    case KVM_EXIT_HLT:
        return HaltExit{};
    case KVM_EXIT_SHUTDOWN:
        return ShutdownExit{};
    case KVM_EXIT_INTR:
        return InterruptedExit{};
    case KVM_EXIT_SYSTEM_EVENT:
        return decodeSystemEvent(run_->system_event.type);
    case KVM_EXIT_FAIL_ENTRY:
        return FailEntryExit{run_->fail_entry.hardware_entry_failure_reason, run_->fail_entry.cpu};
    case KVM_EXIT_INTERNAL_ERROR: {
        InternalErrorExit e{run_->internal.suberror, {}};
        uint32_t n = std::min<uint32_t>(run_->internal.ndata, std::size(run_->internal.data));
        e.data.assign(run_->internal.data, run_->internal.data + n);
        if (e.suberror == KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON && n > 0)
            e.hardwareExitReason = e.data[0];
        decodeEmulationFailure(e);
        return e;
    }
    case KVM_EXIT_XEN:
        if (auto xen = decodeXenExit({base, runRegion_.size()}))
            return *xen;
        return UnknownExit{run_->exit_reason};
    default:
        return UnknownExit{run_->exit_reason};
    }
}

Status Vcpu::setCpuid(const CpuidTable& table) {
    auto buffer = CpuidBuffer::fromTable(table);
    if (::ioctl(fd_.get(), kIoctlSetCpuid2, buffer.get()) < 0)
        return errnoError("KVM_SET_CPUID2 on vCPU " + std::to_string(id_));
    return {};
}

Result<GeneralRegisters> Vcpu::getRegisters() const {
    kvm_regs r{};
    if (::ioctl(fd_.get(), KVM_GET_REGS, &r) < 0)
        return errnoError("KVM_GET_REGS");
    return GeneralRegisters{r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rsp, r.rbp, r.r8,
                            r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rip, r.rflags};
}

Status Vcpu::setRegisters(const GeneralRegisters& g) {
    kvm_regs r{};
    r.rax = g.rax;
    r.rbx = g.rbx;
    r.rcx = g.rcx;
    r.rdx = g.rdx;
    r.rsi = g.rsi;
    r.rdi = g.rdi;
    r.rsp = g.rsp;
    r.rbp = g.rbp;
    r.r8 = g.r8;
    r.r9 = g.r9;
    r.r10 = g.r10;
    r.r11 = g.r11;
    r.r12 = g.r12;
    r.r13 = g.r13;
    r.r14 = g.r14;
    r.r15 = g.r15;
    r.rip = g.rip;
    r.rflags = g.rflags;
    if (::ioctl(fd_.get(), KVM_SET_REGS, &r) < 0)
        return errnoError("KVM_SET_REGS");
    return {};
}

Result<SpecialRegisters> Vcpu::getSpecialRegisters() const {
    kvm_sregs s{};
    if (::ioctl(fd_.get(), KVM_GET_SREGS, &s) < 0)
        return errnoError("KVM_GET_SREGS");
    SpecialRegisters r;
    r.cs = fromKvm(s.cs);
    r.ds = fromKvm(s.ds);
    r.es = fromKvm(s.es);
    r.fs = fromKvm(s.fs);
    r.gs = fromKvm(s.gs);
    r.ss = fromKvm(s.ss);
    r.tr = fromKvm(s.tr);
    r.ldt = fromKvm(s.ldt);
    r.gdt = {s.gdt.base, s.gdt.limit};
    r.idt = {s.idt.base, s.idt.limit};
    r.cr0 = s.cr0;
    r.cr2 = s.cr2;
    r.cr3 = s.cr3;
    r.cr4 = s.cr4;
    r.cr8 = s.cr8;
    r.efer = s.efer;
    r.apicBase = s.apic_base;
    return r;
}

Status Vcpu::setSpecialRegisters(const SpecialRegisters& r) {
    // Read first so that fields Basalt does not model (interrupt bitmap) keep
    // KVM's values.
    kvm_sregs s{};
    if (::ioctl(fd_.get(), KVM_GET_SREGS, &s) < 0)
        return errnoError("KVM_GET_SREGS");
    s.cs = toKvm(r.cs);
    s.ds = toKvm(r.ds);
    s.es = toKvm(r.es);
    s.fs = toKvm(r.fs);
    s.gs = toKvm(r.gs);
    s.ss = toKvm(r.ss);
    s.tr = toKvm(r.tr);
    s.ldt = toKvm(r.ldt);
    s.gdt.base = r.gdt.base;
    s.gdt.limit = r.gdt.limit;
    s.idt.base = r.idt.base;
    s.idt.limit = r.idt.limit;
    s.cr0 = r.cr0;
    s.cr2 = r.cr2;
    s.cr3 = r.cr3;
    s.cr4 = r.cr4;
    s.cr8 = r.cr8;
    s.efer = r.efer;
    s.apic_base = r.apicBase;
    if (::ioctl(fd_.get(), KVM_SET_SREGS, &s) < 0)
        return errnoError("KVM_SET_SREGS");
    return {};
}

Status Vcpu::makeRunnable() {
    kvm_mp_state state{};
    state.mp_state = KVM_MP_STATE_RUNNABLE;
    if (::ioctl(fd_.get(), KVM_SET_MP_STATE, &state) < 0)
        return errnoError("KVM_SET_MP_STATE on vCPU " + std::to_string(id_));
    return {};
}

Result<uint64_t> Vcpu::tscKhz() const {
    int khz = ::ioctl(fd_.get(), KVM_GET_TSC_KHZ, 0);
    if (khz <= 0)
        return errnoError("KVM_GET_TSC_KHZ");
    return static_cast<uint64_t>(khz);
}

namespace {
constexpr uint32_t kLapicRegisterAlign = 0x10;
} // namespace

Result<uint32_t> Vcpu::lapicRegister(uint32_t offset) const {
    if (offset % kLapicRegisterAlign || offset + sizeof(uint32_t) > KVM_APIC_REG_SIZE)
        return makeError(EINVAL, "LAPIC register offset " + std::to_string(offset));
    kvm_lapic_state state{};
    if (::ioctl(fd_.get(), KVM_GET_LAPIC, &state) < 0)
        return errnoError("KVM_GET_LAPIC");
    uint32_t value = 0;
    std::memcpy(&value, state.regs + offset, sizeof value);
    return value;
}

Status Vcpu::setLapicRegister(uint32_t offset, uint32_t value) {
    if (offset % kLapicRegisterAlign || offset + sizeof(uint32_t) > KVM_APIC_REG_SIZE)
        return makeError(EINVAL, "LAPIC register offset " + std::to_string(offset));
    kvm_lapic_state state{};
    if (::ioctl(fd_.get(), KVM_GET_LAPIC, &state) < 0)
        return errnoError("KVM_GET_LAPIC");
    std::memcpy(state.regs + offset, &value, sizeof value);
    if (::ioctl(fd_.get(), KVM_SET_LAPIC, &state) < 0)
        return errnoError("KVM_SET_LAPIC");
    return {};
}

Result<uint64_t> Vcpu::readMsr(uint32_t index) const {
    // struct kvm_msrs has the same C++ flexible-array problem as kvm_cpuid2
    // (see cpuid_convert.h): use the kernel's layout, an 8-byte header then
    // the entries, and rebuild the ioctl number from the header size.
    struct OneMsr {
        uint32_t nmsrs;
        uint32_t pad;
        kvm_msr_entry entry;
    } request{};
    static_assert(offsetof(OneMsr, entry) == 8);
    struct MsrsHeader {
        uint32_t nmsrs, pad;
    };
    constexpr unsigned long kIoctlGetMsrs = _IOWR(KVMIO, 0x88, MsrsHeader);
    request.nmsrs = 1;
    request.entry.index = index;
    if (::ioctl(fd_.get(), kIoctlGetMsrs, &request) != 1)
        return errnoError("KVM_GET_MSRS");
    return request.entry.data;
}

std::string Vcpu::dumpState() const {
    auto regs = getRegisters();
    auto sregs = getSpecialRegisters();
    if (!regs.ok())
        return "  (registers unavailable: " + regs.error().message + ")\n";
    if (!sregs.ok())
        return "  (special registers unavailable: " + sregs.error().message + ")\n";
    return formatRegisters(*regs, *sregs);
}

} // namespace basalt::kvm
