#pragma once
// Loads the KVM_GET_SUPPORTED_CPUID-shaped tables in test/fixtures/cpuid/.

#include "base/cpuid.h"
#include "base/result.h"

#include <string>

namespace basalt::test {

// Absolute path of a file under test/fixtures (BASALT_FIXTURES comes from
// test/unit/vendor/meson.build).
std::string fixturePath(const std::string& relative);

// One entry per line, "function index flags eax ebx ecx edx" in hex; '#'
// starts a comment. Flags bit 0 is KVM's significant-index flag.
Result<CpuidTable> loadCpuidFixture(const std::string& path);

} // namespace basalt::test
