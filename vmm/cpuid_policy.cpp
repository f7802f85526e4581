#include "vmm/cpuid_policy.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <limits>

namespace basalt {

namespace {

// The leaves that carry topology. Leaf 4 is Intel's (AMD reports it empty);
// 0x8000001D/0x8000001E exist only on AMD; 0x80000008 ECX is AMD's core count
// and reserved (zero) on Intel.
constexpr uint32_t kLeafFeatures = 0x1;
constexpr uint32_t kLeafCacheParameters = 0x4;
constexpr uint32_t kLeafExtendedTopology = 0xB;
constexpr uint32_t kLeafExtendedTopologyV2 = 0x1F;
constexpr uint32_t kLeafAddressSizes = 0x80000008;
constexpr uint32_t kLeafArchPerfmon = 0xA;             // Intel
constexpr uint32_t kLeafExtendedFeatures = 0x80000001; // ECX bit 23 on AMD
constexpr uint32_t kLeafAmdPerfmonV2 = 0x80000022;
constexpr uint32_t kExtendedEcxPerfCtrCore = 1u << 23;
constexpr uint32_t kExtendedEcxCmpLegacy = 1u << 1;
constexpr uint32_t kLeafCacheTopology = 0x8000001D;
constexpr uint32_t kLeafProcessorTopology = 0x8000001E;

// Leaf 1.
constexpr uint32_t kFeaturesEcxHypervisor = 1u << 31;
constexpr uint32_t kFeaturesEdxHtt = 1u << 28;
constexpr unsigned kFeaturesEbxApicIdShift = 24;
constexpr unsigned kFeaturesEbxLogicalCountShift = 16;
constexpr uint32_t kByteMask = 0xFF;
// Xen doubles the logical count only while bit 7 is clear (no overflow).
constexpr uint32_t kLogicalCountTopBit = 0x80;

// Leaves 0xB/0x1F: one subleaf per level, ECX[7:0] echoes the level number and
// ECX[15:8] gives its type; EDX is the x2APIC ID in every subleaf.
constexpr uint32_t kSmtLevel = 0;
constexpr uint32_t kCoreLevel = 1;
constexpr uint32_t kEndLevel = 2;
constexpr uint32_t kLevelTypeInvalid = 0;
constexpr uint32_t kLevelTypeSmt = 1;
constexpr uint32_t kLevelTypeCore = 2;
constexpr unsigned kLevelTypeShift = 8;
constexpr uint32_t kLevelProcessorsMask = 0xFFFF; // EBX[15:0]
// Xen's APIC ID 2 x index leaves bit 0 to an (empty) SMT level.
constexpr uint32_t kXenSmtShift = 1;

// Leaves 4/0x8000001D EAX.
constexpr uint32_t kCacheTypeMask = 0x1F; // 0: no more caches
constexpr unsigned kCacheLevelShift = 5;
constexpr uint32_t kCacheLevelMask = 0x7;
constexpr unsigned kCacheSharingShift = 14; // logical processors sharing - 1
constexpr uint32_t kCacheSharingMask = 0xFFF;
constexpr unsigned kCacheCoresShift = 26; // leaf 4 only: cores per package - 1
constexpr uint32_t kCacheCoresMask = 0x3F;
constexpr uint32_t kPackageCacheLevel = 3;

// Leaf 0x80000008 ECX.
constexpr uint32_t kCoreCountMask = 0xFF; // NC: cores - 1
constexpr unsigned kApicIdSizeShift = 12;
constexpr uint32_t kApicIdSizeMask = 0xF;
// Xen doubles NC only below this, and raises ApicIdSize only below 7 (some
// guests mishandle larger sizes; 0 keeps its "use NC" meaning).
constexpr uint32_t kXenMaxDoubledCoreCount = 0x7F;
constexpr uint32_t kXenMaxApicIdSize = 7;

// The guest's topology as Xen 4.17 gives HVM guests (xc_cpuid_apply_policy
// and vlapic.c): one package of `count` cores, one thread per core, vCPU i at
// APIC ID 2i, i.e. every APIC ID with an unused SMT bit below the core
// number. One thread per core means guest schedulers never treat two vCPUs as
// siblings sharing a core (they are host threads scheduled independently).
struct Topology {
    uint32_t index = 0;    // vCPU index
    uint32_t apicId = 0;   // xenApicId(index)
    uint32_t count = 1;    // vCPUs == cores
    uint32_t coreBits = 0; // APIC ID bits that number the cores (above bit 0)
};

// Xen's doubling of a count field "n - 1" for the 2 x index numbering:
// (n - 1) * 2 + 1, i.e. 2n - 1, within `mask`.
uint32_t doubledMinusOne(uint32_t countMinusOne, uint32_t mask) {
    return std::min((countMinusOne << 1) | 1, mask);
}

void removeHypervisorLeaves(CpuidTable& table) {
    std::erase_if(table, [](const CpuidEntry& e) {
        return e.function >= kHypervisorLeafBase && e.function <= kHypervisorLeafLast;
    });
}

// Xen 4.17 gives HVM guests no vPMU unless booted with vpmu=: leaf 0xA reads
// as zeros and AMD's core performance counters are absent. Basalt matches,
// which also lets the VM run with KVM's vPMU off (Vm::setupPlatform), so no
// exit pays for switching performance-counter state.
void hidePmu(CpuidTable& table) {
    for (CpuidEntry& e : table) {
        if (e.function == kLeafArchPerfmon || e.function == kLeafAmdPerfmonV2)
            e.eax = e.ebx = e.ecx = e.edx = 0;
        else if (e.function == kLeafExtendedFeatures)
            e.ecx &= ~kExtendedEcxPerfCtrCore;
    }
}

void setFeatures(CpuidTable& table, const Topology& topo) {
    CpuidEntry* e = findCpuid(table, kLeafFeatures);
    if (!e)
        return;
    e->ecx |= kFeaturesEcxHypervisor;
    e->ebx &=
        ~((kByteMask << kFeaturesEbxApicIdShift) | (kByteMask << kFeaturesEbxLogicalCountShift));
    e->ebx |= (topo.apicId & kByteMask) << kFeaturesEbxApicIdShift;
    // Logical processors per package, doubled as Xen doubles it so that the
    // APIC IDs 0..2(n-1) fit; Xen leaves a value with bit 7 set as it is.
    uint32_t logical = std::min(topo.count, kByteMask);
    if (!(logical & kLogicalCountTopBit))
        logical *= 2;
    e->ebx |= logical << kFeaturesEbxLogicalCountShift;
    // Xen always sets HTT: EBX[23:16] is meaningful (at least 2 APIC IDs).
    e->edx |= kFeaturesEdxHtt;
}

// Xen clears AMD's CmpLegacy (cores reported through HTT instead).
void clearCmpLegacy(CpuidTable& table) {
    if (CpuidEntry* e = findCpuid(table, kLeafExtendedFeatures))
        e->ecx &= ~kExtendedEcxCmpLegacy;
}

// Recent KVM reports only subleaf 0 of these leaves, with no levels ("no
// topology"), older KVM the host's levels; either way the leaf's presence says
// the guest may have it. Replace its subleaves with SMT, core and end levels.
void setExtendedTopology(CpuidTable& table, uint32_t function, const Topology& topo) {
    auto isLeaf = [function](const CpuidEntry& e) { return e.function == function; };
    auto first = std::find_if(table.begin(), table.end(), isLeaf);
    if (first == table.end())
        return;
    auto at = first - table.begin();
    std::erase_if(table, isLeaf);

    // EAX: x2APIC ID bits below the next level; EBX: processors at this level.
    auto level = [&](uint32_t number, uint32_t type, uint32_t shift, uint32_t processors) {
        return CpuidEntry{function,   number,     true,
                          shift,      processors, number | (type << kLevelTypeShift),
                          topo.apicId};
    };
    constexpr uint32_t kOneThread = 1;
    uint32_t cores = std::min(topo.count, kLevelProcessorsMask);
    table.insert(table.begin() + at,
                 {level(kSmtLevel, kLevelTypeSmt, kXenSmtShift, kOneThread),
                  level(kCoreLevel, kLevelTypeCore, kXenSmtShift + topo.coreBits, cores),
                  level(kEndLevel, kLevelTypeInvalid, 0, 0)});
}

// Intel's leaf 4 as Xen adjusts it: cores per package "2n - 1" (the APIC ID
// space of 2 x index) and every cache private to its logical processor
// (threads sharing = 0). KVM passes the host's counts, which describe the
// host, not the guest.
void setIntelCacheTopology(CpuidTable& table, const Topology& topo) {
    for (CpuidEntry& e : table) {
        if (e.function != kLeafCacheParameters || (e.eax & kCacheTypeMask) == 0)
            continue;
        e.eax &=
            ~((kCacheSharingMask << kCacheSharingShift) | (kCacheCoresMask << kCacheCoresShift));
        e.eax |= doubledMinusOne(topo.count - 1, kCacheCoresMask) << kCacheCoresShift;
    }
}

// AMD's cache leaf (Xen passes it through): L1 and L2 belong to one core; L3
// is shared by the package, whose APIC IDs span 0..2n-1 (the guest derives a
// cache's ID from the APIC ID bits above the sharing count).
void setAmdCacheTopology(CpuidTable& table, const Topology& topo) {
    for (CpuidEntry& e : table) {
        if (e.function != kLeafCacheTopology || (e.eax & kCacheTypeMask) == 0)
            continue;
        uint32_t level = (e.eax >> kCacheLevelShift) & kCacheLevelMask;
        uint32_t sharing =
            level >= kPackageCacheLevel ? doubledMinusOne(topo.count - 1, kCacheSharingMask) : 0;
        e.eax &= ~(kCacheSharingMask << kCacheSharingShift);
        e.eax |= sharing << kCacheSharingShift;
    }
}

// AMD's core count. Intel defines these bits as reserved and KVM reports them
// zero there, so only a leaf that carries a count is rewritten: the guest of an
// Intel host keeps its zeros.
void setAmdCoreCount(CpuidTable& table, const Topology& topo) {
    CpuidEntry* e = findCpuid(table, kLeafAddressSizes);
    constexpr uint32_t kFields = kCoreCountMask | (kApicIdSizeMask << kApicIdSizeShift);
    if (!e || (e->ecx & kFields) == 0)
        return;
    // The n-core package first, then Xen's doubling for APIC ID = 2 x index.
    uint32_t cores = std::min(topo.count - 1, kCoreCountMask);
    uint32_t idSize = std::min(topo.coreBits, kApicIdSizeMask);
    if (cores < kXenMaxDoubledCoreCount) {
        if (idSize != 0 && idSize < kXenMaxApicIdSize)
            ++idSize;
        cores = (cores << 1) | 1;
    }
    e->ecx &= ~kFields;
    e->ecx |= cores | (idSize << kApicIdSizeShift);
}

// AMD's per-CPU topology leaf (TOPOEXT), which KVM reports zeroed: extended
// APIC ID (2 x index), core ID (the index: the APIC ID above its SMT bit),
// one thread per core (EBX[15:8] = 0), one node (ECX = 0).
void setAmdProcessorTopology(CpuidTable& table, const Topology& topo) {
    CpuidEntry* e = findCpuid(table, kLeafProcessorTopology);
    if (!e)
        return;
    e->eax = topo.apicId;
    e->ebx = topo.index & kByteMask;
    e->ecx = 0;
    e->edx = 0;
}

std::string hex(uint64_t value) {
    char text[sizeof "0x" + 16];
    std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
    return text;
}

uint64_t lastMsr(const MsrRule& rule) {
    return uint64_t{rule.first} + rule.count - 1;
}

std::string describeRule(size_t index, const MsrRule& rule) {
    return "rule " + std::to_string(index) + " [" + hex(rule.first) + "-" + hex(lastMsr(rule)) +
           "] (" + (rule.why ? rule.why : "") + ")";
}

} // namespace

CpuidTable makeGuestCpuid(const CpuidTable& kvmSupported, const VendorPolicy& vendor,
                          uint32_t vcpuIndex, uint32_t vcpuCount) {
    Topology topo;
    topo.index = vcpuIndex;
    topo.apicId = xenApicId(vcpuIndex);
    topo.count = std::max(vcpuCount, 1u);
    topo.coreBits = static_cast<uint32_t>(std::bit_width(topo.count - 1));

    CpuidTable table = kvmSupported;
    removeHypervisorLeaves(table);
    hidePmu(table);
    setFeatures(table, topo);
    clearCmpLegacy(table);
    setExtendedTopology(table, kLeafExtendedTopology, topo);
    setExtendedTopology(table, kLeafExtendedTopologyV2, topo);
    setIntelCacheTopology(table, topo);
    setAmdCacheTopology(table, topo);
    setAmdCoreCount(table, topo);
    setAmdProcessorTopology(table, topo);
    vendor.adjustCpuid(table);
    return table;
}

std::vector<MsrRule> makeMsrPolicy(const VendorPolicy& vendor) {
    std::vector<MsrRule> rules = vendor.msrRules();

    // Xen 4.17 (xen/arch/x86/msr.c hands 0x40000000-0x400002FF to
    // guest_{rd,wr}msr_xen() in xen/arch/x86/traps.c; with Viridian on, only
    // 0x40000200-0x400002FF): a write of a page-aligned guest address to the
    // base MSR installs the hypercall page there, and a non-zero page index in
    // bits 11:0 or an unusable frame gets #GP. The MSR is write-only but a read
    // does not fault: it returns 0. Every other MSR of the range gets #GP. So
    // both directions go to userspace, where the Xen ABI layer answers reads
    // with 0.
    rules.push_back(MsrRule{kXenHypercallPageMsr, 1, MsrAction::Userspace, true, true,
                            "Xen hypercall page: a write installs it, reads return 0"});
    // The rest of Xen's range faults in Xen. Left to KVM, it would be Hyper-V's
    // synthetic MSRs (hypercall page, SynIC, reference TSC page...), which KVM
    // serves to any guest unless KVM_CAP_HYPERV_ENFORCE_CPUID is on.
    rules.push_back(MsrRule{kXenHypercallPageMsr + 1, kXenMsrRangeLast - kXenHypercallPageMsr,
                            MsrAction::Deny, true, true,
                            "Xen MSR range: #GP in Xen; keeps KVM's Hyper-V MSRs away"});
    // KVM's own PV MSRs, which KVM serves to any guest unless
    // KVM_CAP_ENFORCE_PV_FEATURE_CPUID is on. Guests see Xen, not KVM
    // (makeGuestCpuid removes KVM's CPUID leaves), and Xen has none of these.
    rules.push_back(MsrRule{kKvmLegacyMsrFirst, kKvmLegacyMsrLast - kKvmLegacyMsrFirst + 1,
                            MsrAction::Deny, true, true,
                            "KVM's original kvmclock MSRs: guests see Xen, not KVM"});
    rules.push_back(MsrRule{kKvmMsrFirst, kKvmMsrLast - kKvmMsrFirst + 1, MsrAction::Deny, true,
                            true,
                            "KVM's PV MSRs (kvmclock, async PF, steal time...): guests see "
                            "Xen, not KVM"});
    return rules;
}

std::string checkMsrRules(const std::vector<MsrRule>& rules) {
    std::string problems;
    auto report = [&problems](const std::string& line) {
        if (!problems.empty())
            problems += '\n';
        problems += line;
    };

    for (size_t i = 0; i < rules.size(); ++i) {
        const MsrRule& rule = rules[i];
        if (rule.count == 0)
            report("rule " + std::to_string(i) + " at " + hex(rule.first) + " (" +
                   (rule.why ? rule.why : "") + ") covers no MSR");
        else if (lastMsr(rule) > std::numeric_limits<uint32_t>::max())
            report(describeRule(i, rule) + " runs past the last MSR index");
        if (!rule.read && !rule.write)
            report(describeRule(i, rule) + " applies to neither RDMSR nor WRMSR");
    }

    for (size_t i = 0; i < rules.size(); ++i) {
        for (size_t j = i + 1; j < rules.size(); ++j) {
            const MsrRule& a = rules[i];
            const MsrRule& b = rules[j];
            if (a.count == 0 || b.count == 0)
                continue;
            bool intersect = a.first <= lastMsr(b) && b.first <= lastMsr(a);
            bool reads = a.read && b.read;
            bool writes = a.write && b.write;
            if (!intersect || (!reads && !writes))
                continue;
            std::string access = reads && writes ? "RDMSR and WRMSR" : reads ? "RDMSR" : "WRMSR";
            report(describeRule(i, a) + " and " + describeRule(j, b) + " overlap for " + access +
                   " of " + hex(std::max(a.first, b.first)));
        }
    }
    return problems;
}

} // namespace basalt
