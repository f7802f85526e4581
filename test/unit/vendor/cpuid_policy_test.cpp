// The common CPU policy (vmm/cpuid_policy.cpp) over recorded KVM tables of an
// Intel and an AMD host (test/fixtures/cpuid/).

#include "svm/svm_cpuid.h"
#include "test/unit/vendor/cpuid_fixture.h"
#include "vmm/cpuid_policy.h"
#include "vmx/vmx_cpuid.h"

#include <catch2/catch.hpp>

#include <bit>
#include <set>

using namespace basalt;

namespace {

constexpr const char* kIntelFixture = "cpuid/intel_xeon_emerald_rapids.txt";
constexpr const char* kAmdFixture = "cpuid/amd_epyc_7763_milan.txt";

// KVM_MSR_FILTER_MAX_RANGES: each rule becomes one range of KVM's MSR filter.
constexpr size_t kKvmMsrFilterMaxRanges = 16;

// Leaves and fields the topology policy writes.
constexpr uint32_t kLeafFeatures = 0x1;
constexpr uint32_t kLeafCache = 0x4;
constexpr uint32_t kLeafTopology = 0xB;
constexpr uint32_t kLeafTopologyV2 = 0x1F;
constexpr uint32_t kLeafAddressSizes = 0x80000008;
constexpr uint32_t kLeafAmdCache = 0x8000001D;
constexpr uint32_t kLeafAmdTopology = 0x8000001E;
const std::set<uint32_t> kTopologyLeaves = {kLeafFeatures,    kLeafCache,    kLeafTopology,
                                            kLeafTopologyV2,  kLeafAmdCache, kLeafAmdTopology,
                                            kLeafAddressSizes};
// Performance monitoring, hidden as in Xen without vpmu=.
constexpr uint32_t kLeafArchPerfmon = 0xA;
constexpr uint32_t kLeafAmdPerfmonV2 = 0x80000022;
constexpr uint32_t kExtendedEcxPerfCtrCore = 1u << 23;
const std::set<uint32_t> kPmuLeaves = {kLeafArchPerfmon, kLeafAmdPerfmonV2};

constexpr uint32_t kHypervisorBit = 1u << 31;
constexpr uint32_t kHttBit = 1u << 28;
constexpr uint32_t kLeafExtendedFeatures = 0x80000001;
constexpr uint32_t kCmpLegacyBit = 1u << 1;
constexpr uint32_t kByte = 0xFF;
constexpr uint32_t kLevelTypeSmt = 1;
constexpr uint32_t kLevelTypeCore = 2;
constexpr uint32_t kCacheTypeMask = 0x1F;
constexpr uint32_t kL3 = 3;

uint32_t bits(uint32_t value, unsigned low, unsigned width) {
    return (value >> low) & ((1u << width) - 1);
}

CpuidTable load(const char* name) {
    auto table = test::loadCpuidFixture(test::fixturePath(name));
    INFO((table.ok() ? std::string() : table.error().message));
    REQUIRE(table.ok());
    return *table;
}

const CpuidEntry& entry(const CpuidTable& table, uint32_t function, uint32_t index = 0) {
    const CpuidEntry* e = findCpuid(table, function, index);
    INFO("CPUID " << std::hex << function << "." << index);
    REQUIRE(e);
    return *e;
}

uint32_t coreBits(uint32_t count) {
    return static_cast<uint32_t>(std::bit_width(count - 1));
}

// Xen's numbering, written out independently of xenApicId().
uint32_t expectedApicId(uint32_t index) {
    return index * 2;
}

// Leaf 0xB or 0x1F: SMT level (one thread, but 1 bit of the APIC ID as in
// Xen's 2 x index), core level (count cores above it), end. EDX: x2APIC ID.
void checkExtendedTopology(const CpuidTable& t, uint32_t leaf, uint32_t index, uint32_t count) {
    const CpuidEntry& smt = entry(t, leaf, 0);
    CHECK(smt.eax == 1);
    CHECK(smt.ebx == 1);
    CHECK(bits(smt.ecx, 8, 8) == kLevelTypeSmt);
    CHECK(smt.edx == expectedApicId(index));
    const CpuidEntry& core = entry(t, leaf, 1);
    CHECK(core.eax == coreBits(count) + 1);
    CHECK(core.ebx == count);
    CHECK(bits(core.ecx, 0, 8) == 1);
    CHECK(bits(core.ecx, 8, 8) == kLevelTypeCore);
    CHECK(core.edx == expectedApicId(index));
    // Every vCPU's x2APIC ID fits below the core level's shift.
    CHECK(expectedApicId(count - 1) < (1u << core.eax));
    const CpuidEntry& end = entry(t, leaf, 2);
    CHECK(end.eax == 0);
    CHECK(end.ebx == 0);
    CHECK(end.ecx == 2);
    CHECK(end.edx == expectedApicId(index));
}

void checkCommonTopology(const CpuidTable& t, uint32_t index, uint32_t count) {
    for (const CpuidEntry& e : t) {
        INFO("CPUID " << std::hex << e.function);
        CHECK_FALSE((e.function >= kHypervisorLeafBase && e.function <= kHypervisorLeafLast));
    }
    const CpuidEntry& features = entry(t, kLeafFeatures);
    CHECK((features.ecx & kHypervisorBit) != 0);
    CHECK(bits(features.ebx, 24, 8) == expectedApicId(index));
    // Logical processors per package: doubled as Xen doubles it (the counts
    // tested here stay below Xen's bit-7 overflow guard), HTT always set.
    CHECK(bits(features.ebx, 16, 8) == 2 * count);
    CHECK(bits(features.ebx, 16, 8) > expectedApicId(count - 1));
    CHECK((features.edx & kHttBit) != 0);
    checkExtendedTopology(t, kLeafTopology, index, count);
}

// Intel leaf 4 as Xen leaves it: cores per package 2n - 1, no sharing.
void checkIntelCaches(const CpuidTable& t, uint32_t count) {
    int caches = 0;
    for (const CpuidEntry& e : t) {
        if (e.function != kLeafCache || (e.eax & kCacheTypeMask) == 0)
            continue;
        ++caches;
        CHECK(bits(e.eax, 14, 12) == 0);
        CHECK(bits(e.eax, 26, 6) == 2 * count - 1);
    }
    CHECK(caches == 4);
}

// AMD 0x8000001D: L1/L2 private to a core, L3 shared by the package's APIC
// IDs 0..2n-1 (sharing count - 1 = 2n - 1).
void checkAmdCaches(const CpuidTable& t, uint32_t count) {
    int caches = 0;
    for (const CpuidEntry& e : t) {
        if (e.function != kLeafAmdCache || (e.eax & kCacheTypeMask) == 0)
            continue;
        ++caches;
        uint32_t level = bits(e.eax, 5, 3);
        CHECK(bits(e.eax, 14, 12) == (level == kL3 ? 2 * count - 1 : 0));
    }
    CHECK(caches == 4);
}

} // namespace

