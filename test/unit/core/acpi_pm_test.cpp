#include "vmm/devices/acpi_pm.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

using namespace basalt;

namespace {

constexpr uint64_t kNsPerSecond = 1000000000;

class FakeClock : public DeviceClock {
public:
    uint64_t monotonicNs() const override { return mono; }
    int64_t realtimeNs() const override { return 0; }
    uint64_t mono = 7 * kNsPerSecond;
};

struct Fixture {
    FakeClock clock;
    std::vector<bool> sci;
    int powerOffs = 0;
    std::shared_ptr<AcpiPm> pm = std::make_shared<AcpiPm>(AcpiPm::Config{
        &clock, [this](bool level) { sci.push_back(level); }, [this] { ++powerOffs; }});
    IoBus bus;

    Fixture() { REQUIRE(pm->attach(bus).ok()); }
    uint32_t in(uint16_t port, size_t size) {
        uint32_t value = 0;
        bus.read(AddressSpace::Pio, port, {reinterpret_cast<uint8_t*>(&value), size});
        return value;
    }
    void out(uint16_t port, uint32_t value, size_t size) {
        bus.write(AddressSpace::Pio, port, {reinterpret_cast<uint8_t*>(&value), size});
    }
};

uint64_t flipNs() {
    // The first ns at which floor(ns * 3579545 / 1e9) reaches 2^31.
    uint64_t ticks = 1ull << 31;
    return ticks / AcpiPm::kTimerHz * kNsPerSecond +
           ((ticks % AcpiPm::kTimerHz) * kNsPerSecond + AcpiPm::kTimerHz - 1) / AcpiPm::kTimerHz;
}

} // namespace

TEST_CASE("ACPI PM blocks sit where hvmloader's FADT puts them") {
    Fixture f;
    CHECK(f.bus.claimant(AddressSpace::Pio, 0xB000) == "ACPI PM1a event block");
    CHECK(f.bus.claimant(AddressSpace::Pio, 0xB003) == "ACPI PM1a event block");
    CHECK(f.bus.claimant(AddressSpace::Pio, 0xB004) == "ACPI PM1a control block");
    CHECK(f.bus.claimant(AddressSpace::Pio, 0xB006).empty());
    CHECK(f.bus.claimant(AddressSpace::Pio, 0xB008) == "ACPI PM timer");
    CHECK(f.bus.claimant(AddressSpace::Pio, 0xB00C).empty());
}

TEST_CASE("ACPI PM timer counts at 3.579545 MHz and wraps at 32 bits") {
    Fixture f;
    CHECK(f.in(0xB008, 4) == 0);
    f.clock.mono += kNsPerSecond;
    CHECK(f.in(0xB008, 4) == AcpiPm::kTimerHz);
    f.clock.mono += kNsPerSecond / 2;
    CHECK(f.in(0xB008, 4) == AcpiPm::kTimerHz * 3 / 2);
    // Narrow reads are not a PM timer access (Xen: all ones).
    CHECK(f.in(0xB008, 2) == 0xFFFF);
    // 2^32 ticks later it reads the same.
    uint32_t before = f.in(0xB008, 4);
    f.clock.mono += 2 * flipNs();
    uint32_t after = f.in(0xB008, 4);
    CHECK(static_cast<uint32_t>(after - before) < 2);
}

TEST_CASE("ACPI PM TMR_STS is set on a bit-31 flip and raises SCI when enabled") {
    Fixture f;
    CHECK(flipNs() > 599 * kNsPerSecond);
    CHECK(flipNs() < 600 * kNsPerSecond);
    CHECK_FALSE(f.pm->runTimers()); // TMR_EN clear: no deadline
    f.out(0xB002, AcpiPm::kTmrEn, 2);
    uint64_t start = f.clock.mono;
    auto deadline = f.pm->runTimers();
    REQUIRE(deadline);
    CHECK(*deadline == start + flipNs());

    f.clock.mono = *deadline - 1;
    f.pm->runTimers();
    CHECK((f.in(0xB000, 2) & AcpiPm::kTmrSts) == 0);
    CHECK(f.sci.empty());
    f.clock.mono = *deadline;
    f.pm->runTimers();
    CHECK(f.in(0xB008, 4) == 0x80000000u);
    CHECK(f.sci == std::vector<bool>{true});
    // PM1a_STS in the low half, PM1a_EN in the high half of a dword read.
    CHECK(f.in(0xB000, 4) == (AcpiPm::kTmrSts | (uint32_t{AcpiPm::kTmrEn} << 16)));

    // Writing 0 clears nothing; writing 1 clears the status and lowers SCI.
    f.out(0xB000, 0, 2);
    CHECK(f.in(0xB000, 2) == AcpiPm::kTmrSts);
    f.out(0xB000, AcpiPm::kTmrSts, 2);
    CHECK(f.in(0xB000, 2) == 0);
    CHECK(f.sci == std::vector<bool>{true, false});
    // The next flip (bit 31 back to 0) is 2^31 ticks on.
    deadline = f.pm->runTimers();
    REQUIRE(deadline);
    CHECK(*deadline > start + 2 * flipNs() - 2);
    CHECK(*deadline <= start + 2 * flipNs());
}

TEST_CASE("ACPI PM status without its enable raises no SCI until enabled") {
    Fixture f;
    f.clock.mono += flipNs();
    CHECK(f.in(0xB000, 2) == AcpiPm::kTmrSts);
    CHECK(f.sci.empty());
    f.out(0xB002, AcpiPm::kTmrEn, 1); // byte write of PM1a_EN
    CHECK(f.sci == std::vector<bool>{true});
    f.out(0xB002, 0, 2);
    CHECK(f.sci == std::vector<bool>{true, false});
}

TEST_CASE("ACPI PM1a_CNT: SCI_EN is set, S5 powers off, S3 is refused") {
    Fixture f;
    CHECK(f.in(0xB004, 2) == AcpiPm::kSciEn); // hvmloader insists on SCI_EN
    // Sleep type without SLP_EN: just stored.
    f.out(0xB004, AcpiPm::kSciEn | (5 << AcpiPm::kSlpTypShift), 2);
    CHECK(f.in(0xB004, 2) == (AcpiPm::kSciEn | (5 << AcpiPm::kSlpTypShift)));
    CHECK(f.powerOffs == 0);

    // An undefined sleep type is ignored.
    f.out(0xB004, AcpiPm::kSciEn | (5 << AcpiPm::kSlpTypShift) | AcpiPm::kSlpEn, 2);
    CHECK(f.powerOffs == 0);
    CHECK((f.in(0xB004, 2) & AcpiPm::kSlpEn) == 0); // SLP_EN is write-only

    // S3: refused, the guest is woken at once.
    f.out(0xB004, AcpiPm::kSciEn | (AcpiPm::kSlpTypS3 << AcpiPm::kSlpTypShift) | AcpiPm::kSlpEn, 2);
    CHECK(f.powerOffs == 0);
    CHECK((f.in(0xB000, 2) & AcpiPm::kWakSts) != 0);
    f.out(0xB000, AcpiPm::kWakSts, 2);
    CHECK(f.in(0xB000, 2) == 0);

    // S5 (\_S5 is SLP_TYP 0), written as the high byte alone.
    f.out(0xB005, AcpiPm::kSlpEn >> 8, 1);
    CHECK(f.powerOffs == 1);
}
