#include "vmm/kvm/vm.h"

#include "base/format.h"
#include "base/log.h"
#include "vmm/kvm/hypervisor.h"
#include "vmm/kvm/vcpu.h"

#include <cinttypes>
#include <linux/kvm.h>
#include <sys/ioctl.h>

namespace basalt::kvm {

BASALT_DECLARE_LOG_CATEGORY(Kvm);

namespace {
constexpr uint64_t kPageSize = 4096;
constexpr unsigned kBitsPerWord = 64;
} // namespace

Result<std::unique_ptr<Vm>> Vm::create(Hypervisor& hypervisor, UniqueFd vmFd) {
    std::unique_ptr<Vm> vm(new Vm(hypervisor, std::move(vmFd)));
    int slots = hypervisor.checkExtension(KVM_CAP_NR_MEMSLOTS);
    if (slots > 0)
        vm->maxSlots_ = static_cast<uint32_t>(slots);
    vm->slotSizes_.assign(vm->maxSlots_, 0);
    BASALT_TRY(vm->setupPlatform());
    return vm;
}

Status Vm::setupPlatform() {
    if (::ioctl(fd_.get(), KVM_SET_TSS_ADDR, kTssAddress) < 0)
        return errnoError("KVM_SET_TSS_ADDR");
    uint64_t identityMap = kIdentityMapAddress;
    if (hypervisor_.checkExtension(KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 &&
        ::ioctl(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &identityMap) < 0)
        return errnoError("KVM_SET_IDENTITY_MAP_ADDR");
    // No vPMU, as Xen's default (the guest CPUID hides it too, see
    // cpuid_policy.cpp): KVM then skips performance-counter state on every
    // entry and exit. Must happen before any vCPU exists; kernels without the
    // capability keep their vPMU, which the guest cannot discover.
    if (hypervisor_.checkExtension(KVM_CAP_PMU_CAPABILITY) & KVM_PMU_CAP_DISABLE) {
        kvm_enable_cap pmu{};
        pmu.cap = KVM_CAP_PMU_CAPABILITY;
        pmu.args[0] = KVM_PMU_CAP_DISABLE;
        if (::ioctl(fd_.get(), KVM_ENABLE_CAP, &pmu) < 0)
            return errnoError("KVM_ENABLE_CAP(KVM_CAP_PMU_CAPABILITY, disable)");
    }
    // LAPIC, IOAPIC and PIC live in the kernel: interrupts and HLT never leave it.
    if (::ioctl(fd_.get(), KVM_CREATE_IRQCHIP, 0) < 0)
        return errnoError("KVM_CREATE_IRQCHIP");
    kvm_pit_config pit{};
    pit.flags = KVM_PIT_SPEAKER_DUMMY; // port 0x61 is served in-kernel too
    if (::ioctl(fd_.get(), KVM_CREATE_PIT2, &pit) < 0)
        return errnoError("KVM_CREATE_PIT2");
    return {};
}

Status Vm::setSlot(const npt::MemslotSpec& spec) {
    if (spec.slot >= maxSlots_)
        return makeError(ENOSPC, "memslot " + std::to_string(spec.slot) + " beyond KVM's " +
                                     std::to_string(maxSlots_));
    kvm_userspace_memory_region region{};
    region.slot = spec.slot;
    region.flags =
        (spec.readOnly ? KVM_MEM_READONLY : 0u) | (spec.logDirty ? KVM_MEM_LOG_DIRTY_PAGES : 0u);
    region.guest_phys_addr = spec.gpa;
    region.memory_size = spec.size;
    region.userspace_addr = reinterpret_cast<uint64_t>(spec.hva);
    if (::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return errnoError(formatString("KVM_SET_USER_MEMORY_REGION slot %u at %#" PRIx64
                                       "+%#" PRIx64,
                                       spec.slot, spec.gpa, spec.size));
    slotSizes_[spec.slot] = spec.size;
    return {};
}

Status Vm::removeSlot(uint32_t slot) {
    if (slot >= maxSlots_)
        return makeError(EINVAL, "memslot " + std::to_string(slot) + " does not exist");
    kvm_userspace_memory_region region{};
    region.slot = slot; // size 0 deletes the slot
    if (::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return errnoError("KVM_SET_USER_MEMORY_REGION (delete slot " + std::to_string(slot) + ")");
    slotSizes_[slot] = 0;
    return {};
}

Status Vm::fetchAndClearDirtyLog(uint32_t slot, std::span<uint64_t> bitmap) {
    if (slot >= maxSlots_ || slotSizes_[slot] == 0)
        return makeError(EINVAL, "memslot " + std::to_string(slot) + " does not exist");
    uint64_t pages = slotSizes_[slot] / kPageSize;
    if (bitmap.size() < (pages + kBitsPerWord - 1) / kBitsPerWord)
        return makeError(EINVAL, "dirty bitmap too small for memslot " + std::to_string(slot));
    kvm_dirty_log log{};
    log.slot = slot;
    log.dirty_bitmap = bitmap.data();
    // Without KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 enabled, GET_DIRTY_LOG also
    // clears the log and write-protects the pages again.
    if (::ioctl(fd_.get(), KVM_GET_DIRTY_LOG, &log) < 0)
        return errnoError("KVM_GET_DIRTY_LOG slot " + std::to_string(slot));
    return {};
}

Status Vm::setMsrFilter(const std::vector<MsrRule>& rules) {
    if (hypervisor_.checkExtension(KVM_CAP_X86_USER_SPACE_MSR) <= 0 ||
        hypervisor_.checkExtension(KVM_CAP_X86_MSR_FILTER) <= 0)
        return makeError(ENOTSUP, "host KVM has no MSR filter (KVM_CAP_X86_MSR_FILTER)");
    if (rules.size() > KVM_MSR_FILTER_MAX_RANGES)
        return makeError(E2BIG,
                         "too many MSR rules for KVM's filter: " + std::to_string(rules.size()));

    kvm_enable_cap cap{};
    cap.cap = KVM_CAP_X86_USER_SPACE_MSR;
    cap.args[0] = KVM_MSR_EXIT_REASON_FILTER;
    if (::ioctl(fd_.get(), KVM_ENABLE_CAP, &cap) < 0)
        return errnoError("KVM_ENABLE_CAP(KVM_CAP_X86_USER_SPACE_MSR)");

    // A clear bit denies the access to the kernel's MSR emulation; with the
    // FILTER exit reason enabled, denied accesses exit to userspace (MsrExit),
    // where the core either emulates them or injects #GP.
    std::vector<std::vector<uint8_t>> bitmaps;
    kvm_msr_filter filter{};
    filter.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
    for (size_t i = 0; i < rules.size(); ++i) {
        const MsrRule& rule = rules[i];
        bitmaps.emplace_back((rule.count + 7) / 8, 0);
        kvm_msr_filter_range& range = filter.ranges[i];
        range.flags =
            (rule.read ? KVM_MSR_FILTER_READ : 0u) | (rule.write ? KVM_MSR_FILTER_WRITE : 0u);
        range.nmsrs = rule.count;
        range.base = rule.first;
        range.bitmap = bitmaps.back().data();
    }
    if (::ioctl(fd_.get(), KVM_X86_SET_MSR_FILTER, &filter) < 0)
        return errnoError("KVM_X86_SET_MSR_FILTER");
    return {};
}

Result<bool> Vm::signalMsi(uint64_t address, uint32_t data) {
    kvm_msi msi{};
    msi.address_lo = static_cast<uint32_t>(address);
    msi.address_hi = static_cast<uint32_t>(address >> 32);
    msi.data = data;
    int delivered = ::ioctl(fd_.get(), KVM_SIGNAL_MSI, &msi);
    if (delivered < 0)
        return errnoError("KVM_SIGNAL_MSI");
    return delivered > 0;
}

Status Vm::setIrqLine(uint32_t gsi, bool level) {
    kvm_irq_level irq{};
    irq.irq = gsi;
    irq.level = level ? 1 : 0;
    if (::ioctl(fd_.get(), KVM_IRQ_LINE, &irq) < 0)
        return errnoError("KVM_IRQ_LINE gsi " + std::to_string(gsi));
    return {};
}

Result<uint64_t> Vm::ioapicRedirection(uint32_t pin) const {
    if (pin >= kIoapicPins)
        return makeError(EINVAL, "IOAPIC pin " + std::to_string(pin) + " does not exist");
    kvm_irqchip chip{};
    chip.chip_id = KVM_IRQCHIP_IOAPIC;
    if (::ioctl(fd_.get(), KVM_GET_IRQCHIP, &chip) < 0)
        return errnoError("KVM_GET_IRQCHIP (IOAPIC)");
    return static_cast<uint64_t>(chip.chip.ioapic.redirtbl[pin].bits);
}

Result<std::unique_ptr<Vcpu>> Vm::createVcpu(uint32_t index, uint32_t apicId) {
    // KVM's vcpu id becomes the vCPU's initial (x2)APIC ID.
    int vcpuFd = ::ioctl(fd_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(apicId));
    if (vcpuFd < 0)
        return errnoError("KVM_CREATE_VCPU " + std::to_string(apicId) + " (vCPU " +
                          std::to_string(index) + ")");
    return Vcpu::create(UniqueFd(vcpuFd), index, apicId, hypervisor_.vcpuMmapSize());
}

} // namespace basalt::kvm