TEST_CASE("CPUID fixtures load and name their vendor", "[cpuid]") {
    CHECK(cpuVendorOf(load(kIntelFixture)) == CpuVendor::Intel);
    CHECK(cpuVendorOf(load(kAmdFixture)) == CpuVendor::Amd);
    CHECK_FALSE(test::loadCpuidFixture(test::fixturePath("cpuid/missing.txt")).ok());
}

TEST_CASE("Intel guest CPUID: KVM leaves gone, per-vCPU topology", "[cpuid]") {
    CpuidTable host = load(kIntelFixture);
    auto vmx = makeVmxPolicy();
    REQUIRE(findCpuid(host, kHypervisorLeafBase));
    REQUIRE(findCpuid(host, kHypervisorLeafBase + 1));

    for (uint32_t count : {1u, 2u, 3u, 4u, 8u}) {
        for (uint32_t index = 0; index < count; ++index) {
            INFO(count << " vCPUs, vCPU " << index);
            CpuidTable t = makeGuestCpuid(host, *vmx, index, count);
            checkCommonTopology(t, index, count);
            checkExtendedTopology(t, kLeafTopologyV2, index, count);
            checkIntelCaches(t, count);
            // Reserved on Intel: stays zero.
            CHECK(entry(t, kLeafAddressSizes).ecx == 0);
        }
    }
}

