// Adaptive polling of QEMU's main loop wait, part of the library the launcher
// preloads into QEMU (with sandbox_preload.cpp).
//
// QEMU sleeps in ppoll() until basalt-vmm signals an ioreq on an event
// channel fd. Waking a sleeping thread on another CPU costs more than the
// rest of the round trip (measured here: ~5 us of a ~16 us ioreq), so when
// events have been coming soon after QEMU went to wait, this polls the same
// fd set without sleeping for up to a learned window before it sleeps
// (base/adaptive_poll.h; QEMU's own iothreads do the same with poll-max-ns).
// Every fd in the set is polled, not only the event channel, so no other
// event waits longer than it would have. Only waits that include an event
// channel fd are touched (Basalt's libxenevtchn names them through
// basalt_poll_watch_fd); every other ppoll() goes straight to libc's.

#include "base/adaptive_poll.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <dlfcn.h>
#include <poll.h>
#include <signal.h>
#include <time.h>

namespace {

using Clock = std::chrono::steady_clock;
using PpollFn = int (*)(pollfd*, nfds_t, const timespec*, const sigset_t*);

// Above an ioreq round trip on hardware, and QEMU's own poll-max-ns.
constexpr std::chrono::microseconds kMaxPoll{50};
constexpr std::chrono::microseconds kStartPoll{5};

PpollFn realPpoll() {
    static const auto fn = reinterpret_cast<PpollFn>(dlsym(RTLD_NEXT, "ppoll"));
    return fn;
}

// The event channel fds; QEMU opens one or two handles. 0 marks a free
// slot (fd 0 is QEMU's stdin, /dev/null, never an event channel).
constexpr size_t kMaxWatchedFds = 16;
std::atomic<int> gWatchedFds[kMaxWatchedFds];

bool waitsOnEventChannel(const pollfd* fds, nfds_t count) {
    for (nfds_t i = 0; i < count; ++i) {
        if (fds[i].fd <= 0)
            continue;
        for (const auto& slot : gWatchedFds)
            if (slot.load(std::memory_order_relaxed) == fds[i].fd)
                return true;
    }
    return false;
}

timespec toTimespec(std::chrono::nanoseconds ns) {
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(ns);
    return {static_cast<time_t>(secs.count()), static_cast<long>((ns - secs).count())};
}

} // namespace

// Called by libxenevtchn when a handle opens (watch=1) and closes (watch=0).
// A handle beyond the slots is simply never polled.
extern "C" void basalt_poll_watch_fd(int fd, int watch) {
    if (fd <= 0)
        return;
    for (auto& slot : gWatchedFds) {
        int expected = watch ? 0 : fd;
        if (slot.compare_exchange_strong(expected, watch ? fd : 0))
            return;
    }
}

extern "C" int ppoll(pollfd* fds, nfds_t count, const timespec* timeout, const sigset_t* sigmask) {
    PpollFn real = realPpoll();
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    const bool nonBlocking = timeout && timeout->tv_sec == 0 && timeout->tv_nsec == 0;
    if (nonBlocking || !waitsOnEventChannel(fds, count))
        return real(fds, count, timeout, sigmask);

    // One policy per waiting thread: in QEMU that is the main loop.
    thread_local basalt::AdaptivePoll adaptive(kMaxPoll, kStartPoll);
    const auto start = Clock::now();
    const auto limit =
        timeout ? std::chrono::seconds(timeout->tv_sec) + std::chrono::nanoseconds(timeout->tv_nsec)
                : std::chrono::nanoseconds::max();
    const auto window = std::min<std::chrono::nanoseconds>(adaptive.window(), limit);
    const timespec zero{0, 0};
    while (Clock::now() - start < window) {
        int ready = real(fds, count, &zero, sigmask);
        if (ready != 0) {
            if (ready > 0)
                adaptive.record(Clock::now() - start);
            return ready;
        }
    }
    int ready;
    if (timeout) {
        const auto left = std::max<std::chrono::nanoseconds>(limit - (Clock::now() - start),
                                                             std::chrono::nanoseconds::zero());
        const timespec rest = toTimespec(left);
        ready = real(fds, count, &rest, sigmask);
    } else {
        ready = real(fds, count, nullptr, sigmask);
    }
    // A timeout is no event: it counts as a wait longer than any window.
    adaptive.record(ready > 0 ? Clock::now() - start : kMaxPoll + kMaxPoll);
    return ready;
}
