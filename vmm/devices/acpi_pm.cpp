#include "vmm/devices/acpi_pm.h"

#include "base/log.h"

#include <cstring>

namespace basalt {

BASALT_LOG_CATEGORY(AcpiPm, "acpi-pm");

namespace {

constexpr uint64_t kNsPerSecond = 1000000000;
constexpr uint32_t kTimerMsbShift = 31;
// Status bits that raise SCI when their enable bit is set (Xen's SCI_MASK).
constexpr uint16_t kSciSources =
    AcpiPm::kTmrSts | AcpiPm::kGblSts | AcpiPm::kPwrBtnSts | AcpiPm::kSlpBtnSts;
constexpr unsigned kBitsPerByte = 8;

uint64_t nsToTicks(uint64_t ns) {
    // Split so that the product cannot overflow over a long uptime.
    return ns / kNsPerSecond * AcpiPm::kTimerHz +
           ns % kNsPerSecond * AcpiPm::kTimerHz / kNsPerSecond;
}

// The first ns at which the counter has reached `ticks`.
uint64_t ticksToNs(uint64_t ticks) {
    uint64_t seconds = ticks / AcpiPm::kTimerHz;
    uint64_t rest = ticks % AcpiPm::kTimerHz;
    return seconds * kNsPerSecond + (rest * kNsPerSecond + AcpiPm::kTimerHz - 1) / AcpiPm::kTimerHz;
}

void fillOnes(std::span<uint8_t> data) {
    std::memset(data.data(), 0xFF, data.size());
}

// Reads `data.size()` bytes at byte `offset` of a little-endian register file.
void readBytes(uint32_t value, uint64_t offset, std::span<uint8_t> data) {
    for (size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<uint8_t>(value >> (kBitsPerByte * (offset + i)));
}

// The bus sees three devices (the blocks are not adjacent); each forwards to
// its pair of AcpiPm's register handlers.
class Block final : public BusDevice {
public:
    using Read = void (AcpiPm::*)(uint64_t, std::span<uint8_t>);
    using Write = void (AcpiPm::*)(uint64_t, std::span<const uint8_t>);
    Block(std::shared_ptr<AcpiPm> pm, Read read, Write write)
        : pm_(std::move(pm)), read_(read), write_(write) {}
    void read(uint64_t offset, std::span<uint8_t> data) override { ((*pm_).*read_)(offset, data); }
    void write(uint64_t offset, std::span<const uint8_t> data) override {
        ((*pm_).*write_)(offset, data);
    }

private:
    std::shared_ptr<AcpiPm> pm_;
    Read read_;
    Write write_;
};

} // namespace

void AcpiPm::writeTimer(uint64_t, std::span<const uint8_t>) {
    LOG_RATELIMITED(AcpiPm, Warn, "write to the read-only PM timer ignored");
}

AcpiPm::AcpiPm(Config config)
    : config_(std::move(config)), clock_(*config_.clock), startNs_(clock_.monotonicNs()) {}

AcpiPm::~AcpiPm() {
    timer_.reset();
}

Status AcpiPm::attach(IoBus& bus) {
    auto self = shared_from_this();
    BASALT_TRY(bus.add(AddressSpace::Pio, kEventBlock, kEventBlockBytes,
                       std::make_shared<Block>(self, &AcpiPm::readEvent, &AcpiPm::writeEvent),
                       "ACPI PM1a event block"));
    BASALT_TRY(bus.add(AddressSpace::Pio, kControlBlock, kControlBlockBytes,
                       std::make_shared<Block>(self, &AcpiPm::readControl, &AcpiPm::writeControl),
                       "ACPI PM1a control block"));
    BASALT_TRY(bus.add(AddressSpace::Pio, kTimerBlock, kTimerBlockBytes,
                       std::make_shared<Block>(self, &AcpiPm::readTimer, &AcpiPm::writeTimer),
                       "ACPI PM timer"));
    return {};
}

void AcpiPm::startTimerThread() {
    if (!timer_)
        timer_ = std::make_unique<DeadlineThread>(clock_, [this] { return runTimers(); });
}

void AcpiPm::kick() {
    if (timer_)
        timer_->kick();
}

uint64_t AcpiPm::ticks() const {
    uint64_t now = clock_.monotonicNs();
    return nsToTicks(now > startNs_ ? now - startNs_ : 0);
}

void AcpiPm::updateSci() {
    bool level = (status_ & enable_ & kSciSources) != 0;
    if (level == sciLevel_)
        return;
    sciLevel_ = level;
    config_.setSci(level);
}

// Xen's pmt_update_time: any change of the counter's bit 31 since the last
// look sets TMR_STS.
void AcpiPm::catchUp() {
    uint64_t now = ticks();
    if ((now >> kTimerMsbShift) != (lastTicks_ >> kTimerMsbShift))
        status_ |= kTmrSts;
    lastTicks_ = now;
    updateSci();
}

std::optional<uint64_t> AcpiPm::runTimers() {
    std::lock_guard lock(mutex_);
    catchUp();
    if (!(enable_ & kTmrEn))
        return std::nullopt;
    uint64_t nextFlip = ((lastTicks_ >> kTimerMsbShift) + 1) << kTimerMsbShift;
    return startNs_ + ticksToNs(nextFlip);
}

void AcpiPm::readEvent(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(mutex_);
    catchUp();
    readBytes(status_ | static_cast<uint32_t>(enable_) << 16, offset, data);
}

void AcpiPm::writeEvent(uint64_t offset, std::span<const uint8_t> data) {
    {
        std::lock_guard lock(mutex_);
        catchUp();
        // Byte by byte, as Xen: status bits are write-one-to-clear.
        for (size_t i = 0; i < data.size(); ++i) {
            uint16_t byte = data[i];
            switch (offset + i) {
            case 0:
                status_ &= ~byte;
                break;
            case 1:
                status_ &= ~(byte << kBitsPerByte);
                break;
            case 2:
                enable_ = (enable_ & 0xFF00) | byte;
                break;
            case 3:
                enable_ = (enable_ & 0x00FF) | (byte << kBitsPerByte);
                break;
            }
        }
        updateSci();
    }
    kick();
}

void AcpiPm::readControl(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(mutex_);
    readBytes(control_, offset, data);
}

void AcpiPm::writeControl(uint64_t offset, std::span<const uint8_t> data) {
    bool powerOff = false;
    {
        std::lock_guard lock(mutex_);
        uint16_t value = control_;
        for (size_t i = 0; i < data.size(); ++i) {
            unsigned shift = kBitsPerByte * (offset + i);
            value = (value & ~(0xFF << shift)) | (data[i] << shift);
        }
        // SLP_EN is write-only. SCI_EN stays set: there is no SMM and no
        // legacy mode to return to (hvmloader's acpi_enable_sci insists on it).
        control_ = (value & ~kSlpEn) | kSciEn;
        if (value & kSlpEn) {
            uint16_t type = (value & kSlpTypMask) >> kSlpTypShift;
            if (type == kSlpTypSoftOff) {
                powerOff = true;
            } else if (type == kSlpTypS3) {
                // No S3 here: the guest wakes at once, as if resumed, and goes on.
                LOG_RATELIMITED(AcpiPm, Warn, "guest asked for ACPI S3; refused (woken at once)");
                status_ |= kWakSts;
            } else {
                LOG_RATELIMITED(AcpiPm, Warn,
                                "guest asked for ACPI sleep type %u, which hvmloader's tables do "
                                "not define; ignored",
                                type);
            }
        }
    }
    if (powerOff) {
        LOG(AcpiPm, Info, "guest entered ACPI S5 through PM1a_CNT");
        config_.powerOff();
    }
}

void AcpiPm::readTimer(uint64_t offset, std::span<uint8_t> data) {
    if (offset != 0 || data.size() != kTimerBlockBytes) {
        LOG_RATELIMITED(AcpiPm, Warn, "PM timer read of %zu bytes at offset %llu: only dwords",
                        data.size(), static_cast<unsigned long long>(offset));
        fillOnes(data);
        return;
    }
    std::lock_guard lock(mutex_);
    catchUp();
    readBytes(static_cast<uint32_t>(lastTicks_), 0, data);
}

} // namespace basalt
