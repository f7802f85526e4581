// Fuzzes VCPUOP_initialise's context parser (vmm/xen/vcpu_context.h): any
// 128 bytes of guest memory as a vcpu_hvm_context, under a CPU policy taken
// from the input too. A refused context leaves the output untouched; an
// accepted one satisfies what Xen's checks guarantee.

#include "test/fuzz/fuzz_seeds.h"
#include "vmm/xen/vcpu_context.h"

#include <cstdlib>
#include <cstring>

using namespace basalt;

namespace {

constexpr uint64_t kEflagsAlwaysOne = 0x2;
constexpr uint64_t kEferLme = 1ull << 8, kEferLma = 1ull << 10, kEferSvme = 1ull << 12;
constexpr uint64_t kCr4Vmxe = 1ull << 13;
constexpr uint8_t kPolicyBytes = 5;

void check(bool ok) {
    if (!ok)
        std::abort();
}

xen::HvmContextPolicy policyFrom(const uint8_t* data, size_t size) {
    uint8_t raw[kPolicyBytes] = {};
    std::memcpy(raw, data, std::min<size_t>(size, kPolicyBytes));
    xen::HvmContextPolicy p;
    p.cr4ValidBits = (uint64_t(raw[0]) | uint64_t(raw[1]) << 8 | uint64_t(raw[2]) << 16 |
                      uint64_t(raw[3]) << 24) &
                     ~kCr4Vmxe;
    p.syscall = raw[4] & 1;
    p.longMode = raw[4] & 2;
    p.nx = raw[4] & 4;
    p.ffxsr = raw[4] & 8;
    return p;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    xen::HvmContextPolicy policy = policyFrom(data, size);
    size_t skip = std::min<size_t>(size, kPolicyBytes);
    vcpu_hvm_context_t ctx;
    std::memset(&ctx, 0, sizeof ctx);
    std::memcpy(&ctx, data + skip, std::min(size - skip, sizeof ctx));

    xen::VcpuContext out;
    out.regs.rip = 0xDEAD;
    int rc = xen::decodeHvmContext(ctx, policy, out);
    if (rc != 0) {
        check(rc == -XEN_EINVAL);
        check(out.regs.rip == 0xDEAD);
        return 0;
    }
    check(out.regs.rflags & kEflagsAlwaysOne);
    check(!(out.cr4 & ~policy.cr4ValidBits));
    check(!(out.efer & kEferSvme));
    check(!(out.efer & kEferLme) || (out.efer & kEferLma));
    check(!(out.efer & kEferLma) || policy.longMode);
    check(out.cs.present && out.cs.s && (out.cs.type & 0x8));
    check(out.ss.present && out.ss.dpl == out.cs.dpl);
    check(!out.tr.s && out.tr.type == 0xB);
    if (ctx.mode == VCPU_HVM_MODE_32B)
        check(out.regs.rip == ctx.cpu_regs.x86_32.eip);
    return 0;
}

namespace basalt::fuzz {

std::vector<std::vector<uint8_t>> seeds() {
    std::vector<std::vector<uint8_t>> out;
    auto seed = [&](const vcpu_hvm_context_t& ctx) {
        std::vector<uint8_t> bytes = {0xFF, 0x0F, 0x7F, 0x00, 0x0F}; // a full policy
        const auto* raw = reinterpret_cast<const uint8_t*>(&ctx);
        bytes.insert(bytes.end(), raw, raw + sizeof ctx);
        out.push_back(std::move(bytes));
    };
    vcpu_hvm_context_t ctx;
    std::memset(&ctx, 0, sizeof ctx);
    ctx.mode = VCPU_HVM_MODE_32B;
    auto& r32 = ctx.cpu_regs.x86_32;
    r32.eip = 0x100000;
    r32.cr0 = 0x11;
    r32.cs_limit = r32.ds_limit = r32.ss_limit = r32.es_limit = 0xFFFFFFFF;
    r32.cs_ar = 0xC9B;
    r32.ds_ar = r32.ss_ar = r32.es_ar = 0xC93;
    r32.tr_ar = 0x8B;
    r32.tr_limit = 0x67;
    seed(ctx);
    std::memset(&ctx, 0, sizeof ctx);
    ctx.mode = VCPU_HVM_MODE_64B;
    auto& r64 = ctx.cpu_regs.x86_64;
    r64.rip = 0xFFFFFFFF81000000ull;
    r64.cr0 = 0x80000011;
    r64.cr4 = 0x20;
    r64.efer = kEferLme;
    seed(ctx);
    return out;
}

} // namespace basalt::fuzz
