#pragma once
// How long to busy-poll for an event before sleeping on it, learned from the
// waits that came before: the policy of KVM's halt polling (grow, shrink).
//
// A cross-process wakeup is the dearest part of an ioreq round trip: the
// sleeping side must be scheduled back in, on another CPU through an IPI.
// When answers come quickly (a guest doing port I/O in a loop), polling a
// little longer than they take removes the wakeup; when they come late or
// never (an idle guest, a slow disk), polling only burns a CPU, so the window
// shrinks to nothing and the waiter sleeps at once.
//
// Example with max 50 us, start 5 us: waits of 8 us grow the window
// 0 -> 5 -> 10 us, after which each 8 us wait is caught by polling; one wait
// of 2 ms halves it back to 5 us, a second one to 0.

#include <algorithm>
#include <chrono>

namespace basalt {

class AdaptivePoll {
public:
    using Nanos = std::chrono::nanoseconds;

    AdaptivePoll(Nanos max, Nanos start) : max_(max), start_(std::min(start, max)) {}

    // How long to poll before the next sleep.
    Nanos window() const { return window_; }

    // The whole wait that just ended (polling plus sleeping), until the event.
    // A wait that ended in a timeout rather than an event counts as longer
    // than max.
    void record(Nanos waited) {
        if (waited <= window_)
            return; // polling caught it: the window fits
        if (waited <= max_) {
            // Slept for an event that came soon after: poll longer next time.
            window_ = std::min(max_, window_ == Nanos::zero() ? start_ : window_ * 2);
            return;
        }
        // Came too late for any allowed window: poll less.
        window_ = window_ <= start_ ? Nanos::zero() : window_ / 2;
    }

private:
    Nanos max_;
    Nanos start_;
    Nanos window_{0};
};

} // namespace basalt
