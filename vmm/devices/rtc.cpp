#include "vmm/devices/rtc.h"

#include "base/log.h"

#include <algorithm>
#include <cstring>

namespace basalt {

BASALT_LOG_CATEGORY(Rtc, "rtc");

namespace {

constexpr int64_t kNsPerSecond = 1000000000;
constexpr int64_t kSecondsPerMinute = 60;
constexpr int64_t kSecondsPerDay = 86400;
constexpr int64_t kMinutesPerDay = 1440;
constexpr int kHoursPerHalfDay = 12;
constexpr uint8_t kIndexMask = 0x7F; // bit 7 is the NMI mask, which Xen ignores too
constexpr uint8_t kHourPm = 0x80;    // 12-hour mode: bit 7 of the hour means PM
constexpr uint8_t kAlarmDontCare = 0xC0;
// UIP is set during the last 244 us of each second, when the chip copies the
// counters (Xen's update_in_progress).
constexpr int64_t kUpdateCycleNs = 244000;
constexpr uint32_t kRtcInputHz = 32768;
// With the 32.768 kHz time base, rates 1 and 2 mean rates 8 and 9 (datasheet).
constexpr uint8_t kSlowRateShift = 7;
constexpr int kRtcYearBase = 2000; // the year register holds the year within 2000-2099
constexpr uint8_t kRegisterADefault = Rtc::kADiv32kHz | 6; // 1024 Hz when enabled

int64_t floorDiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Days since 1970-01-01 of a proleptic Gregorian date; any month value is
// folded into the year first, so garbage from the guest stays arithmetic.
int64_t daysFromCivil(int64_t year, int64_t month, int64_t day) {
    year += floorDiv(month - 1, 12);
    month = month - 1 - floorDiv(month - 1, 12) * 12 + 1;
    // Count from March so that the leap day ends the year.
    if (month <= 2)
        year -= 1;
    int64_t era = floorDiv(year, 400);
    int64_t yearOfEra = year - era * 400;
    int64_t monthFromMarch = month > 2 ? month - 3 : month + 9;
    int64_t dayOfYear = (153 * monthFromMarch + 2) / 5 + day - 1;
    int64_t dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
    constexpr int64_t kDaysFrom0000To1970 = 719468;
    return era * 146097 + dayOfEra - kDaysFrom0000To1970;
}

struct CivilDate {
    int64_t year;
    int month; // 1..12
    int day;   // 1..31
};

CivilDate civilFromDays(int64_t days) {
    days += 719468;
    int64_t era = floorDiv(days, 146097);
    int64_t dayOfEra = days - era * 146097;
    int64_t yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365;
    int64_t dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
    int64_t monthFromMarch = (5 * dayOfYear + 2) / 153;
    int day = static_cast<int>(dayOfYear - (153 * monthFromMarch + 2) / 5 + 1);
    int month = static_cast<int>(monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9);
    int64_t year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
    return {year, month, day};
}

} // namespace

Rtc::Rtc(Config config)
    : config_(std::move(config)), clock_(*config_.clock),
      offsetSeconds_(config_.initialOffsetSeconds) {
    cmos_[kRegA] = kRegisterADefault;
    cmos_[kRegB] = kB24Hour;
    cmos_[kRegC] = 0;
    cmos_[kRegD] = kDVrt;
    startNs_ = clock_.monotonicNs();
    lastPfCheckNs_ = startNs_;
    copyDate(guestSecond());
    resyncSeconds();
}

Rtc::~Rtc() {
    timer_.reset(); // its thread calls runTimers()
}

void Rtc::startTimerThread() {
    if (!timer_)
        timer_ = std::make_unique<DeadlineThread>(clock_, [this] { return runTimers(); });
}

int64_t Rtc::offsetSeconds() const {
    std::lock_guard lock(mutex_);
    return offsetSeconds_;
}

int64_t Rtc::guestNs() const {
    return clock_.realtimeNs() + offsetSeconds_ * kNsPerSecond;
}

int64_t Rtc::guestSecond() const {
    return floorDiv(guestNs(), kNsPerSecond);
}

uint8_t Rtc::toBcd(int value) const {
    if (cmos_[kRegB] & kBBinary)
        return static_cast<uint8_t>(value);
    return static_cast<uint8_t>(((value / 10) << 4) | (value % 10));
}

int Rtc::fromBcd(uint8_t value) const {
    if (cmos_[kRegB] & kBBinary)
        return value;
    return (value >> 4) * 10 + (value & 0x0F);
}

// 0-23 from the hour register in the current mode (12-hour mode counts 1-12).
int Rtc::hourOf(uint8_t raw) const {
    int hour = fromBcd(raw & ~kHourPm);
    if (!(cmos_[kRegB] & kB24Hour)) {
        hour %= kHoursPerHalfDay;
        if (raw & kHourPm)
            hour += kHoursPerHalfDay;
    }
    return hour;
}

void Rtc::copyDate(int64_t seconds) {
    heldSeconds_ = seconds;
    int64_t days = floorDiv(seconds, kSecondsPerDay);
    int64_t tod = seconds - days * kSecondsPerDay;
    int hour = static_cast<int>(tod / 3600);
    CivilDate date = civilFromDays(days);
    cmos_[kSeconds] = toBcd(static_cast<int>(tod % kSecondsPerMinute));
    cmos_[kMinutes] = toBcd(static_cast<int>(tod / kSecondsPerMinute % 60));
    if (cmos_[kRegB] & kB24Hour) {
        cmos_[kHours] = toBcd(hour);
    } else {
        int twelve = hour % kHoursPerHalfDay ? hour % kHoursPerHalfDay : kHoursPerHalfDay;
        cmos_[kHours] = toBcd(twelve) | (hour >= kHoursPerHalfDay ? kHourPm : 0);
    }
    // 1970-01-01 was a Thursday; Xen stores 0 (Sunday) .. 6, as struct tm.
    constexpr int64_t kEpochWeekday = 4;
    cmos_[kDayOfWeek] =
        toBcd(static_cast<int>((days + kEpochWeekday) - floorDiv(days + kEpochWeekday, 7) * 7));
    cmos_[kDayOfMonth] = toBcd(date.day);
    cmos_[kMonth] = toBcd(date.month);
    int64_t yearInCentury = date.year - floorDiv(date.year, 100) * 100;
    cmos_[kYear] = toBcd(static_cast<int>(yearInCentury));
}

int64_t Rtc::registersToSeconds() const {
    int64_t days = daysFromCivil(kRtcYearBase + fromBcd(cmos_[kYear]), fromBcd(cmos_[kMonth]),
                                 fromBcd(cmos_[kDayOfMonth]));
    return days * kSecondsPerDay + hourOf(cmos_[kHours]) * 3600 +
           fromBcd(cmos_[kMinutes]) * kSecondsPerMinute + fromBcd(cmos_[kSeconds]);
}

// The guest's new time defines the domain's offset from host time (Xen's
// rtc_set_time): it moves by the difference from the time last latched.
void Rtc::setTimeFromRegisters() {
    int64_t after = registersToSeconds();
    int64_t delta = after - heldSeconds_;
    offsetSeconds_ += delta;
    pendingOffsetDelta_ += delta;
    heldSeconds_ = after;
    resyncSeconds();
}

// After a time change, flags count only boundaries from now on.
void Rtc::resyncSeconds() {
    lastUpdateSecond_ = guestSecond();
    lastAlarmSecond_ = lastUpdateSecond_;
}

bool Rtc::updateInProgress() const {
    if (cmos_[kRegB] & kBSet)
        return false;
    int64_t ns = guestNs();
    return ns - floorDiv(ns, kNsPerSecond) * kNsPerSecond >= kNsPerSecond - kUpdateCycleNs;
}

void Rtc::updatePeriod() {
    uint8_t rate = cmos_[kRegA] & kARateSelect;
    uint64_t period = 0;
    switch (cmos_[kRegA] & kADivCtl) {
    case kADiv32kHz:
        if (rate != 0 && rate <= 2)
            rate += kSlowRateShift;
        [[fallthrough]];
    case kADiv1MHz:
    case kADiv4MHz:
        if (rate != 0) {
            uint64_t cycles = 1ull << (rate - 1); // of the 32.768 kHz input
            period = (cycles * kNsPerSecond + kRtcInputHz / 2) / kRtcInputHz;
        }
        break;
    default: // divider chain held in reset
        break;
    }
    if (period != periodNs_) {
        periodNs_ = period;
        lastPfCheckNs_ = clock_.monotonicNs();
    }
}

void Rtc::pulseIrq() {
    config_.setIrq(false);
    config_.setIrq(true);
}

// Xen's rtc_update_irq in "no ack" mode: every raised and enabled source
// pulses IRQ 8, whether or not C was read since the last one.
void Rtc::raiseIrqIfEnabled() {
    if (!(cmos_[kRegB] & cmos_[kRegC] & (kCPf | kCAf | kCUf)))
        return;
    cmos_[kRegC] |= kCIrqf;
    pulseIrq();
}

// Smallest second after `second` whose time of day matches the alarm
// registers (0xC0-0xFF in a field matches anything), or none within a day.
std::optional<int64_t> Rtc::nextAlarmAfter(int64_t second) const {
    auto field = [](uint8_t raw, int value) {
        return (raw & kAlarmDontCare) == kAlarmDontCare ? -1 : value;
    };
    int alarmSecond = field(cmos_[kSecondsAlarm], fromBcd(cmos_[kSecondsAlarm]));
    int alarmMinute = field(cmos_[kMinutesAlarm], fromBcd(cmos_[kMinutesAlarm]));
    int alarmHour = field(cmos_[kHoursAlarm], hourOf(cmos_[kHoursAlarm]));
    if (alarmSecond >= kSecondsPerMinute)
        return std::nullopt;

    int64_t first = second + 1;
    int64_t minuteStart = floorDiv(first, kSecondsPerMinute) * kSecondsPerMinute;
    for (int64_t m = 0; m <= kMinutesPerDay; ++m, minuteStart += kSecondsPerMinute) {
        int64_t tod = minuteStart - floorDiv(minuteStart, kSecondsPerDay) * kSecondsPerDay;
        if (alarmHour >= 0 && tod / 3600 != alarmHour)
            continue;
        if (alarmMinute >= 0 && tod / kSecondsPerMinute % 60 != alarmMinute)
            continue;
        int64_t candidate =
            alarmSecond < 0 ? std::max(minuteStart, first) : minuteStart + alarmSecond;
        if (candidate >= first)
            return candidate;
    }
    return std::nullopt;
}

// Brings C up to date with the clock: periodic ticks (each delivered when
// B.PIE is set), the update-ended flag and the alarm.
void Rtc::catchUp() {
    uint64_t now = clock_.monotonicNs();
    if (periodNs_ && now >= lastPfCheckNs_) {
        if ((now - startNs_) / periodNs_ != (lastPfCheckNs_ - startNs_) / periodNs_) {
            cmos_[kRegC] |= kCPf;
            if (cmos_[kRegB] & kBPie) {
                cmos_[kRegC] |= kCIrqf;
                pulseIrq();
            }
        }
        lastPfCheckNs_ = now;
    }
    if (cmos_[kRegB] & kBSet)
        return; // the clock does not update while it is being set
    int64_t second = guestSecond();
    if (second != lastUpdateSecond_) {
        bool alarm = false;
        if (auto next = nextAlarmAfter(lastAlarmSecond_); next && *next <= second)
            alarm = true;
        lastUpdateSecond_ = second;
        lastAlarmSecond_ = second;
        uint8_t before = cmos_[kRegC];
        cmos_[kRegC] |= kCUf | (alarm ? kCAf : 0);
        if (cmos_[kRegC] != before)
            raiseIrqIfEnabled();
    }
}

std::optional<uint64_t> Rtc::runTimers() {
    std::optional<uint64_t> deadline;
    {
        std::lock_guard lock(mutex_);
        catchUp();
        uint64_t now = clock_.monotonicNs();
        auto consider = [&](uint64_t at) { deadline = deadline ? std::min(*deadline, at) : at; };
        if (periodNs_ && (cmos_[kRegB] & kBPie))
            consider(startNs_ + ((now - startNs_) / periodNs_ + 1) * periodNs_);
        if (!(cmos_[kRegB] & kBSet)) {
            int64_t ns = guestNs();
            int64_t second = floorDiv(ns, kNsPerSecond);
            uint64_t nextSecondAt = now + static_cast<uint64_t>((second + 1) * kNsPerSecond - ns);
            if ((cmos_[kRegB] & kBUie) && !(cmos_[kRegC] & kCUf))
                consider(nextSecondAt);
            if ((cmos_[kRegB] & kBAie) && !(cmos_[kRegC] & kCAf))
                if (auto next = nextAlarmAfter(second))
                    consider(nextSecondAt +
                             static_cast<uint64_t>(*next - second - 1) * kNsPerSecond);
        }
    }
    flushTimeOffset();
    return deadline;
}

void Rtc::kick() {
    if (timer_)
        timer_->kick();
}

void Rtc::flushTimeOffset() {
    int64_t delta;
    {
        std::lock_guard lock(mutex_);
        delta = pendingOffsetDelta_;
        pendingOffsetDelta_ = 0;
    }
    // Xen sends no zero offset either.
    if (delta != 0 && config_.timeOffset)
        config_.timeOffset(delta);
}

void Rtc::readData(uint8_t& value) {
    switch (index_) {
    case kSeconds:
    case kMinutes:
    case kHours:
    case kDayOfWeek:
    case kDayOfMonth:
    case kMonth:
    case kYear:
        if (!(cmos_[kRegB] & kBSet))
            copyDate(guestSecond());
        value = cmos_[index_];
        break;
    case kRegA:
        value = cmos_[kRegA] | (updateInProgress() ? kAUip : 0);
        break;
    case kRegC:
        value = cmos_[kRegC]; // read to clear
        cmos_[kRegC] = 0;
        if (value & kCIrqf)
            config_.setIrq(false);
        break;
    default:
        value = cmos_[index_];
        break;
    }
}

void Rtc::writeData(uint8_t value) {
    uint8_t orig = cmos_[index_];
    switch (index_) {
    case kSecondsAlarm:
    case kMinutesAlarm:
    case kHoursAlarm:
        cmos_[index_] = value;
        lastAlarmSecond_ = guestSecond(); // the next match is strictly ahead
        break;
    case kSeconds:
    case kMinutes:
    case kHours:
    case kDayOfWeek:
    case kDayOfMonth:
    case kMonth:
    case kYear:
        if (cmos_[kRegB] & kBSet) {
            cmos_[index_] = value; // takes effect when SET is cleared
        } else {
            // Only this field changes; the others are the current time.
            copyDate(guestSecond());
            cmos_[index_] = value;
            setTimeFromRegisters();
        }
        break;
    case kRegA:
        cmos_[kRegA] = value & ~kAUip; // UIP is read-only (computed on read)
        if ((value ^ orig) & ~kAUip)
            updatePeriod();
        break;
    case kRegB:
        if (value & kBSet) {
            if (!(orig & kBSet))
                copyDate(guestSecond()); // latch the time the guest will edit
        } else if (orig & kBSet) {
            setTimeFromRegisters(); // in the mode they were written in, as Xen
        }
        cmos_[kRegB] = value;
        // A flag raised before its enable fires as soon as it is enabled.
        raiseIrqIfEnabled();
        if ((value ^ orig) & kBPie) {
            periodNs_ = 0; // restart the periodic timer from register A
            updatePeriod();
        }
        break;
    case kRegC:
    case kRegD:
        break; // read-only
    default:
        cmos_[index_] = value;
        break;
    }
}

bool Rtc::belongsToDeviceModel(uint64_t offset, bool isWrite, uint8_t value) const {
    if (offset == 0)
        return isWrite && (value & kIndexMask) >= kCoreCmosRegisters;
    std::lock_guard lock(mutex_);
    return index_ >= kCoreCmosRegisters;
}

void Rtc::read(uint64_t offset, std::span<uint8_t> data) {
    if (data.size() != 1) {
        LOG_RATELIMITED(Rtc, Warn, "RTC read of %zu bytes at port %#llx: only bytes", data.size(),
                        static_cast<unsigned long long>(kBasePort + offset));
        std::memset(data.data(), 0xFF, data.size());
        return;
    }
    if (offset == 0) {
        data[0] = 0xFF; // the index register is write-only
        return;
    }
    bool readC;
    {
        std::lock_guard lock(mutex_);
        catchUp();
        readData(data[0]);
        readC = index_ == kRegC;
    }
    if (readC)
        kick(); // C.UF/AF cleared: the next update or alarm needs a deadline
}

void Rtc::write(uint64_t offset, std::span<const uint8_t> data) {
    if (data.size() != 1) {
        LOG_RATELIMITED(Rtc, Warn, "RTC write of %zu bytes at port %#llx ignored: only bytes",
                        data.size(), static_cast<unsigned long long>(kBasePort + offset));
        return;
    }
    {
        std::lock_guard lock(mutex_);
        if (offset == 0) {
            index_ = data[0] & kIndexMask;
            return;
        }
        catchUp();
        writeData(data[0]);
    }
    flushTimeOffset();
    kick();
}

} // namespace basalt
