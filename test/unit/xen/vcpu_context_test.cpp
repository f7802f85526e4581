// VCPUOP_initialise's context checks against Xen 4.17's arch_set_info_hvm_guest().

#include "vmm/xen/vcpu_context.h"

#include <catch2/catch.hpp>

#include <cstring>

using namespace basalt;
using namespace basalt::xen;

namespace {

constexpr uint16_t kArCode32 = 0xC9B; // G, D, P, S, execute/read, accessed
constexpr uint16_t kArData32 = 0xC93; // G, D/B, P, S, read/write, accessed
constexpr uint16_t kArTss32 = 0x8B;   // P, busy 32-bit TSS
constexpr uint64_t kCr0PeEt = 0x11;
constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kCr4Vmxe = 1ull << 13;
constexpr uint64_t kEferLme = 1ull << 8, kEferLma = 1ull << 10, kEferNxe = 1ull << 11;
constexpr uint64_t kEferSvme = 1ull << 12;

HvmContextPolicy fullPolicy() {
    HvmContextPolicy p;
    p.cr4ValidBits = 0x7F0FFF & ~kCr4Vmxe; // what a modern CPU offers, no nesting
    p.syscall = p.longMode = p.nx = p.ffxsr = true;
    return p;
}

vcpu_hvm_context_t good32() {
    vcpu_hvm_context_t ctx;
    std::memset(&ctx, 0, sizeof ctx);
    ctx.mode = VCPU_HVM_MODE_32B;
    auto& r = ctx.cpu_regs.x86_32;
    r.eip = 0x100400;
    r.esp = 0x200000;
    r.eax = 1;
    r.ebx = 2;
    r.eflags = 0xFFFFFFFF; // only Xen's known flags survive
    r.cr0 = kCr0PeEt;
    r.cs_limit = r.ds_limit = r.ss_limit = r.es_limit = 0xFFFFFFFF;
    r.cs_ar = 0xC9A; // not accessed: Xen sets the bit
    r.ds_ar = r.ss_ar = r.es_ar = 0xC92;
    r.tr_ar = 0x89; // available TSS: Xen makes it busy
    r.tr_base = 0x5000;
    r.tr_limit = 0x67;
    return ctx;
}

vcpu_hvm_context_t good64() {
    vcpu_hvm_context_t ctx;
    std::memset(&ctx, 0, sizeof ctx);
    ctx.mode = VCPU_HVM_MODE_64B;
    auto& r = ctx.cpu_regs.x86_64;
    r.rip = 0xFFFFFFFF81000000ull;
    r.rsp = 0x7000;
    r.rdi = 0x1234;
    r.rflags = 0x202;
    r.cr0 = kCr0PeEt | kCr0Pg;
    r.cr3 = 0x9000;
    r.cr4 = kCr4Pae;
    r.efer = kEferLme | kEferNxe;
    return ctx;
}

int decode(const vcpu_hvm_context_t& ctx, VcpuContext* out = nullptr) {
    VcpuContext scratch;
    return decodeHvmContext(ctx, fullPolicy(), out ? *out : scratch);
}

} // namespace

TEST_CASE("the context is the same 128 bytes for 32- and 64-bit callers", "[xen][vcpu-context]") {
    STATIC_REQUIRE(sizeof(vcpu_hvm_context_t) == 128);
    STATIC_REQUIRE(offsetof(vcpu_hvm_context_t, cpu_regs) == 8);
}

TEST_CASE("a 32-bit context: registers, accessed and busy bits, flags", "[xen][vcpu-context]") {
    VcpuContext out;
    REQUIRE(decode(good32(), &out) == 0);
    CHECK(out.regs.rip == 0x100400);
    CHECK(out.regs.rsp == 0x200000);
    CHECK(out.regs.rax == 1);
    CHECK(out.regs.rbx == 2);
    CHECK(out.regs.rflags == 0x3F7FD7); // X86_EFLAGS_ALL | bit 1
    CHECK(out.cs.type == 0xB);
    CHECK(out.cs.s);
    CHECK(out.cs.present);
    CHECK(out.cs.db);
    CHECK(out.cs.g);
    CHECK_FALSE(out.cs.l);
    CHECK(out.ds.type == 0x3);
    CHECK(out.tr.type == 0xB);
    CHECK(out.tr.base == 0x5000);
    CHECK(out.tr.limit == 0x67);
    CHECK(out.cr0 == kCr0PeEt);
    CHECK(out.efer == 0);
}