TEST_CASE("AMD guest CPUID: KVM leaves gone, per-vCPU topology", "[cpuid]") {
    CpuidTable host = load(kAmdFixture);
    auto svm = makeSvmPolicy();
    REQUIRE(findCpuid(host, kHypervisorLeafBase));
    // The host reports CmpLegacy, which Xen's HVM topology clears.
    REQUIRE((entry(host, kLeafExtendedFeatures).ecx & kCmpLegacyBit) != 0);

    for (uint32_t count : {1u, 2u, 3u, 4u, 8u}) {
        for (uint32_t index = 0; index < count; ++index) {
            INFO(count << " vCPUs, vCPU " << index);
            CpuidTable t = makeGuestCpuid(host, *svm, index, count);
            checkCommonTopology(t, index, count);
            checkAmdCaches(t, count);
            CHECK((entry(t, kLeafExtendedFeatures).ecx & kCmpLegacyBit) == 0);

            // NC doubled to 2n - 1; ApicIdSize one wider, except 0 (one
            // vCPU: "derive it from NC") which Xen leaves at 0.
            const CpuidEntry& sizes = entry(t, kLeafAddressSizes);
            CHECK(bits(sizes.ecx, 0, 8) == 2 * count - 1);
            CHECK(bits(sizes.ecx, 12, 4) == (count == 1 ? 0 : coreBits(count) + 1));
            CHECK(sizes.eax == entry(host, kLeafAddressSizes).eax);

            const CpuidEntry& topo = entry(t, kLeafAmdTopology);
            CHECK(topo.eax == expectedApicId(index));
            CHECK(bits(topo.ebx, 0, 8) == index);
            CHECK(bits(topo.ebx, 8, 8) == 0); // one thread per core
            CHECK(topo.ecx == 0);             // one node
        }
    }
}

TEST_CASE("Guest CPUID at 128 vCPUs: Xen's overflow guards", "[cpuid]") {
    constexpr uint32_t kCount = 128; // builder::kMaxVcpus
    constexpr uint32_t kLast = kCount - 1;
    SECTION("Intel") {
        CpuidTable t = makeGuestCpuid(load(kIntelFixture), *makeVmxPolicy(), kLast, kCount);
        const CpuidEntry& features = entry(t, kLeafFeatures);
        CHECK(bits(features.ebx, 24, 8) == 254);
        // 128 has bit 7 set: Xen does not double it.
        CHECK(bits(features.ebx, 16, 8) == kCount);
        CHECK(entry(t, kLeafTopology, 0).edx == 254);
        for (const CpuidEntry& e : t)
            if (e.function == kLeafCache && (e.eax & kCacheTypeMask) != 0)
                CHECK(bits(e.eax, 26, 6) == 0x3F); // saturated
    }
    SECTION("AMD") {
        CpuidTable t = makeGuestCpuid(load(kAmdFixture), *makeSvmPolicy(), kLast, kCount);
        CHECK(bits(entry(t, kLeafFeatures).ebx, 24, 8) == 254);
        CHECK(entry(t, kLeafAmdTopology).eax == 254);
        // NC 127 is not below 0x7F: neither NC nor ApicIdSize (7) change.
        const CpuidEntry& sizes = entry(t, kLeafAddressSizes);
        CHECK(bits(sizes.ecx, 0, 8) == kLast);
        CHECK(bits(sizes.ecx, 12, 4) == 7);
    }
}

