// VCPUOP_initialise's context checks, after Xen 4.17's arch_set_info_hvm_guest()
// (xen/arch/x86/hvm/domain.c), check_segment() and hvm_efer_valid().

#include "vmm/xen/vcpu_context.h"

#include "base/log.h"

#include <cinttypes>

namespace basalt::xen {

BASALT_LOG_CATEGORY(VcpuContextLog, "vcpu-context");

namespace {

// Xen's packed segment attributes (struct segment_register.attr).
constexpr uint16_t kArType = 0xF;
constexpr uint16_t kArS = 1u << 4;
constexpr unsigned kArDplShift = 5;
constexpr uint16_t kArDplMask = 3;
constexpr uint16_t kArP = 1u << 7;
constexpr uint16_t kArAvl = 1u << 8;
constexpr uint16_t kArL = 1u << 9;
constexpr uint16_t kArDb = 1u << 10;
constexpr uint16_t kArG = 1u << 11;
constexpr uint16_t kArPad = 0xF000; // bits 12-15 must be zero

constexpr uint8_t kTypeAccessed = 1;   // code/data: set for present segments
constexpr uint8_t kTypeTssBusy = 2;    // TR: 32-bit TSS becomes busy
constexpr uint8_t kTypeCode = 0x8;     // code (vs data)
constexpr uint8_t kTypeWritable = 0x2; // data: writable; code: readable
constexpr uint8_t kSysDescTssBusy = 0xB;

// The attributes Xen gives a 64-bit context's segments.
constexpr uint16_t kAr64Code = 0xA9B;
constexpr uint16_t kAr64Data = 0xC93;
constexpr uint16_t kAr64Tss = 0x8B;
constexpr uint32_t kFlatLimit = ~0u;
constexpr uint32_t kTss64Limit = 0x67;

constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;

constexpr uint64_t kEferSce = 1ull << 0;
constexpr uint64_t kEferLme = 1ull << 8;
constexpr uint64_t kEferLma = 1ull << 10;
constexpr uint64_t kEferNxe = 1ull << 11;
constexpr uint64_t kEferSvme = 1ull << 12;
constexpr uint64_t kEferLmsle = 1ull << 13;
constexpr uint64_t kEferFfxse = 1ull << 14;
constexpr uint64_t kEferKnown =
    kEferSce | kEferLme | kEferLma | kEferNxe | kEferSvme | kEferLmsle | kEferFfxse;

// X86_EFLAGS_ALL (CF PF AF ZF SF TF IF DF OF IOPL NT RF VM AC VIF VIP ID)
// and the always-one bit 1.
constexpr uint64_t kEflagsAll = 0x3F7FD5;
constexpr uint64_t kEflagsMbs = 0x2;

constexpr unsigned kCanonicalBits = 48;
constexpr uint32_t kPageGranularityShift = 12;
constexpr uint32_t kPageOffsetMask = 0xFFF;

// CPUID bits behind CR4 and EFER (Intel SDM / AMD APM leaf layouts).
constexpr uint32_t kLeafBasic = 1, kLeafExtended7 = 7, kLeafExtFeatures = 0x80000001;
struct Cr4Gate {
    uint32_t leaf;
    char reg; // 'c' or 'd' of leaf 1, 'b'/'c' of leaf 7
    uint32_t bit;
    uint64_t cr4;
};
constexpr Cr4Gate kCr4Gates[] = {
    {kLeafBasic, 'd', 1u << 1, (1u << 0) | (1u << 1)}, // VME -> VME, PVI
    {kLeafBasic, 'd', 1u << 4, 1u << 2},               // TSC -> TSD
    {kLeafBasic, 'd', 1u << 2, 1u << 3},               // DE
    {kLeafBasic, 'd', 1u << 3, 1u << 4},               // PSE
    {kLeafBasic, 'd', 1u << 6, kCr4Pae},               // PAE
    {kLeafBasic, 'd', 1u << 7, 1u << 6},               // MCE
    {kLeafBasic, 'd', 1u << 14, 1u << 6},              // MCA -> MCE
    {kLeafBasic, 'd', 1u << 13, 1u << 7},              // PGE
    {kLeafBasic, 'd', 1u << 24, 1u << 9},              // FXSR -> OSFXSR
    {kLeafBasic, 'd', 1u << 25, 1u << 10},             // SSE -> OSXMMEXCPT
    {kLeafBasic, 'c', 1u << 17, 1u << 17},             // PCID -> PCIDE
    {kLeafBasic, 'c', 1u << 26, 1u << 18},             // XSAVE -> OSXSAVE
    {kLeafExtended7, 'c', 1u << 2, 1u << 11},          // UMIP
    {kLeafExtended7, 'b', 1u << 0, 1u << 16},          // FSGSBASE
    {kLeafExtended7, 'b', 1u << 7, 1u << 20},          // SMEP
    {kLeafExtended7, 'b', 1u << 20, 1u << 21},         // SMAP
    {kLeafExtended7, 'c', 1u << 3, 1u << 22},          // PKU -> PKE
    {kLeafExtended7, 'c', 1u << 7, 1u << 23},          // CET_SS -> CET
    {kLeafExtended7, 'd', 1u << 20, 1u << 23},         // CET_IBT -> CET
};
constexpr uint64_t kCr4Pce = 1u << 8; // always valid in Xen

uint32_t cpuidReg(const CpuidEntry* e, char reg) {
    if (!e)
        return 0;
    switch (reg) {
    case 'b':
        return e->ebx;
    case 'c':
        return e->ecx;
    case 'd':
        return e->edx;
    default:
        return e->eax;
    }
}

enum class Seg { Cs, Ds, Ss, Es, Tr };

kvm::Segment segmentFrom(uint16_t ar, uint32_t limit, uint64_t base, uint16_t selector) {
    kvm::Segment s;
    s.base = base;
    s.limit = limit;
    s.selector = selector;
    s.type = ar & kArType;
    s.s = ar & kArS;
    s.dpl = (ar >> kArDplShift) & kArDplMask;
    s.present = ar & kArP;
    s.avl = ar & kArAvl;
    s.l = ar & kArL;
    s.db = ar & kArDb;
    s.g = ar & kArG;
    s.unusable = ar == 0; // a null DS/ES
    return s;
}

// check_segment(): `ar` as the guest gave it; `seg` gets the accessed/busy bit.
int checkSegment(Seg which, uint16_t ar, kvm::Segment& seg) {
    if (ar & kArPad)
        return -XEN_EINVAL;
    if (ar == 0)
        return which == Seg::Ds || which == Seg::Es ? 0 : -XEN_EINVAL;
    if (seg.present)
        seg.type |= which == Seg::Tr ? kTypeTssBusy : kTypeAccessed;
    if (which == Seg::Tr) {
        if (seg.s || seg.type != kSysDescTssBusy)
            return -XEN_EINVAL;
    } else if (!seg.s) {
        return -XEN_EINVAL;
    }
    if (!seg.present)
        return -XEN_EINVAL;
    switch (which) {
    case Seg::Cs:
        return seg.type & kTypeCode ? 0 : -XEN_EINVAL;
    case Seg::Ss:
        return (seg.type & kTypeCode) || !(seg.type & kTypeWritable) ? -XEN_EINVAL : 0;
    case Seg::Ds:
    case Seg::Es:
        return (seg.type & kTypeCode) && !(seg.type & kTypeWritable) ? -XEN_EINVAL : 0;
    case Seg::Tr:
        return 0;
    }
    return -XEN_EINVAL;
}

int decode32(const vcpu_hvm_x86_32& r, VcpuContext& out) {
    if (r.pad1 || r.pad2[0] || r.pad2[1] || r.pad2[2])
        return -XEN_EINVAL;
    // Selectors are not part of the context; Xen leaves them 0.
    out.cs = segmentFrom(r.cs_ar, r.cs_limit, r.cs_base, 0);
    out.ds = segmentFrom(r.ds_ar, r.ds_limit, r.ds_base, 0);
    out.ss = segmentFrom(r.ss_ar, r.ss_limit, r.ss_base, 0);
    out.es = segmentFrom(r.es_ar, r.es_limit, r.es_base, 0);
    out.tr = segmentFrom(r.tr_ar, r.tr_limit, r.tr_base, 0);
    int rc = checkSegment(Seg::Cs, r.cs_ar, out.cs);
    rc |= checkSegment(Seg::Ds, r.ds_ar, out.ds);
    rc |= checkSegment(Seg::Ss, r.ss_ar, out.ss);
    rc |= checkSegment(Seg::Es, r.es_ar, out.es);
    rc |= checkSegment(Seg::Tr, r.tr_ar, out.tr);
    if (rc)
        return -XEN_EINVAL;

    // In 32 bits, as Xen computes it: a G=1 limit of ~0 stays ~0.
    uint32_t limit = out.cs.limit;
    if (out.cs.g)
        limit = (limit << kPageGranularityShift) | kPageOffsetMask;
    if (r.eip > limit) {
        LOG_RATELIMITED(VcpuContextLog, Info, "EIP %#x outside CS limit %#x", r.eip, limit);
        return -XEN_EINVAL;
    }
    if (out.ss.dpl != out.cs.dpl)
        return -XEN_EINVAL;
    if (out.ds.present && out.ds.dpl > out.cs.dpl)
        return -XEN_EINVAL;
    if (out.es.present && out.es.dpl > out.cs.dpl)
        return -XEN_EINVAL;
    if ((r.efer & kEferLma) && !(r.efer & kEferLme))
        return -XEN_EINVAL;

    kvm::GeneralRegisters& g = out.regs;
    g.rax = r.eax;
    g.rcx = r.ecx;
    g.rdx = r.edx;
    g.rbx = r.ebx;
    g.rsp = r.esp;
    g.rbp = r.ebp;
    g.rsi = r.esi;
    g.rdi = r.edi;
    g.rip = r.eip;
    g.rflags = (r.eflags & kEflagsAll) | kEflagsMbs;
    out.cr0 = r.cr0;
    out.cr3 = r.cr3;
    out.cr4 = r.cr4;
    out.efer = r.efer;
    return 0;
}

bool isCanonical(uint64_t address) {
    auto high = static_cast<int64_t>(address) >> (kCanonicalBits - 1);
    return high == 0 || high == -1;
}

int decode64(const vcpu_hvm_x86_64& r, VcpuContext& out) {
    if (!isCanonical(r.rip) || !(r.cr0 & kCr0Pg) || !(r.cr4 & kCr4Pae) || !(r.efer & kEferLme)) {
        LOG_RATELIMITED(VcpuContextLog, Info,
                        "64-bit context refused: rip %#" PRIx64 " cr0 %#" PRIx64 " cr4 %#" PRIx64
                        " efer %#" PRIx64,
                        r.rip, r.cr0, r.cr4, r.efer);
        return -XEN_EINVAL;
    }
    kvm::GeneralRegisters& g = out.regs;
    g.rax = r.rax;
    g.rcx = r.rcx;
    g.rdx = r.rdx;
    g.rbx = r.rbx;
    g.rsp = r.rsp;
    g.rbp = r.rbp;
    g.rsi = r.rsi;
    g.rdi = r.rdi;
    g.rip = r.rip;
    g.rflags = (r.rflags & kEflagsAll) | kEflagsMbs;
    out.cr0 = r.cr0;
    out.cr3 = r.cr3;
    out.cr4 = r.cr4;
    out.efer = r.efer;
    out.cs = segmentFrom(kAr64Code, kFlatLimit, 0, 0);
    out.ds = out.ss = out.es = segmentFrom(kAr64Data, kFlatLimit, 0, 0);
    out.tr = segmentFrom(kAr64Tss, kTss64Limit, 0, 0);
    return 0;
}

const char* eferProblem(uint64_t efer, const HvmContextPolicy& p) {
    if (efer & ~kEferKnown)
        return "unknown bits";
    if ((efer & kEferSce) && !p.syscall)
        return "SCE without the feature";
    if ((efer & (kEferLme | kEferLma)) && !p.longMode)
        return "LME/LMA without the feature";
    if ((efer & kEferLma) && !(efer & kEferLme))
        return "LMA without LME";
    if ((efer & kEferNxe) && !p.nx)
        return "NXE without the feature";
    if (efer & kEferSvme)
        return "SVME without nested virtualization";
    if ((efer & kEferFfxse) && !p.ffxsr)
        return "FFXSE without the feature";
    return nullptr;
}

} // namespace

HvmContextPolicy hvmContextPolicy(const CpuidTable& cpuid) {
    HvmContextPolicy p;
    p.cr4ValidBits = kCr4Pce;
    for (const Cr4Gate& gate : kCr4Gates)
        if (cpuidReg(findCpuid(cpuid, gate.leaf, 0), gate.reg) & gate.bit)
            p.cr4ValidBits |= gate.cr4;
    const CpuidEntry* ext = findCpuid(cpuid, kLeafExtFeatures, 0);
    uint32_t extEdx = cpuidReg(ext, 'd');
    p.syscall = extEdx & (1u << 11);
    p.nx = extEdx & (1u << 20);
    p.ffxsr = extEdx & (1u << 25);
    p.longMode = extEdx & (1u << 29);
    return p;
}

int decodeHvmContext(const vcpu_hvm_context_t& ctx, const HvmContextPolicy& policy,
                     VcpuContext& out) {
    if (ctx.pad != 0)
        return -XEN_EINVAL;
    VcpuContext decoded;
    int rc;
    switch (ctx.mode) {
    case VCPU_HVM_MODE_32B:
        rc = decode32(ctx.cpu_regs.x86_32, decoded);
        break;
    case VCPU_HVM_MODE_64B:
        rc = decode64(ctx.cpu_regs.x86_64, decoded);
        break;
    default:
        return -XEN_EINVAL;
    }
    if (rc)
        return rc;
    if (decoded.efer & kEferLme)
        decoded.efer |= kEferLma;
    if (decoded.cr4 & ~policy.cr4ValidBits) {
        LOG_RATELIMITED(VcpuContextLog, Info,
                        "context refused: CR4 %#" PRIx64 " (valid %#" PRIx64 ")", decoded.cr4,
                        policy.cr4ValidBits);
        return -XEN_EINVAL;
    }
    if (const char* why = eferProblem(decoded.efer, policy)) {
        LOG_RATELIMITED(VcpuContextLog, Info, "context refused: EFER %#" PRIx64 ": %s",
                        decoded.efer, why);
        return -XEN_EINVAL;
    }
    out = decoded;
    return 0;
}

void VcpuContext::applyTo(kvm::SpecialRegisters& sregs) const {
    sregs.cs = cs;
    sregs.ds = ds;
    sregs.es = es;
    sregs.ss = ss;
    sregs.tr = tr;
    sregs.cr0 = cr0;
    sregs.cr3 = cr3;
    sregs.cr4 = cr4;
    sregs.efer = efer;
}

} // namespace basalt::xen