TEST_CASE("a 64-bit context gets Xen's flat long-mode segments", "[xen][vcpu-context]") {
    VcpuContext out;
    REQUIRE(decode(good64(), &out) == 0);
    CHECK(out.regs.rip == 0xFFFFFFFF81000000ull);
    CHECK(out.regs.rdi == 0x1234);
    CHECK(out.efer == (kEferLme | kEferLma | kEferNxe)); // LMA follows LME
    CHECK(out.cs.l);
    CHECK_FALSE(out.cs.db);
    CHECK(out.cs.type == 0xB);
    CHECK(out.ss.type == 0x3);
    CHECK(out.tr.type == 0xB);
    CHECK(out.tr.limit == 0x67);
    CHECK(out.cr3 == 0x9000);
}

TEST_CASE("applyTo overlays only what the context covers", "[xen][vcpu-context]") {
    VcpuContext out;
    REQUIRE(decode(good32(), &out) == 0);
    kvm::SpecialRegisters sregs;
    sregs.fs.selector = 0x33;
    sregs.gdt.base = 0x1000;
    sregs.apicBase = 0xFEE00900;
    sregs.cr2 = 0x42;
    out.applyTo(sregs);
    CHECK(sregs.cs.type == 0xB);
    CHECK(sregs.tr.base == 0x5000);
    CHECK(sregs.cr0 == kCr0PeEt);
    CHECK(sregs.fs.selector == 0x33);
    CHECK(sregs.gdt.base == 0x1000);
    CHECK(sregs.apicBase == 0xFEE00900);
    CHECK(sregs.cr2 == 0x42);
}

TEST_CASE("hostile 32-bit contexts get -EINVAL", "[xen][vcpu-context]") {
    auto refuse = [](auto mutate) {
        vcpu_hvm_context_t ctx = good32();
        mutate(ctx, ctx.cpu_regs.x86_32);
        VcpuContext out;
        out.regs.rip = 0xDEAD;
        int rc = decode(ctx, &out);
        if (rc != 0)
            CHECK(out.regs.rip == 0xDEAD); // nothing half-written
        return rc;
    };
    using C = vcpu_hvm_context_t;
    using R = vcpu_hvm_x86_32;
    CHECK(refuse([](C& c, R&) { c.pad = 1; }) == -XEN_EINVAL);
    CHECK(refuse([](C& c, R&) { c.mode = 2; }) == -XEN_EINVAL);
    CHECK(refuse([](C&, R& r) { r.pad1 = 1; }) == -XEN_EINVAL);
    CHECK(refuse([](C&, R& r) { r.pad2[2] = 1; }) == -XEN_EINVAL);
    CHECK(refuse([](C&, R& r) { r.cs_ar = kArData32; }) == -XEN_EINVAL);          // data as CS
    CHECK(refuse([](C&, R& r) { r.cs_ar = kArCode32 | 0x1000; }) == -XEN_EINVAL); // pad bits
    CHECK(refuse([](C&, R& r) { r.cs_ar = kArCode32 & ~0x80; }) == -XEN_EINVAL);  // not present
    CHECK(refuse([](C&, R& r) { r.cs_ar = 0; }) == -XEN_EINVAL);                  // null CS
    CHECK(refuse([](C&, R& r) { r.ss_ar = 0; }) == -XEN_EINVAL);                  // null SS
    CHECK(refuse([](C&, R& r) { r.tr_ar = 0; }) == -XEN_EINVAL);                  // null TR
    CHECK(refuse([](C&, R& r) { r.ss_ar = 0xC91; }) == -XEN_EINVAL);              // read-only SS
    CHECK(refuse([](C&, R& r) { r.ss_ar = kArCode32; }) == -XEN_EINVAL);          // code SS
    CHECK(refuse([](C&, R& r) { r.ds_ar = 0xC99; }) == -XEN_EINVAL);              // execute-only DS
    CHECK(refuse([](C&, R& r) { r.ds_ar = 0x093; }) == 0);               // byte-granular DS is fine
    CHECK(refuse([](C&, R& r) { r.tr_ar = kArData32; }) == -XEN_EINVAL); // S=1 TR
    CHECK(refuse([](C&, R& r) { r.tr_ar = 0x82; }) == -XEN_EINVAL);      // LDT as TR
    CHECK(refuse([](C&, R& r) { r.ss_ar = kArData32 | 0x60; }) == -XEN_EINVAL); // SS.DPL 3
    CHECK(refuse([](C&, R& r) { r.ds_ar = kArData32 | 0x60; }) == -XEN_EINVAL); // DS.DPL > CS.DPL
    CHECK(refuse([](C&, R& r) { r.es_ar = kArData32 | 0x20; }) == -XEN_EINVAL); // ES.DPL > CS.DPL
    CHECK(refuse([](C&, R& r) {
              r.cs_ar = 0x49B; // byte granular
              r.cs_limit = 0xFFFF;
          }) == -XEN_EINVAL); // EIP past the limit
    CHECK(refuse([](C&, R& r) {
              r.cs_ar = kArCode32; // G: 0xFF -> 0xFFFFF
              r.cs_limit = 0xFF;
          }) == -XEN_EINVAL);
    CHECK(refuse([](C&, R& r) { r.cs_limit = 0x100; }) == 0); // G: 0x100FFF > 0x100400
    CHECK(refuse([](C&, R& r) { r.efer = kEferLma; }) == -XEN_EINVAL);
    CHECK(refuse([](C&, R& r) { r.efer = 1ull << 20; }) == -XEN_EINVAL); // unknown EFER bit
    CHECK(refuse([](C&, R& r) { r.efer = kEferSvme; }) == -XEN_EINVAL);  // no nesting
    CHECK(refuse([](C&, R& r) { r.cr4 = kCr4Vmxe; }) == -XEN_EINVAL);
}

