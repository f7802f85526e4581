#pragma once
// The ACPI PM1a event and control blocks and the PM timer, at the addresses
// hvmloader's FADT gives for Xen 4.17 (tools/libacpi/static_tables.c, V1
// locations; hvmloader switches HVM_PARAM_ACPI_IOPORTS_LOCATION to 1 before
// any OS runs, so the V0 block at 0x1F40 is not served).
//
// Under Xen, the hypervisor owns PM1a_EVT and PM_TMR (xen/arch/x86/hvm/
// pmtimer.c) and QEMU's PIIX4 PM device owns PM1a_CNT. Basalt's core owns all
// three: QEMU still maps 0xB000-0xB03F to its ioreq server when hvmloader sets
// PIIX4's PMBASE, but the core's IoBus is consulted first, so these ten bytes
// never reach it. Port 0xB2 (SMI_CMD) and GPE0 at 0xAFE0 stay QEMU's.
//
// Worked example: the PM timer counts at 3.579545 MHz from 0; when bit 31
// flips (every ~600 s) PM1a_STS.TMR_STS is set; if PM1a_EN.TMR_EN is set, SCI
// (GSI 9, the FADT's SCI_INT) is raised and stays up until the guest writes 1
// to TMR_STS. The OS powers off by writing SLP_TYP=0 (\_S5 in hvmloader's
// DSDT) | SLP_EN to PM1a_CNT: the domain stops with the poweroff status.

#include "base/result.h"
#include "vmm/devices/rtc_clock.h"
#include "vmm/io_bus.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace basalt {

class AcpiPm : public std::enable_shared_from_this<AcpiPm> {
public:
    static constexpr uint16_t kEventBlock = 0xB000; // PM1a_STS (2 bytes), PM1a_EN (2)
    static constexpr uint16_t kEventBlockBytes = 4;
    static constexpr uint16_t kControlBlock = 0xB004; // PM1a_CNT
    static constexpr uint16_t kControlBlockBytes = 2;
    static constexpr uint16_t kTimerBlock = 0xB008; // PM_TMR, 32-bit (FADT TMR_VAL_EXT)
    static constexpr uint16_t kTimerBlockBytes = 4;
    static constexpr uint32_t kSciGsi = 9;
    static constexpr uint64_t kTimerHz = 3579545;

    // PM1a_STS / PM1a_EN bits.
    static constexpr uint16_t kTmrSts = 1u << 0, kGblSts = 1u << 5, kPwrBtnSts = 1u << 8,
                              kSlpBtnSts = 1u << 9, kWakSts = 1u << 15;
    static constexpr uint16_t kTmrEn = 1u << 0;
    // PM1a_CNT bits.
    static constexpr uint16_t kSciEn = 1u << 0, kSlpTypShift = 10, kSlpTypMask = 7u << 10,
                              kSlpEn = 1u << 13;
    // SLP_TYP values of hvmloader's DSDT/SSDTs: \_S5 and \_S4 are 0, \_S3 is 1.
    static constexpr uint16_t kSlpTypSoftOff = 0, kSlpTypS3 = 1;

    struct Config {
        const DeviceClock* clock = nullptr;
        std::function<void(bool level)> setSci;
        std::function<void()> powerOff; // S5 requested
    };

    explicit AcpiPm(Config config);
    ~AcpiPm();

    // Claims the three blocks on the bus; the AcpiPm must be owned by a shared_ptr.
    Status attach(IoBus& bus);

    // Sets TMR_STS for a bit-31 flip since the last look; returns the time of
    // the next flip when TMR_EN wants an SCI for it.
    std::optional<uint64_t> runTimers();
    void startTimerThread();

    // The register blocks; offsets are relative to each block's base.
    void readEvent(uint64_t offset, std::span<uint8_t> data);
    void writeEvent(uint64_t offset, std::span<const uint8_t> data);
    void readControl(uint64_t offset, std::span<uint8_t> data);
    void writeControl(uint64_t offset, std::span<const uint8_t> data);
    void readTimer(uint64_t offset, std::span<uint8_t> data);
    void writeTimer(uint64_t offset, std::span<const uint8_t> data); // read-only: logged

private:
    uint64_t ticks() const; // since start, not wrapped
    void catchUp();
    void updateSci();
    void kick();

    Config config_;
    const DeviceClock& clock_;
    std::mutex mutex_;
    uint64_t startNs_;
    uint64_t lastTicks_ = 0;
    uint16_t status_ = 0;
    uint16_t enable_ = 0;
    uint16_t control_ = kSciEn;
    bool sciLevel_ = false;
    std::unique_ptr<DeadlineThread> timer_;
};

} // namespace basalt
