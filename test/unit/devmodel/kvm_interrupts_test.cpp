// The KVM side of device-model interrupts: MSIs through KVM_SIGNAL_MSI and
// GSI levels on the in-kernel IOAPIC. Needs /dev/kvm; exits 77 (skip)
// without it.

#include "vmm/kvm/hypervisor.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/kvm/vm.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <unistd.h>

using namespace basalt;

namespace {

std::unique_ptr<kvm::Vm> makeVm(std::unique_ptr<kvm::Hypervisor>& hypervisor) {
    if (::access(kvm::Hypervisor::kDevicePath, R_OK | W_OK) != 0) {
        std::printf("SKIP: %s is not available\n", kvm::Hypervisor::kDevicePath);
        std::exit(77);
    }
    auto opened = kvm::Hypervisor::open();
    REQUIRE(opened.ok());
    hypervisor = std::move(*opened);
    auto vm = hypervisor->createVm();
    REQUIRE(vm.ok());
    return std::move(*vm);
}

} // namespace

TEST_CASE("MSIs and IOAPIC lines reach KVM's in-kernel irqchip", "[devmodel][kvm]") {
    std::unique_ptr<kvm::Hypervisor> hypervisor;
    auto vm = makeVm(hypervisor);
    auto vcpu = vm->createVcpu(0, 0);
    REQUIRE(vcpu.ok());
    // Fixed delivery of vector 0x41 to APIC 0: a valid MSI (delivered or
    // blocked by the vCPU's state, but never an error).
    CHECK(vm->signalMsi(0xFEE00000, 0x41).ok());
    for (uint32_t gsi : {5u, 10u, 23u}) {
        CHECK(vm->setIrqLine(gsi, true).ok());
        CHECK(vm->setIrqLine(gsi, false).ok());
    }
    CHECK(kvm::Vm::kIoapicPins == 24);
}
