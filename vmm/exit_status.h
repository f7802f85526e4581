#pragma once
// basalt-vmm's process exit statuses. With --test-exit-port, the guest picks
// the status itself (the low byte of what it writes).

namespace basalt {

enum ExitStatus : int {
    kExitPoweredOff = 0,      // the guest powered off, or the domain was destroyed
    kExitConfigError = 1,     // bad command line, spec or kernel: nothing ran
    kExitCrashed = 2,         // triple fault, failed VM entry, internal error, ...
    kExitRebootRequested = 3, // the guest asked for a reset
};

} // namespace basalt
