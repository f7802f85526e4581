#include "vmm/devices/rtc.h"

#include <catch2/catch.hpp>
#include <vector>

using namespace basalt;

namespace {

constexpr int64_t kNsPerSecond = 1000000000;
// 2024-02-29 13:45:56 UTC, a Thursday.
constexpr int64_t kLeapDay = 1709214356;
// 2030-01-01 00:00:00 UTC.
constexpr int64_t kNewYear2030 = 1893456000;

class FakeClock : public DeviceClock {
public:
    uint64_t monotonicNs() const override { return mono; }
    int64_t realtimeNs() const override { return real; }
    void advance(uint64_t ns) {
        mono += ns;
        real += static_cast<int64_t>(ns);
    }
    uint64_t mono = 5 * kNsPerSecond;
    int64_t real = kLeapDay * kNsPerSecond;
};

struct Fixture {
    FakeClock clock;
    std::vector<bool> irq;
    std::vector<int64_t> offsets;
    Rtc rtc{Rtc::Config{&clock, [this](bool level) { irq.push_back(level); },
                        [this](int64_t delta) { offsets.push_back(delta); }, 0}};

    uint8_t readCmos(uint8_t index) {
        uint8_t i = index;
        rtc.write(0, {&i, 1});
        uint8_t v = 0;
        rtc.read(1, {&v, 1});
        return v;
    }
    void writeCmos(uint8_t index, uint8_t value) {
        rtc.write(0, {&index, 1});
        rtc.write(1, {&value, 1});
    }
};

} // namespace

TEST_CASE("RTC starts at host time in BCD, 24-hour mode, with Xen's register defaults") {
    Fixture f;
    CHECK(f.readCmos(Rtc::kSeconds) == 0x56);
    CHECK(f.readCmos(Rtc::kMinutes) == 0x45);
    CHECK(f.readCmos(Rtc::kHours) == 0x13);
    CHECK(f.readCmos(Rtc::kDayOfWeek) == 4);
    CHECK(f.readCmos(Rtc::kDayOfMonth) == 0x29);
    CHECK(f.readCmos(Rtc::kMonth) == 0x02);
    CHECK(f.readCmos(Rtc::kYear) == 0x24);
    CHECK(f.readCmos(Rtc::kRegA) == 0x26);
    CHECK(f.readCmos(Rtc::kRegB) == Rtc::kB24Hour);
    CHECK(f.readCmos(Rtc::kRegC) == 0);
    CHECK(f.readCmos(Rtc::kRegD) == Rtc::kDVrt);
    uint8_t index = 0;
    f.rtc.read(0, {&index, 1});
    CHECK(index == 0xFF); // the index port is write-only

    f.clock.advance(5 * kNsPerSecond);
    CHECK(f.readCmos(Rtc::kSeconds) == 0x01);
    CHECK(f.readCmos(Rtc::kMinutes) == 0x46);
}

TEST_CASE("RTC binary and 12-hour modes follow register B") {
    Fixture f;
    f.writeCmos(Rtc::kRegB, Rtc::kBBinary);       // binary, 12-hour
    CHECK(f.readCmos(Rtc::kHours) == (1 | 0x80)); // 13:00 is 1 PM
    CHECK(f.readCmos(Rtc::kMinutes) == 45);
    CHECK(f.readCmos(Rtc::kYear) == 24);
    // 12-hour mode counts 12, 1, ..., 11: midnight is 12 AM.
    f.clock.advance(static_cast<uint64_t>(10 * 3600 + 14 * 60 + 4) * kNsPerSecond); // 00:00:00
    CHECK(f.readCmos(Rtc::kHours) == 12);
    CHECK(f.readCmos(Rtc::kDayOfMonth) == 1);
    CHECK(f.readCmos(Rtc::kMonth) == 3);
    f.writeCmos(Rtc::kRegB, 0); // BCD, 12-hour
    f.clock.advance(static_cast<uint64_t>(12 * 3600) * kNsPerSecond);
    CHECK(f.readCmos(Rtc::kHours) == (0x12 | 0x80)); // noon is 12 PM
}

TEST_CASE("RTC UIP is set in the last 244 us of a second, never in SET mode") {
    Fixture f;
    f.clock.advance(kNsPerSecond - 245000);
    CHECK((f.readCmos(Rtc::kRegA) & Rtc::kAUip) == 0);
    f.clock.advance(2000);
    CHECK((f.readCmos(Rtc::kRegA) & Rtc::kAUip) != 0);
    CHECK((f.readCmos(Rtc::kRegA) & 0x7F) == 0x26);
    f.writeCmos(Rtc::kRegB, Rtc::kB24Hour | Rtc::kBSet);
    CHECK((f.readCmos(Rtc::kRegA) & Rtc::kAUip) == 0);
}

