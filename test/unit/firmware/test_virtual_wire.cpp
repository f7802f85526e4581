#include "vmm/virtual_wire.h"

#include <catch2/catch.hpp>

using namespace basalt;

namespace {

constexpr uint64_t kPinExtInt = 0x700;         // delivery mode ExtINT, unmasked
constexpr uint64_t kPinExtIntMasked = 0x10700; // ... masked
constexpr uint64_t kPinFixed = 0x30;           // fixed vector 0x30
constexpr uint32_t kLvt0Masked = 0x10700;      // what hvmloader writes
constexpr uint32_t kLvt0ExtInt = 0x700;        // what KVM needs to take PIC interrupts
constexpr uint32_t kLvt0GuestFixed = 0x10000;  // a guest's own masked value

} // namespace

TEST_CASE("virtual wire: hvmloader's routing unmasks LVT0 for the PIC", "[virtual_wire]") {
    auto step = VirtualWire::decide(kPinExtInt, kLvt0Masked, std::nullopt);
    REQUIRE(step.writeLvt0);
    CHECK(*step.writeLvt0 == kLvt0ExtInt);
    REQUIRE(step.saved);
    CHECK(*step.saved == kLvt0Masked);

    // Nothing more to do while it lasts.
    auto again = VirtualWire::decide(kPinExtInt, kLvt0ExtInt, step.saved);
    CHECK_FALSE(again.writeLvt0);
    CHECK(again.saved == step.saved);
}

TEST_CASE("virtual wire: masking pin 0 gives LVT0 back to the guest", "[virtual_wire]") {
    for (uint64_t pin : {kPinExtIntMasked, kPinFixed}) {
        auto step = VirtualWire::decide(pin, kLvt0ExtInt, kLvt0Masked);
        REQUIRE(step.writeLvt0);
        CHECK(*step.writeLvt0 == kLvt0Masked);
        CHECK_FALSE(step.saved);
    }
}

TEST_CASE("virtual wire: a guest's own LVT0 write stands", "[virtual_wire]") {
    auto step = VirtualWire::decide(kPinFixed, kLvt0GuestFixed, kLvt0Masked);
    CHECK_FALSE(step.writeLvt0);
    CHECK_FALSE(step.saved);
}

TEST_CASE("virtual wire: nothing to do without ExtINT on pin 0", "[virtual_wire]") {
    for (uint64_t pin : {kPinExtIntMasked, kPinFixed, uint64_t{0}}) {
        auto step = VirtualWire::decide(pin, kLvt0Masked, std::nullopt);
        CHECK_FALSE(step.writeLvt0);
        CHECK_FALSE(step.saved);
    }
    // LVT0 already in ExtINT: KVM takes PIC interrupts as it is.
    auto step = VirtualWire::decide(kPinExtInt, kLvt0ExtInt, std::nullopt);
    CHECK_FALSE(step.writeLvt0);
}