TEST_CASE("hostile 64-bit contexts get -EINVAL", "[xen][vcpu-context]") {
    auto refuse = [](auto mutate) {
        vcpu_hvm_context_t ctx = good64();
        mutate(ctx.cpu_regs.x86_64);
        return decode(ctx);
    };
    using R = vcpu_hvm_x86_64;
    CHECK(refuse([](R& r) { r.cr0 &= ~kCr0Pg; }) == -XEN_EINVAL);
    CHECK(refuse([](R& r) { r.cr4 &= ~kCr4Pae; }) == -XEN_EINVAL);
    CHECK(refuse([](R& r) { r.efer &= ~kEferLme; }) == -XEN_EINVAL);
    CHECK(refuse([](R& r) { r.rip = 0x0000800000000000ull; }) == -XEN_EINVAL);
    CHECK(refuse([](R& r) { r.rip = 0xFFFF7FFFFFFFFFFFull; }) == -XEN_EINVAL);
    CHECK(refuse([](R& r) { r.rip = 0x00007FFFFFFFFFFFull; }) == 0);
    CHECK(refuse([](R& r) { r.cr4 |= 1ull << 40; }) == -XEN_EINVAL);
    CHECK(refuse([](R& r) { r.efer |= kEferSvme; }) == -XEN_EINVAL);
}

TEST_CASE("CR4 and EFER bits follow the guest's CPUID", "[xen][vcpu-context]") {
    CpuidTable cpuid;
    CpuidEntry basic;
    basic.function = 1;
    basic.edx = (1u << 6) | (1u << 13); // PAE, PGE
    cpuid.push_back(basic);
    CpuidEntry ext;
    ext.function = 0x80000001;
    ext.edx = 1u << 29; // LM, but no NX and no SYSCALL
    cpuid.push_back(ext);
    HvmContextPolicy policy = hvmContextPolicy(cpuid);
    CHECK(policy.cr4ValidBits == ((1u << 5) | (1u << 7) | (1u << 8))); // PAE, PGE, PCE
    CHECK(policy.longMode);
    CHECK_FALSE(policy.nx);
    CHECK_FALSE(policy.syscall);

    VcpuContext out;
    vcpu_hvm_context_t ctx = good64();
    CHECK(decodeHvmContext(ctx, policy, out) == -XEN_EINVAL); // NXE without NX
    ctx.cpu_regs.x86_64.efer = kEferLme;
    CHECK(decodeHvmContext(ctx, policy, out) == 0);
    ctx.cpu_regs.x86_64.cr4 |= 1u << 9; // OSFXSR without FXSR
    CHECK(decodeHvmContext(ctx, policy, out) == -XEN_EINVAL);
}
