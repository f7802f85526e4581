#include "vmm/xen/xen_platform.h"

#include "base/x86.h"

#include "base/log.h"
#include "npt/guest_memory.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/xen/hypercall.h"
#include "vmm/xen/xen_events.h"
#include "vmm/xen/xen_headers.h"

#include <array>
#include <cinttypes>
#include <ctime>

#include <xen/arch-x86/cpuid.h>

namespace basalt::xen {

BASALT_LOG_CATEGORY(Xen, "xen");

namespace {

constexpr uint64_t kPageMask = 0xFFF;

uint64_t monotonicNs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

} // namespace

XenPlatform::XenPlatform(const XenPlatformConfig& config, npt::PhysMap& physMap,
                         npt::GuestMemory& memory, Console& console, ShutdownFn shutdown)
    : config_(config), physMap_(physMap), memory_(memory), console_(console),
      shutdown_(std::move(shutdown)), bootNs_(monotonicNs()) {
    initMemory();
    initEvents();
}

uint64_t XenPlatform::systemTimeNs() const {
    return monotonicNs() - bootNs_;
}

int64_t XenPlatform::setUpcallVector(HypercallContext& ctx) {
    (void)ctx;
    // Per-vCPU vector delivery needs in-kernel Xen support (DESIGN.md 2).
    return -XEN_ENOSYS;
}

XenPlatform::~XenPlatform() = default;

void XenPlatform::addCpuidLeaves(CpuidTable& table, uint32_t vcpuIndex) const {
    auto leaf = [&](uint32_t i, uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx) {
        table.push_back(CpuidEntry{XEN_CPUID_LEAF(i), 0, false, eax, ebx, ecx, edx});
    };
    // 0: highest leaf and the "XenVMMXenVMM" signature.
    leaf(0, XEN_CPUID_LEAF(XEN_CPUID_MAX_NUM_LEAVES), XEN_CPUID_SIGNATURE_EBX,
         XEN_CPUID_SIGNATURE_ECX, XEN_CPUID_SIGNATURE_EDX);
    // 1: version.
    leaf(1, (kXenMajor << 16) | kXenMinor, 0, 0, 0);
    // 2: one hypercall page, installed through MSR 0x40000000.
    leaf(2, 1, kHypercallPageMsr, 0, 0);
    // 3: time. No TSC emulation, native TSC mode; the guest reads the TSC
    // frequency from pvclock instead (subleaves stay zero).
    leaf(3, 0, 0, 0, 0);
    // 4: HVM features: only what the core really provides. vCPU id and domid
    // are present; no APIC access virtualization is promised.
    leaf(4, XEN_HVM_CPUID_VCPU_ID_PRESENT | XEN_HVM_CPUID_DOMID_PRESENT, vcpuIndex, config_.domid,
         0);
    // 5: PV-specific parameters: none for an HVM guest.
    leaf(5, 0, 0, 0, 0);
}

bool XenPlatform::writeHypercallPageMsr(uint32_t vcpu, uint64_t value) {
    if (value & kPageMask) {
        LOG_RATELIMITED(Xen, Info, "vCPU %u: hypercall page index %" PRIu64 " does not exist", vcpu,
                        value & kPageMask);
        return false; // Xen: only page 0 exists -> #GP
    }
    std::array<uint8_t, 4096> page{};
    fillHypercallPage(page, config_.hypercallStub);
    if (auto s = memory_.write(value, page); !s.ok()) {
        LOG_RATELIMITED(Xen, Info, "vCPU %u: hypercall page: %s", vcpu, s.error().message.c_str());
        return false;
    }
    hypercallPageInstalled_.store(true);
    LOG(Xen, Debug, "vCPU %u installed the hypercall page at %#" PRIx64, vcpu, value);
    return true;
}

void XenPlatform::hypercall(kvm::Vcpu& vcpu) {
    auto regs = vcpu.getRegisters();
    auto sregs = vcpu.getSpecialRegisters();
    if (!regs.ok() || !sregs.ok()) {
        LOG_RATELIMITED(Xen, Error, "vCPU %u: cannot read registers for a hypercall", vcpu.id());
        return;
    }
    bool longMode = (sregs->efer & x86::kEferLma) && sregs->cs.l;
    HypercallRegisters in{regs->rax,  regs->rbx,   regs->rcx, regs->rdx,    regs->rsi,
                          regs->rdi,  regs->r8,    regs->r10, sregs->cr0,   sregs->cr3,
                          sregs->cr4, sregs->efer, longMode,  sregs->ss.dpl};
    int64_t result = dispatch(vcpu.id(), in);
    regs->rax = longMode ? static_cast<uint64_t>(result)
                         : static_cast<uint64_t>(static_cast<uint32_t>(result));
    if (auto s = vcpu.setRegisters(*regs); !s.ok())
        LOG_RATELIMITED(Xen, Error, "vCPU %u: cannot write the hypercall result: %s", vcpu.id(),
                        s.error().message.c_str());
}

int64_t XenPlatform::dispatch(uint32_t vcpu, const HypercallRegisters& r) {
    if (r.cpl != 0)
        return -XEN_EPERM; // HVM hypercalls are for the guest kernel only
    uint32_t number = static_cast<uint32_t>(r.rax);
    std::array<uint64_t, 5> args;
    if (r.longMode)
        args = {r.rdi, r.rsi, r.rdx, r.r10, r.r8};
    else
        args = {r.rbx & 0xFFFFFFFF, r.rcx & 0xFFFFFFFF, r.rdx & 0xFFFFFFFF, r.rsi & 0xFFFFFFFF,
                r.rdi & 0xFFFFFFFF};
    const HypercallEntry* entry = findHypercall(number);
    if (!entry) {
        reportUnknownOnce("hypercall", number, 0);
        return -XEN_ENOSYS;
    }
    HypercallContext ctx(*this, vcpu, memory_, PagingState{r.cr0, r.cr3, r.cr4, r.efer}, r.longMode,
                         args);
    return entry->handler(ctx);
}

void XenPlatform::callbackIrqChanged(uint64_t value) {
    LOG(Xen, Debug, "callback irq set to %#" PRIx64, value);
    events().upcall().setVia(value);
}

} // namespace basalt::xen
