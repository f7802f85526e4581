#include "vmm/exit_status.h"
#include "vmm/lifecycle.h"

#include <catch2/catch.hpp>

using namespace basalt;

TEST_CASE("stops are classified into lifecycle events", "[lifecycle]") {
    CHECK(classifyStop(kExitPoweredOff, "guest powered off (ACPI S5 through PM1a_CNT)", false) ==
          StopEvent::Poweroff);
    CHECK(classifyStop(kExitRebootRequested, "device model asked to reboot the guest", false) ==
          StopEvent::Reboot);
    CHECK(classifyStop(kExitCrashed, "crashed: triple fault", false) == StopEvent::Crash);
    // The control socket and the test exit port end the process whatever
    // the status says.
    CHECK(classifyStop(kExitPoweredOff, "destroyed through the control socket", true) ==
          StopEvent::Final);
    CHECK(classifyStop(kExitCrashed, "guest wrote 2 to the test exit port", false) ==
          StopEvent::Final);
    CHECK(classifyStop(kExitConfigError, "anything", false) == StopEvent::Final);
}

TEST_CASE("a lifecycle policy maps events to actions", "[lifecycle]") {
    LifecyclePolicy policy;
    CHECK(policy.actionFor(StopEvent::Reboot) == LifecycleAction::Destroy);
    policy.onReboot = LifecycleAction::Restart;
    policy.onCrash = LifecycleAction::Preserve;
    CHECK(policy.actionFor(StopEvent::Poweroff) == LifecycleAction::Destroy);
    CHECK(policy.actionFor(StopEvent::Reboot) == LifecycleAction::Restart);
    CHECK(policy.actionFor(StopEvent::Crash) == LifecycleAction::Preserve);
    CHECK(policy.actionFor(StopEvent::Final) == LifecycleAction::Destroy);
}

TEST_CASE("the restart guard stops a restart storm and forgets old restarts", "[lifecycle]") {
    RestartGuard guard;
    auto t0 = RestartGuard::Clock::time_point{} + std::chrono::hours(1);
    for (size_t i = 0; i < RestartGuard::kMaxRestarts; ++i)
        CHECK(guard.allow(t0 + std::chrono::seconds(i)));
    CHECK_FALSE(guard.allow(t0 + std::chrono::seconds(RestartGuard::kMaxRestarts)));
    // Once the first restarts leave the window, restarts are allowed again.
    auto later = t0 + RestartGuard::kWindow + std::chrono::seconds(2);
    CHECK(guard.allow(later));
}
