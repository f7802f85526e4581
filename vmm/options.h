#pragma once
// basalt-vmm's command line. Convenience flags (--kernel, --memory, --vcpus,
// ...) are turned into a domain spec blob and parsed back, so the guest is
// always built from a validated spec (DESIGN.md decision 9).

#include "base/result.h"
#include "vmm/builder/domain_spec.h"

#include <string>
#include <vector>

namespace basalt {

struct VmmOptions {
    DomainSpec spec;
    std::string controlSocketPath; // empty: no control socket
    std::string writeSpecPath;     // non-empty: write the spec blob there and exit
    bool help = false;
    std::string helpText;
};

Result<VmmOptions> parseVmmOptions(const std::vector<std::string>& args);

} // namespace basalt
