#pragma once
// What basalt-vmm does when its domain stops (xl's on_poweroff / on_reboot /
// on_crash): destroy (exit), restart (build the domain again from the same
// spec, with the same disks and a fresh device model) or preserve (keep the
// stopped domain and its device model until the control socket destroys it).
//
//   Domain::run() returns (status, reason) -> classifyStop() -> the event
//   -> actionFor(event) -> RestartGuard::allow() before each restart.
//
// A stop through the control socket or the test exit port is final: no
// action applies to it.

#include "toolstack/xlcfg/xl_domain_config.h"

#include <chrono>
#include <deque>
#include <optional>
#include <string>

namespace basalt {

using xlcfg::LifecycleAction;

enum class StopEvent { Poweroff, Reboot, Crash, Final };
const char* stopEventName(StopEvent event);

struct LifecyclePolicy {
    LifecycleAction onPoweroff = LifecycleAction::Destroy;
    // basalt-vmm's own default: exit with kExitRebootRequested, as before
    // lifecycle actions existed; --config applies xl's (restart).
    LifecycleAction onReboot = LifecycleAction::Destroy;
    LifecycleAction onCrash = LifecycleAction::Destroy;

    // Destroy for StopEvent::Final.
    LifecycleAction actionFor(StopEvent event) const;
};

// `status` and `reason` as Domain::run() and DomainStatus::stopReason give
// them; `destroyedByControl` when the control socket asked for the stop.
StopEvent classifyStop(int status, const std::string& reason, bool destroyedByControl);

// Refuses a restart once kMaxRestarts have happened within kWindow: a guest
// that reboots or crashes in a loop must not keep a host core busy forever.
class RestartGuard {
public:
    static constexpr size_t kMaxRestarts = 10;
    static constexpr std::chrono::seconds kWindow{60};
    using Clock = std::chrono::steady_clock;

    // True (and counted) if one more restart is allowed at `now`.
    bool allow(Clock::time_point now);

private:
    std::deque<Clock::time_point> recent_;
};

} // namespace basalt
