#include "vmm/xen/xen_platform.h"

#include "base/log.h"
#include "npt/guest_memory.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/xen/hypercall.h"
#include "vmm/xen/xen_headers.h"

#include <array>
#include <cinttypes>
#include <ctime>

#include <xen/arch-x86/cpuid.h>

namespace basalt::xen {

BASALT_LOG_CATEGORY(Xen, "xen");

namespace {

constexpr uint64_t kPageMask = 0xFFF;
constexpr uint64_t kEferLma = 1ull << 10;

uint64_t monotonicNs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

} // namespace

XenPlatform::XenPlatform(const XenPlatformConfig& config, npt::PhysMap& physMap,
                         npt::GuestMemory& memory, Console& console, ShutdownFn shutdown)
    : config_(config), physMap_(physMap), memory_(memory), console_(console),
      shutdown_(std::move(shutdown)), bootNs_(monotonicNs()) {}

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
    fillHypercallPage(page);
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
    bool longMode = (sregs->efer & kEferLma) && sregs->cs.l;
    uint32_t number = static_cast<uint32_t>(regs->rax);
    std::array<uint64_t, 5> args;
    if (longMode)
        args = {regs->rdi, regs->rsi, regs->rdx, regs->r10, regs->r8};
    else
        args = {regs->rbx & 0xFFFFFFFF, regs->rcx & 0xFFFFFFFF, regs->rdx & 0xFFFFFFFF,
                regs->rsi & 0xFFFFFFFF, regs->rdi & 0xFFFFFFFF};

    int64_t result;
    if (sregs->ss.dpl != 0) {
        result = -XEN_EPERM; // HVM hypercalls are for the guest kernel only
    } else if (const HypercallEntry* entry = findHypercall(number)) {
        PagingState paging{sregs->cr0, sregs->cr3, sregs->cr4, sregs->efer};
        HypercallContext ctx(*this, vcpu, memory_, paging, longMode, args);
        result = entry->handler(ctx);
    } else {
        reportUnknownOnce("hypercall", number, 0);
        result = -XEN_ENOSYS;
    }
    regs->rax = longMode ? static_cast<uint64_t>(result)
                         : static_cast<uint64_t>(static_cast<uint32_t>(result));
    if (auto s = vcpu.setRegisters(*regs); !s.ok())
        LOG_RATELIMITED(Xen, Error, "vCPU %u: cannot write the hypercall result: %s", vcpu.id(),
                        s.error().message.c_str());
}

void XenPlatform::callbackIrqChanged(uint64_t value) {
    LOG(Xen, Debug, "callback irq set to %#" PRIx64, value);
}

} // namespace basalt::xen
