#include "vmm/xen/hvm_params.h"

#include "vmm/xen/xen_headers.h"

namespace basalt::xen {

static_assert(HvmParams::kCount >= HVM_NR_PARAMS);

bool HvmParams::guestMayGet(uint32_t index) {
    switch (index) {
    case HVM_PARAM_CALLBACK_IRQ:
    case HVM_PARAM_VM86_TSS:
    case HVM_PARAM_VM86_TSS_SIZED:
    case HVM_PARAM_ACPI_IOPORTS_LOCATION:
    case HVM_PARAM_VM_GENERATION_ID_ADDR:
    case HVM_PARAM_STORE_PFN:
    case HVM_PARAM_STORE_EVTCHN:
    case HVM_PARAM_CONSOLE_PFN:
    case HVM_PARAM_CONSOLE_EVTCHN:
    case HVM_PARAM_ALTP2M:
    case HVM_PARAM_X87_FIP_WIDTH:
        return true;
    default:
        return false;
    }
}

bool HvmParams::guestMaySet(uint32_t index) {
    switch (index) {
    case HVM_PARAM_CALLBACK_IRQ:
    case HVM_PARAM_VM86_TSS:
    case HVM_PARAM_VM86_TSS_SIZED:
    case HVM_PARAM_ACPI_IOPORTS_LOCATION:
    case HVM_PARAM_VM_GENERATION_ID_ADDR:
    case HVM_PARAM_STORE_EVTCHN:
    case HVM_PARAM_CONSOLE_EVTCHN:
    case HVM_PARAM_X87_FIP_WIDTH:
        return true;
    default:
        return false;
    }
}

int HvmParams::guestGet(uint32_t index, uint64_t& value) const {
    if (index >= HVM_NR_PARAMS)
        return -XEN_EINVAL;
    if (!guestMayGet(index))
        return -XEN_EPERM;
    value = get(index);
    return 0;
}

int HvmParams::guestSet(uint32_t index, uint64_t value) {
    if (index >= HVM_NR_PARAMS)
        return -XEN_EINVAL;
    if (!guestMaySet(index))
        return -XEN_EPERM;
    set(index, value);
    return 0;
}

uint64_t HvmParams::get(uint32_t index) const {
    std::lock_guard lock(mutex_);
    return index < kCount ? values_[index] : 0;
}

void HvmParams::set(uint32_t index, uint64_t value) {
    std::lock_guard lock(mutex_);
    if (index < kCount)
        values_[index] = value;
}

} // namespace basalt::xen
