#pragma once
// Intel CPUID leaves and bits the VT-x policy changes (SDM vol. 2A, CPUID).

#include <cstdint>

namespace basalt::vmx {

inline constexpr uint32_t kLeafFeatures = 0x1;
inline constexpr uint32_t kFeaturesEcxVmx = 1u << 5;

inline constexpr uint32_t kLeafStructuredFeatures = 0x7;
inline constexpr uint32_t kStructuredEbxSgx = 1u << 2;
inline constexpr uint32_t kStructuredEcxSgxLaunchControl = 1u << 30;

inline constexpr uint32_t kLeafSgx = 0x12; // SGX capabilities and EPC sections

} // namespace basalt::vmx
