#pragma once
// basalt-vmm's command line. Convenience flags (--kernel, --memory, --vcpus,
// ...) are turned into a domain spec blob and parsed back, so the guest is
// always built from a validated spec (DESIGN.md decision 9).

#include "base/result.h"
#include "vmm/builder/domain_spec.h"
#include "vmm/lifecycle.h"

#include <cstdint>
#include <string>
#include <vector>

namespace basalt {

// As xl numbers its first guest; 0 is dom0 (the toolstack, xenstored, QEMU).
inline constexpr uint16_t kDefaultGuestDomid = 1;
// DOMID_FIRST_RESERVED (xen/xen.h): ids from here on are special.
inline constexpr uint16_t kMaxGuestDomid = 0x7FEF;

struct VmmOptions {
    DomainSpec spec;
    std::string controlSocketPath; // empty: no control socket
    std::string writeSpecPath;     // non-empty: write the spec blob there and exit
    std::string xenstorePath;      // non-empty: xenstored's socket; the guest gets a store ring
    uint16_t domid = kDefaultGuestDomid; // the guest's Xen domain id (QEMU's -xen-domid)
    std::string dmLibraryDir;            // empty: devmodel::defaultLibraryDir()
    std::string dmRunDir;                // empty: devmodel::kDefaultRunDir
    LifecyclePolicy lifecycle;           // --on-poweroff/--on-reboot/--on-crash, or --config
    bool consoleAttach = false;          // --console attach: relay the serial pty here
    std::string screenshotPath;          // client mode: ask --control's VMM for a PNG
    std::vector<std::string> warnings;   // e.g. unknown keys of a --config file
    bool help = false;
    std::string helpText;
};

Result<VmmOptions> parseVmmOptions(const std::vector<std::string>& args);

} // namespace basalt