TEST_CASE("Guest CPUID leaves everything else as KVM reported it", "[cpuid]") {
    struct Case {
        const char* fixture;
        std::unique_ptr<VendorPolicy> vendor;
        std::set<uint32_t> vendorLeaves;
    };
    Case cases[] = {
        {kIntelFixture, makeVmxPolicy(), {vmx::kLeafStructuredFeatures, vmx::kLeafSgx}},
        {kAmdFixture,
         makeSvmPolicy(),
         {svm::kLeafExtendedFeatures, svm::kLeafSvmFeatures, svm::kLeafEncryptedMemory}},
    };
    for (const Case& c : cases) {
        INFO(c.fixture);
        CpuidTable host = load(c.fixture);
        CpuidTable guest = makeGuestCpuid(host, *c.vendor, 1, 2);
        for (const CpuidEntry& e : host) {
            if (kTopologyLeaves.count(e.function) || kPmuLeaves.count(e.function) ||
                c.vendorLeaves.count(e.function) ||
                (e.function >= kHypervisorLeafBase && e.function <= kHypervisorLeafLast))
                continue;
            INFO("CPUID " << std::hex << e.function << "." << e.index);
            const CpuidEntry* g = findCpuid(guest, e.function, e.index);
            REQUIRE(g);
            CHECK(*g == e);
        }
    }
}

TEST_CASE("Guest CPUID hides nested virtualization", "[cpuid]") {
    SECTION("Intel: VMX") {
        CpuidTable host = load(kIntelFixture);
        // This host's KVM has no nested VMX; a KVM with nested=1 reports it.
        findCpuid(host, vmx::kLeafFeatures)->ecx |= vmx::kFeaturesEcxVmx;
        CpuidTable guest = makeGuestCpuid(host, *makeVmxPolicy(), 0, 1);
        CHECK((entry(guest, vmx::kLeafFeatures).ecx & vmx::kFeaturesEcxVmx) == 0);
    }
    SECTION("AMD: SVM, its feature leaf and SEV") {
        CpuidTable host = load(kAmdFixture);
        REQUIRE((entry(host, svm::kLeafExtendedFeatures).ecx & svm::kExtendedFeaturesEcxSvm) != 0);
        CpuidTable guest = makeGuestCpuid(host, *makeSvmPolicy(), 0, 1);
        const CpuidEntry& features = entry(guest, svm::kLeafExtendedFeatures);
        CHECK((features.ecx & svm::kExtendedFeaturesEcxSvm) == 0);
        // Only SVM, the core performance counters and CmpLegacy (Xen's
        // topology) are taken away.
        CHECK(features.ecx ==
              (entry(host, svm::kLeafExtendedFeatures).ecx &
               ~(svm::kExtendedFeaturesEcxSvm | kExtendedEcxPerfCtrCore | kCmpLegacyBit)));
        const CpuidEntry& svmLeaf = entry(guest, svm::kLeafSvmFeatures);
        CHECK((svmLeaf.eax | svmLeaf.ebx | svmLeaf.ecx | svmLeaf.edx) == 0);
        const CpuidEntry& sev = entry(guest, svm::kLeafEncryptedMemory);
        CHECK((sev.eax | sev.ebx | sev.ecx | sev.edx) == 0);
    }
}

TEST_CASE("Guest CPUID hides the PMU, as Xen without vpmu=", "[cpuid]") {
    SECTION("Intel: leaf 0xA reads as zeros") {
        CpuidTable host = load(kIntelFixture);
        CpuidEntry* perfmon = findCpuid(host, kLeafArchPerfmon);
        REQUIRE(perfmon);
        perfmon->eax = 0x07300805; // version 5, 8 counters of 48 bits: a KVM with a vPMU
        perfmon->edx = 0x00008603;
        CpuidTable guest = makeGuestCpuid(host, *makeVmxPolicy(), 0, 1);
        const CpuidEntry& g = entry(guest, kLeafArchPerfmon);
        CHECK((g.eax | g.ebx | g.ecx | g.edx) == 0);
    }
    SECTION("AMD: no core performance counters, no PerfMonV2") {
        CpuidTable host = load(kAmdFixture);
        findCpuid(host, svm::kLeafExtendedFeatures)->ecx |= kExtendedEcxPerfCtrCore;
        if (CpuidEntry* v2 = findCpuid(host, kLeafAmdPerfmonV2))
            v2->eax = 0x3, v2->ebx = 0x6; // PerfMonV2, 6 core counters
        else
            host.push_back(CpuidEntry{kLeafAmdPerfmonV2, 0, false, 0x3, 0x6, 0, 0});
        CpuidTable guest = makeGuestCpuid(host, *makeSvmPolicy(), 0, 1);
        CHECK((entry(guest, svm::kLeafExtendedFeatures).ecx & kExtendedEcxPerfCtrCore) == 0);
        const CpuidEntry& v2 = entry(guest, kLeafAmdPerfmonV2);
        CHECK((v2.eax | v2.ebx | v2.ecx | v2.edx) == 0);
    }
}

