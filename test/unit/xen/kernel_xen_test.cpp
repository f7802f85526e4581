// The KVM_CAP_XEN_HVM path without the capability: the plan chosen from the
// capability bits, KVM_EXIT_XEN decoded from a synthesized kvm_run, and its
// arguments mapped onto the dispatcher's registers.

#include "vmm/kvm/xen_hvm.h"
#include "vmm/xen/hypercall.h"
#include "vmm/xen/kernel_hypercall.h"

#include <catch2/catch.hpp>

#include <array>
#include <cstring>
#include <vector>

using namespace basalt;
namespace bits = basalt::kvm::xen_hvm_bits;

namespace {

// The kernel's kvm_run ABI (include/uapi/linux/kvm.h), retyped here on
// purpose so the test checks the decoder against the documented layout:
// exit_reason at 8, the exit union at 32; kvm_xen_exit {u32 type; u32 pad;
// hcall {u32 longmode, u32 cpl, u64 input, u64 result, u64 params[6]}}.
constexpr size_t kRunBytes = 4096;
constexpr size_t kExitReasonOffset = 8;
constexpr size_t kExitUnionOffset = 32;
constexpr uint32_t kExitXen = 34;
constexpr uint32_t kExitIo = 2;
constexpr uint32_t kXenHcall = 1;
constexpr size_t kLongmode = kExitUnionOffset + 8, kCpl = kExitUnionOffset + 12;
constexpr size_t kInput = kExitUnionOffset + 16, kResult = kExitUnionOffset + 24;
constexpr size_t kParams = kExitUnionOffset + 32;

template <typename T> void put(std::vector<uint8_t>& run, size_t offset, T value) {
    std::memcpy(run.data() + offset, &value, sizeof value);
}
template <typename T> T get(const std::vector<uint8_t>& run, size_t offset) {
    T value;
    std::memcpy(&value, run.data() + offset, sizeof value);
    return value;
}

std::vector<uint8_t> xenRun(uint32_t longmode, uint32_t cpl, uint64_t input,
                            std::array<uint64_t, 6> params) {
    std::vector<uint8_t> run(kRunBytes, 0);
    put<uint32_t>(run, kExitReasonOffset, kExitXen);
    put<uint32_t>(run, kExitUnionOffset, kXenHcall);
    put<uint32_t>(run, kLongmode, longmode);
    put<uint32_t>(run, kCpl, cpl);
    put<uint64_t>(run, kInput, input);
    for (size_t i = 0; i < params.size(); ++i)
        put<uint64_t>(run, kParams + 8 * i, params[i]);
    return run;
}

} // namespace

TEST_CASE("kernel hypercalls need the MSR and the intercept bits", "[xen][kvm-xen]") {
    CHECK_FALSE(kvm::planXenHvm(0, true).kernelHypercalls); // this workplace's hosts
    CHECK_FALSE(kvm::planXenHvm(0, true).vectorCallback);
    CHECK_FALSE(kvm::planXenHvm(bits::kHypercallMsr, true).kernelHypercalls);
    CHECK_FALSE(kvm::planXenHvm(bits::kInterceptHcall, true).kernelHypercalls);

    auto plan = kvm::planXenHvm(bits::kHypercallMsr | bits::kInterceptHcall, true);
    CHECK(plan.kernelHypercalls);
    CHECK(plan.configFlags == bits::kInterceptHcall);
    CHECK_FALSE(plan.vectorCallback); // no shared_info attributes
}

TEST_CASE("the vector callback only where the kernel can inject it", "[xen][kvm-xen]") {
    uint32_t all = bits::kHypercallMsr | bits::kInterceptHcall | bits::kSharedInfo |
                   bits::kRunstate | bits::kEvtchn2Level | bits::kEvtchnSend;
    CHECK(kvm::planXenHvm(all, true).vectorCallback);
    // The kernel could, but the core has not told it where vcpu_info is.
    CHECK_FALSE(kvm::planXenHvm(all, false).vectorCallback);
    CHECK(kvm::planXenHvm(all, false).kernelHypercalls);
    CHECK_FALSE(kvm::planXenHvm(all & ~bits::kInterceptHcall, true).vectorCallback);
}

