#include "vmm/lifecycle.h"

#include "vmm/exit_status.h"

namespace basalt {

const char* stopEventName(StopEvent event) {
    switch (event) {
    case StopEvent::Poweroff:
        return "poweroff";
    case StopEvent::Reboot:
        return "reboot";
    case StopEvent::Crash:
        return "crash";
    case StopEvent::Final:
        return "final";
    }
    return "?";
}

LifecycleAction LifecyclePolicy::actionFor(StopEvent event) const {
    switch (event) {
    case StopEvent::Poweroff:
        return onPoweroff;
    case StopEvent::Reboot:
        return onReboot;
    case StopEvent::Crash:
        return onCrash;
    case StopEvent::Final:
        break;
    }
    return LifecycleAction::Destroy;
}

StopEvent classifyStop(int status, const std::string& reason, bool destroyedByControl) {
    // The test exit port's status is the guest's own choice (any byte), so it
    // says nothing about power-off, reboot or crash.
    constexpr std::string_view kTestExitReason = "guest wrote ";
    if (destroyedByControl || reason.rfind(kTestExitReason, 0) == 0)
        return StopEvent::Final;
    switch (status) {
    case kExitPoweredOff:
        return StopEvent::Poweroff;
    case kExitRebootRequested:
        return StopEvent::Reboot;
    case kExitCrashed:
        return StopEvent::Crash;
    default:
        return StopEvent::Final;
    }
}

bool RestartGuard::allow(Clock::time_point now) {
    while (!recent_.empty() && now - recent_.front() > kWindow)
        recent_.pop_front();
    if (recent_.size() >= kMaxRestarts)
        return false;
    recent_.push_back(now);
    return true;
}

} // namespace basalt
