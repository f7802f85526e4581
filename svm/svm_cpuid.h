#pragma once
// AMD CPUID leaves and bits the AMD-V policy changes (APM vol. 3, appendix E).

#include <cstdint>

namespace basalt::svm {

inline constexpr uint32_t kLeafExtendedFeatures = 0x80000001;
inline constexpr uint32_t kExtendedFeaturesEcxSvm = 1u << 2;

inline constexpr uint32_t kLeafSvmFeatures = 0x8000000A;     // SVM revision, ASIDs, NPT...
inline constexpr uint32_t kLeafEncryptedMemory = 0x8000001F; // SME/SEV capabilities

} // namespace basalt::svm
