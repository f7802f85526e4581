#include "base/adaptive_poll.h"
#include "base/format.h"
#include "base/log.h"
#include "base/mapped_region.h"
#include "base/result.h"
#include "base/unique_fd.h"

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace basalt;

namespace {

Result<int> half(int v) {
    if (v % 2)
        return makeError(EINVAL, "odd");
    return v / 2;
}

Status quarter(int v, int& out) {
    auto h = half(v);
    BASALT_TRY(h);
    auto q = half(*h);
    BASALT_TRY(q);
    out = *q;
    return {};
}

std::vector<std::string> captured;
void capture(const std::string& line) {
    captured.push_back(line);
}

BASALT_LOG_CATEGORY(TestCat, "test-category");

} // namespace

TEST_CASE("Result carries values and errno-style errors", "[base]") {
    CHECK(*half(8) == 4);
    CHECK(half(3).error().code == EINVAL);
    int out = 0;
    CHECK(quarter(8, out).ok());
    CHECK(out == 2);
    CHECK(quarter(6, out).error().message == "odd");
    errno = ENOENT;
    Error e = errnoError("open x");
    CHECK(e.code == ENOENT);
    CHECK(e.message.find("open x: ") == 0);
}

TEST_CASE("UniqueFd closes exactly once and moves", "[base]") {
    int raw = ::open("/dev/null", O_RDONLY);
    REQUIRE(raw >= 0);
    {
        UniqueFd a(raw);
        UniqueFd b(std::move(a));
        CHECK_FALSE(a.valid());
        CHECK(b.get() == raw);
    }
    CHECK(::fcntl(raw, F_GETFD) == -1); // closed
}

TEST_CASE("MappedRegion maps and unmaps", "[base]") {
    auto region =
        MappedRegion::map(8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(region.ok());
    region->data()[8191] = 7;
    MappedRegion moved(std::move(*region));
    CHECK(moved.size() == 8192);
    CHECK(moved.data()[8191] == 7);
    CHECK_FALSE(MappedRegion::map(0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).ok());
}

TEST_CASE("Rate-limited logging lets a burst through, then counts what it drops", "[base]") {
    log::setSink(capture);
    captured.clear();
    for (int i = 0; i < 100; ++i)
        LOG_RATELIMITED(TestCat, Warn, "message %d", i);
    log::setSink(nullptr);
    // The default burst is 10 and nothing else passes within one second.
    CHECK(captured.size() == 10);
    CHECK(captured.front().find("test-category: warning: message 0") != std::string::npos);

    log::RateLimiter limiter(1, std::chrono::milliseconds(0));
    uint64_t suppressed = 0;
    CHECK(limiter.allow(suppressed));
    CHECK(limiter.allow(suppressed)); // interval 0: always allowed after the burst
}

TEST_CASE("Log thresholds come from BASALT_LOG", "[base]") {
    setenv("BASALT_LOG", "other=error,test-threshold=debug,*=warn", 1);
    log::Category debugCat("test-threshold");
    log::Category defaultCat("anything-else");
    CHECK(debugCat.enabled(log::Level::Debug));
    CHECK_FALSE(defaultCat.enabled(log::Level::Info));
    CHECK(defaultCat.enabled(log::Level::Warn));
    unsetenv("BASALT_LOG");
}

TEST_CASE(
    "AdaptivePoll grows while events come soon after sleeping, and shrinks when they come late") {
    using namespace std::chrono_literals;
    basalt::AdaptivePoll poll(50us, 5us);
    CHECK(poll.window() == 0ns); // an idle waiter sleeps at once

    poll.record(8us); // slept, the event came 8 us in
    CHECK(poll.window() == 5us);
    poll.record(8us);
    CHECK(poll.window() == 10us);
    poll.record(8us); // caught by polling: no change
    CHECK(poll.window() == 10us);

    for (int i = 0; i < 10; ++i)
        poll.record(45us);        // 10 -> 20 -> 40 -> 50
    CHECK(poll.window() == 50us); // capped at max

    poll.record(2ms); // too late for any window
    CHECK(poll.window() == 25us);
    poll.record(2ms);
    CHECK(poll.window() == 12500ns);
    poll.record(2ms);
    CHECK(poll.window() == 6250ns);
    poll.record(2ms);
    CHECK(poll.window() == 3125ns);
    poll.record(2ms);
    CHECK(poll.window() == 0ns);
}

TEST_CASE("AdaptivePoll's start is capped at its max") {
    using namespace std::chrono_literals;
    basalt::AdaptivePoll poll(4us, 10us);
    poll.record(3us);
    CHECK(poll.window() == 4us);
}

TEST_CASE("hexDigitValue reads either case and refuses anything else") {
    CHECK(basalt::hexDigitValue('0') == 0);
    CHECK(basalt::hexDigitValue('9') == 9);
    CHECK(basalt::hexDigitValue('a') == 10);
    CHECK(basalt::hexDigitValue('F') == 15);
    CHECK(basalt::hexDigitValue('g') == -1);
    CHECK(basalt::hexDigitValue('/') == -1);
    CHECK(basalt::hexDigitValue(':') == -1);
    CHECK(basalt::hexDigitValue('\0') == -1);
}