TEST_CASE("KVM_EXIT_XEN decodes from the kvm_run layout", "[xen][kvm-xen]") {
    auto run = xenRun(1, 0, 17, {0, 0x1000, 3, 4, 5, 6});
    auto exit = kvm::decodeXenExit(run);
    REQUIRE(exit);
    CHECK(exit->longMode);
    CHECK(exit->cpl == 0);
    CHECK(exit->input == 17);
    CHECK(exit->params == std::array<uint64_t, 6>{0, 0x1000, 3, 4, 5, 6});
    REQUIRE(exit->result != nullptr);
    *exit->result = 0x40011;
    CHECK(get<uint64_t>(run, kResult) == 0x40011); // where KVM reads rax from

    auto compatRun = xenRun(0, 3, 24, {});
    auto compat = kvm::decodeXenExit(compatRun);
    REQUIRE(compat);
    CHECK_FALSE(compat->longMode);
    CHECK(compat->cpl == 3);
}

TEST_CASE("other exits, other Xen exit types and short buffers are not hypercalls",
          "[xen][kvm-xen]") {
    auto run = xenRun(1, 0, 17, {});
    put<uint32_t>(run, kExitReasonOffset, kExitIo);
    CHECK_FALSE(kvm::decodeXenExit(run));
    run = xenRun(1, 0, 17, {});
    put<uint32_t>(run, kExitUnionOffset, 2); // a type this core does not know
    CHECK_FALSE(kvm::decodeXenExit(run));
    run = xenRun(1, 0, 17, {});
    CHECK_FALSE(kvm::decodeXenExit(std::span<uint8_t>(run.data(), 64)));
}

TEST_CASE("intercepted arguments land where the dispatcher reads them", "[xen][kvm-xen]") {
    kvm::SpecialRegisters sregs;
    sregs.cr0 = 0x80000011;
    sregs.cr3 = 0x5000;
    sregs.cr4 = 0x20;
    sregs.efer = 0x500;

    kvm::XenHypercallExit exit;
    exit.longMode = true;
    exit.input = 24;
    exit.params = {1, 2, 3, 4, 5, 6};
    auto r = xen::kernelHypercallRegisters(exit, sregs);
    CHECK(r.rax == 24);
    CHECK(r.rdi == 1);
    CHECK(r.rsi == 2);
    CHECK(r.rdx == 3);
    CHECK(r.r10 == 4);
    CHECK(r.r8 == 5);
    CHECK(r.longMode);
    CHECK(r.cr3 == 0x5000);
    CHECK(r.efer == 0x500);

    exit.longMode = false;
    exit.cpl = 3;
    exit.params = {0x100000001ull, 2, 3, 4, 5, 6};
    r = xen::kernelHypercallRegisters(exit, sregs);
    CHECK(r.rbx == 1); // upper half dropped: a 32-bit guest has ebx only
    CHECK(r.rcx == 2);
    CHECK(r.rdx == 3);
    CHECK(r.rsi == 4);
    CHECK(r.rdi == 5);
    CHECK_FALSE(r.longMode);
    CHECK(r.cpl == 3);

    CHECK(xen::kernelHypercallResult(exit, -22) == 0xFFFFFFEAull);
    exit.longMode = true;
    CHECK(xen::kernelHypercallResult(exit, -22) == static_cast<uint64_t>(-22));
}

TEST_CASE("hypercall page stubs per entry path", "[xen][kvm-xen]") {
    std::array<uint8_t, 4096> page{};
    xen::fillHypercallPage(page, xen::HypercallStub::Vmcall);
    // Hypercall 24: mov eax, 24; vmcall; ret
    const uint8_t* stub = page.data() + 24 * xen::kHypercallStubBytes;
    CHECK(std::vector<uint8_t>(stub, stub + 9) ==
          std::vector<uint8_t>{0xB8, 24, 0, 0, 0, 0x0F, 0x01, 0xC1, 0xC3});
    xen::fillHypercallPage(page, xen::HypercallStub::Vmmcall);
    CHECK(std::vector<uint8_t>(stub, stub + 9) ==
          std::vector<uint8_t>{0xB8, 24, 0, 0, 0, 0x0F, 0x01, 0xD9, 0xC3});
    xen::fillHypercallPage(page, xen::HypercallStub::PortIo);
    CHECK(std::vector<uint8_t>(stub, stub + 8) ==
          std::vector<uint8_t>{0xB8, 24, 0, 0, 0, 0xE7, 0xE4, 0xC3});
    CHECK(page[24 * xen::kHypercallStubBytes + 8] == 0xCC); // the rest traps
}