TEST_CASE("RTC SET mode sets the guest time and reports the offset") {
    Fixture f;
    f.writeCmos(Rtc::kRegB, Rtc::kB24Hour | Rtc::kBSet);
    f.clock.advance(3 * kNsPerSecond); // the latched registers do not move
    CHECK(f.readCmos(Rtc::kSeconds) == 0x56);
    f.writeCmos(Rtc::kSeconds, 0x00);
    f.writeCmos(Rtc::kMinutes, 0x00);
    f.writeCmos(Rtc::kHours, 0x00);
    f.writeCmos(Rtc::kDayOfMonth, 0x01);
    f.writeCmos(Rtc::kMonth, 0x01);
    f.writeCmos(Rtc::kYear, 0x30);
    CHECK(f.offsets.empty());
    f.writeCmos(Rtc::kRegB, Rtc::kB24Hour);
    REQUIRE(f.offsets.size() == 1);
    CHECK(f.offsets[0] == kNewYear2030 - kLeapDay);
    CHECK(f.rtc.offsetSeconds() == kNewYear2030 - kLeapDay);
    // Time spent in SET mode counts, as in Xen.
    CHECK(f.readCmos(Rtc::kSeconds) == 0x03);
    CHECK(f.readCmos(Rtc::kYear) == 0x30);
    CHECK(f.readCmos(Rtc::kDayOfWeek) == 2); // a Tuesday
    f.clock.advance(10 * kNsPerSecond);
    CHECK(f.readCmos(Rtc::kSeconds) == 0x13);
}

TEST_CASE("RTC write of one field outside SET mode moves the time at once") {
    Fixture f;
    f.writeCmos(Rtc::kMinutes, 0x00);
    REQUIRE(f.offsets.size() == 1);
    CHECK(f.offsets[0] == -45 * 60);
    CHECK(f.readCmos(Rtc::kMinutes) == 0x00);
    CHECK(f.readCmos(Rtc::kHours) == 0x13);
    // Rewriting the same value is no change, and Xen sends no zero offset.
    f.writeCmos(Rtc::kHours, 0x13);
    CHECK(f.offsets.size() == 1);
}

TEST_CASE("RTC update-ended interrupt fires at the second boundary") {
    Fixture f;
    f.clock.advance(kNsPerSecond / 2);
    f.readCmos(Rtc::kRegC); // drop the flag of any boundary before
    f.writeCmos(Rtc::kRegB, Rtc::kB24Hour | Rtc::kBUie);
    auto deadline = f.rtc.runTimers();
    REQUIRE(deadline);
    CHECK(*deadline == f.clock.mono + kNsPerSecond / 2);
    CHECK(f.irq.empty());

    f.clock.mono = *deadline;
    f.clock.real += kNsPerSecond / 2;
    CHECK_FALSE(f.rtc.runTimers()); // UF pending: no deadline until C is read
    CHECK(f.irq == std::vector<bool>{false, true});
    CHECK(f.readCmos(Rtc::kRegC) == (Rtc::kCIrqf | Rtc::kCUf));
    CHECK(f.irq.back() == false); // reading C lowers IRQ 8
    CHECK(f.readCmos(Rtc::kRegC) == 0);
    CHECK(f.rtc.runTimers());
}

TEST_CASE("RTC flags are set without their enables, and fire when enabled") {
    Fixture f;
    f.clock.advance(kNsPerSecond);
    CHECK_FALSE(f.rtc.runTimers()); // nothing enabled: no deadline
    CHECK(f.irq.empty());
    f.writeCmos(Rtc::kRegB, Rtc::kB24Hour | Rtc::kBUie);
    CHECK(f.irq == std::vector<bool>{false, true});
    CHECK(f.readCmos(Rtc::kRegC) == (Rtc::kCIrqf | Rtc::kCUf));
}

TEST_CASE("RTC periodic interrupt rate follows register A") {
    Fixture f;
    f.writeCmos(Rtc::kRegB, Rtc::kB24Hour | Rtc::kBPie);
    uint64_t start = f.clock.mono;
    // 0x26: 32.768 kHz base, rate 6 = 1024 Hz.
    constexpr uint64_t kPeriod1024Hz = 976563;
    auto deadline = f.rtc.runTimers();
    REQUIRE(deadline);
    CHECK(*deadline == start + kPeriod1024Hz);
    f.clock.mono = *deadline;
    CHECK(f.rtc.runTimers() == start + 2 * kPeriod1024Hz);
    CHECK(f.irq == std::vector<bool>{false, true});
    // No ack mode: the next tick pulses again even with C unread.
    f.clock.mono = start + 2 * kPeriod1024Hz;
    f.rtc.runTimers();
    CHECK(f.irq == std::vector<bool>{false, true, false, true});
    CHECK((f.readCmos(Rtc::kRegC) & (Rtc::kCIrqf | Rtc::kCPf)) == (Rtc::kCIrqf | Rtc::kCPf));

    f.writeCmos(Rtc::kRegA, Rtc::kADiv32kHz | 0x0F); // 2 Hz
    deadline = f.rtc.runTimers();
    REQUIRE(deadline);
    CHECK(*deadline == start + kNsPerSecond / 2);
    f.writeCmos(Rtc::kRegA, Rtc::kADiv32kHz | 0x01); // rate 1 means rate 8 here: 256 Hz
    CHECK(f.rtc.runTimers() == start + 3906250);
    f.writeCmos(Rtc::kRegA, 0x60 | 0x06); // divider chain in reset: no ticks
    CHECK_FALSE(f.rtc.runTimers());
}