TEST_CASE("MSR policy: sound, within KVM's filter, Xen hypercall MSR to userspace", "[msr]") {
    std::vector<std::unique_ptr<VendorPolicy>> vendors;
    vendors.push_back(makeVmxPolicy());
    vendors.push_back(makeSvmPolicy());
    for (const auto& vendor : vendors) {
        INFO(std::string(vendor->name()));
        std::vector<MsrRule> rules = makeMsrPolicy(*vendor);
        CHECK(checkMsrRules(rules) == "");
        CHECK(rules.size() <= kKvmMsrFilterMaxRanges);
        for (const MsrRule& vendorRule : vendor->msrRules())
            CHECK(std::any_of(rules.begin(), rules.end(), [&](const MsrRule& r) {
                return r.first == vendorRule.first && r.count == vendorRule.count;
            }));

        auto xen = std::find_if(rules.begin(), rules.end(), [](const MsrRule& r) {
            return r.first <= kXenHypercallPageMsr && kXenHypercallPageMsr - r.first < r.count;
        });
        REQUIRE(xen != rules.end());
        CHECK(xen->first == kXenHypercallPageMsr);
        CHECK(xen->count == 1);
        CHECK(xen->action == MsrAction::Userspace);
        CHECK(xen->read);
        CHECK(xen->write);
    }
}

TEST_CASE("checkMsrRules reports broken rule sets", "[msr]") {
    constexpr uint32_t kBase = 0x1000;
    constexpr uint32_t kLastMsr = 0xFFFFFFFF;
    MsrRule a{kBase, 0x10, MsrAction::Deny, true, true, "a"};
    MsrRule b{kBase + 0xF, 1, MsrAction::Deny, true, true, "b"};
    MsrRule adjacent{kBase + 0x10, 1, MsrAction::Deny, true, true, "adjacent"};
    MsrRule readOnly{kBase, 1, MsrAction::Userspace, true, false, "read"};
    MsrRule writeOnly{kBase, 1, MsrAction::Deny, false, true, "write"};

    CHECK(checkMsrRules({}) == "");
    CHECK(checkMsrRules({a, adjacent}) == "");
    CHECK(checkMsrRules({readOnly, writeOnly}) == "");

    std::string overlap = checkMsrRules({a, b});
    CHECK(overlap.find("overlap") != std::string::npos);
    CHECK(overlap.find("0x100f") != std::string::npos);
    CHECK(overlap.find("(a)") != std::string::npos);
    CHECK(overlap.find("(b)") != std::string::npos);
    CHECK(checkMsrRules({a, writeOnly}).find("overlap for WRMSR") != std::string::npos);

    CHECK(checkMsrRules({MsrRule{kBase, 0, MsrAction::Deny, true, true, "empty"}})
              .find("covers no MSR") != std::string::npos);
    CHECK(checkMsrRules({MsrRule{kLastMsr, 2, MsrAction::Deny, true, true, "wraps"}})
              .find("runs past") != std::string::npos);
    CHECK(
        checkMsrRules({MsrRule{kBase, 1, MsrAction::Deny, false, false, "idle"}}).find("neither") !=
        std::string::npos);
}
