#pragma once
// AMD MSRs the AMD-V policy takes a position on (APM vol. 2, 15.30).

#include <cstdint>

namespace basalt::svm {

// VM_CR: SVM lock and disable bits, INIT redirection, A20M/DPD controls.
inline constexpr uint32_t kMsrVmCr = 0xC0010114;
// VM_HSAVE_PA: where VMRUN saves the host state; only a hypervisor sets it.
inline constexpr uint32_t kMsrVmHsavePa = 0xC0010117;

} // namespace basalt::svm