TEST_CASE("RTC periodic flag is counted lazily while PIE is clear") {
    Fixture f;
    f.writeCmos(Rtc::kRegA, Rtc::kADiv32kHz | 0x0F); // 2 Hz
    CHECK(f.readCmos(Rtc::kRegC) == 0);
    f.clock.mono += kNsPerSecond / 4;
    CHECK((f.readCmos(Rtc::kRegC) & Rtc::kCPf) == 0);
    f.clock.mono += kNsPerSecond / 2;
    CHECK((f.readCmos(Rtc::kRegC) & Rtc::kCPf) == Rtc::kCPf);
    CHECK(f.irq.empty());
}

TEST_CASE("RTC alarm fires at the matching second, with don't-care fields") {
    Fixture f;
    // Alarm at 13:46:10, 14 s ahead.
    f.writeCmos(Rtc::kHoursAlarm, 0x13);
    f.writeCmos(Rtc::kMinutesAlarm, 0x46);
    f.writeCmos(Rtc::kSecondsAlarm, 0x10);
    f.readCmos(Rtc::kRegC);
    f.writeCmos(Rtc::kRegB, Rtc::kB24Hour | Rtc::kBAie);
    auto deadline = f.rtc.runTimers();
    REQUIRE(deadline);
    CHECK(*deadline == f.clock.mono + 14 * kNsPerSecond);
    f.clock.advance(13 * kNsPerSecond);
    f.rtc.runTimers();
    CHECK(f.irq.empty());
    CHECK((f.readCmos(Rtc::kRegC) & Rtc::kCAf) == 0);
    f.clock.advance(kNsPerSecond);
    f.rtc.runTimers();
    CHECK(f.irq == std::vector<bool>{false, true});
    CHECK(f.readCmos(Rtc::kRegC) == (Rtc::kCIrqf | Rtc::kCAf | Rtc::kCUf));
    // The next match is a day later.
    deadline = f.rtc.runTimers();
    REQUIRE(deadline);
    CHECK(*deadline == f.clock.mono + 86400ull * kNsPerSecond);

    // Every field "don't care": every second.
    f.writeCmos(Rtc::kHoursAlarm, 0xC0);
    f.writeCmos(Rtc::kMinutesAlarm, 0xFF);
    f.writeCmos(Rtc::kSecondsAlarm, 0xC0);
    CHECK(f.rtc.runTimers() == f.clock.mono + kNsPerSecond);
    // Only seconds given: within the minute.
    f.writeCmos(Rtc::kSecondsAlarm, 0x30);
    CHECK(f.rtc.runTimers() == f.clock.mono + 20 * kNsPerSecond);
}

TEST_CASE("RTC registers C and D are read-only; the rest is 128 bytes of CMOS") {
    Fixture f;
    f.writeCmos(Rtc::kRegC, 0xFF);
    f.writeCmos(Rtc::kRegD, 0x00);
    CHECK(f.readCmos(Rtc::kRegC) == 0);
    CHECK(f.readCmos(Rtc::kRegD) == Rtc::kDVrt);
    f.writeCmos(0x40, 0xA5);
    f.writeCmos(0x7F, 0x5A);
    CHECK(f.readCmos(0x40) == 0xA5);
    CHECK(f.readCmos(0x7F) == 0x5A);
    // Bit 7 of the index is the NMI mask, not part of the address.
    CHECK(f.readCmos(0x80 | 0x40) == 0xA5);
}

TEST_CASE("RTC accesses wider than a byte read all ones and write nothing") {
    Fixture f;
    f.writeCmos(0x40, 0x11);
    uint8_t index = 0x40;
    f.rtc.write(0, {&index, 1});
    uint8_t word[2] = {0x22, 0x33};
    f.rtc.write(1, word);
    f.rtc.read(0, word);
    CHECK(word[0] == 0xFF);
    CHECK(word[1] == 0xFF);
    CHECK(f.readCmos(0x40) == 0x11);
}

TEST_CASE("RTC survives garbage time registers") {
    Fixture f;
    f.writeCmos(Rtc::kRegB, Rtc::kB24Hour | Rtc::kBSet);
    for (uint8_t index :
         {Rtc::kSeconds, Rtc::kMinutes, Rtc::kHours, Rtc::kDayOfMonth, Rtc::kMonth, Rtc::kYear})
        f.writeCmos(index, 0xFF);
    f.writeCmos(Rtc::kRegB, Rtc::kB24Hour | Rtc::kBAie | Rtc::kBUie);
    REQUIRE(f.offsets.size() == 1);
    f.writeCmos(Rtc::kHoursAlarm, 0xFF & ~0x40);
    f.writeCmos(Rtc::kSecondsAlarm, 0x99);
    f.rtc.runTimers();
    uint8_t seconds = f.readCmos(Rtc::kSeconds);
    CHECK((seconds >> 4) <= 5);
    CHECK((seconds & 0x0F) <= 9);
}
