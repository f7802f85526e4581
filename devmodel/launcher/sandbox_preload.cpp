// libbasalt-dm-sandbox.so: preloaded into QEMU (LD_PRELOAD) by the launcher.
// It holds this sandbox and the main loop's adaptive polling (poll_preload.cpp).
// Debian's qemu-system-xen is built without seccomp, so `-sandbox on` is not
// available; this constructor installs the same policy before QEMU's main():
// obsolete=deny, elevateprivileges=deny, spawn=deny, resourcecontrol=deny.
// It runs after the launcher set PR_SET_NO_NEW_PRIVS, so no privilege is
// needed, and the filter cannot be removed. If it cannot be installed, QEMU
// does not start.

#include "devmodel/launcher/sandbox_policy.h"

#include <cstdio>
#include <unistd.h>

namespace {

[[gnu::constructor]] void installSandbox() {
    if (!basalt::devmodel::installQemuSeccompFilter()) {
        std::fputs("basalt-dm-sandbox: cannot install the seccomp filter; refusing to run\n",
                   stderr);
        _exit(1);
    }
}

} // namespace
