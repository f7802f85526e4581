#pragma once
// The MC146818 RTC and CMOS at ports 0x70-0x71, as Xen emulates it in the
// hypervisor (xen/arch/x86/hvm/rtc.c): guest time is the host's wall clock
// plus a per-domain offset the guest moves by setting the clock; periodic,
// alarm and update-ended interrupts go to ISA IRQ 8.
//
// Flags are evaluated lazily from the clock on every access and by the timer
// thread at the deadlines only an enabled interrupt needs. Worked example
// (BCD, 24 h, guest time 12:00:59.5, register B = UIE):
//   - runTimers() returns a deadline 0.5 s away (the next second boundary);
//   - at 12:01:00 it sets C.UF, and since B.UIE is set, C.IRQF, and pulses
//     IRQ 8 (deassert, assert: Xen's "no ack" mode, as hvmloader's WAET says);
//     no further deadline while C.UF is pending;
//   - the guest reads C (0x90), which clears it and lowers IRQ 8; the next
//     update deadline is 12:01:01.
// Setting the clock: the guest sets B.SET, writes the time registers, clears
// B.SET; the offset moves by (new time - time when SET was set), and the
// time-offset callback gets that delta (Xen's IOREQ_TYPE_TIMEOFFSET).

#include "vmm/devices/rtc_clock.h"
#include "vmm/io_bus.h"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace basalt {

class Rtc final : public BusDevice {
public:
    static constexpr uint16_t kBasePort = 0x70;
    static constexpr uint16_t kPortCount = 2;
    static constexpr uint32_t kIsaIrq = 8;
    static constexpr size_t kCmosBytes = 128;

    // CMOS register indexes and bits (MC146818 datasheet names).
    static constexpr uint8_t kSeconds = 0x00, kSecondsAlarm = 0x01, kMinutes = 0x02,
                             kMinutesAlarm = 0x03, kHours = 0x04, kHoursAlarm = 0x05,
                             kDayOfWeek = 0x06, kDayOfMonth = 0x07, kMonth = 0x08, kYear = 0x09,
                             kRegA = 0x0A, kRegB = 0x0B, kRegC = 0x0C, kRegD = 0x0D;
    static constexpr uint8_t kAUip = 0x80, kADivCtl = 0x70, kARateSelect = 0x0F;
    static constexpr uint8_t kADiv4MHz = 0x00, kADiv1MHz = 0x10, kADiv32kHz = 0x20;
    static constexpr uint8_t kBSet = 0x80, kBPie = 0x40, kBAie = 0x20, kBUie = 0x10,
                             kBBinary = 0x04, kB24Hour = 0x02;
    static constexpr uint8_t kCIrqf = 0x80, kCPf = 0x40, kCAf = 0x20, kCUf = 0x10;
    static constexpr uint8_t kDVrt = 0x80;

    struct Config {
        const DeviceClock* clock = nullptr;
        std::function<void(bool level)> setIrq;               // ISA IRQ 8
        std::function<void(int64_t deltaSeconds)> timeOffset; // the guest set the clock
        int64_t initialOffsetSeconds = 0;                     // guest time - host UTC
    };

    explicit Rtc(Config config);
    ~Rtc() override;

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    // Runs what is due (periodic ticks, update-ended, alarm) and returns the
    // next monotonic deadline an enabled interrupt needs.
    std::optional<uint64_t> runTimers();
    // Production: a DeadlineThread calls runTimers(). Tests step the clock
    // and call runTimers() themselves.
    void startTimerThread();

    // Guest time minus host UTC, in seconds.
    int64_t offsetSeconds() const;

    // Xen's vRTC owns CMOS registers 0-13 only (RTC_CMOS_SIZE in Xen's
    // rtc.c); the rest of the CMOS (boot order, disk and memory sizes) is the
    // device model's. True when this one-byte access must go to the device
    // model: an index write of 14 or more (latched here too, as Xen does),
    // and any data-port access while such an index is selected.
    static constexpr uint8_t kCoreCmosRegisters = 14;
    bool belongsToDeviceModel(uint64_t offset, bool isWrite, uint8_t value) const;

private:
    int64_t guestNs() const;
    int64_t guestSecond() const;
    void copyDate(int64_t seconds);
    int64_t registersToSeconds() const;
    void setTimeFromRegisters();
    uint8_t toBcd(int value) const;
    int fromBcd(uint8_t value) const;
    int hourOf(uint8_t raw) const;
    bool updateInProgress() const;
    void updatePeriod();
    void catchUp();
    void raiseIrqIfEnabled();
    void pulseIrq();
    std::optional<int64_t> nextAlarmAfter(int64_t second) const;
    void readData(uint8_t& value);
    void writeData(uint8_t value);
    void resyncSeconds();
    void kick();
    void flushTimeOffset();

    Config config_;
    const DeviceClock& clock_;
    mutable std::mutex mutex_;
    std::array<uint8_t, kCmosBytes> cmos_{};
    uint8_t index_ = 0;
    int64_t offsetSeconds_;
    int64_t heldSeconds_ = 0;    // the time last copied into the registers
    uint64_t startNs_ = 0;       // phase origin of the periodic ticks
    uint64_t periodNs_ = 0;      // 0: no periodic ticks
    uint64_t lastPfCheckNs_ = 0; // periodic ticks before this are accounted
    int64_t lastUpdateSecond_ = 0;
    int64_t lastAlarmSecond_ = 0;
    int64_t pendingOffsetDelta_ = 0; // reported outside the lock
    std::unique_ptr<DeadlineThread> timer_;
};

} // namespace basalt
