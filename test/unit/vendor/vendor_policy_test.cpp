// The Intel (vmx/) and AMD (svm/) halves of the CPU policy on their own.

#include "svm/svm_cpuid.h"
#include "svm/svm_msrs.h"
#include "vmm/vendor_policy.h"
#include "vmx/vmx_cpuid.h"
#include "vmx/vmx_msrs.h"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace basalt;

namespace {

constexpr uint32_t kUnrelatedBit = 1u << 0; // a feature bit no policy touches
constexpr uint32_t kSgxSubleafCount = 3;
constexpr uint64_t kEntryFailure = 0x80000000;

// VMX basic exit reasons the SDM leaves unassigned.
constexpr uint16_t kVmxUnassigned[] = {35, 38, 42, 71, 82, 83};
constexpr uint16_t kVmxLastAssigned = 85;

const MsrRule* ruleCovering(const std::vector<MsrRule>& rules, uint32_t msr) {
    for (const MsrRule& rule : rules)
        if (msr >= rule.first && msr - rule.first < rule.count)
            return &rule;
    return nullptr;
}

bool startsWith(const std::string& text, const std::string& prefix) {
    return text.compare(0, prefix.size(), prefix) == 0;
}

} // namespace

TEST_CASE("VMX policy: identity", "[vmx]") {
    auto policy = makeVmxPolicy();
    CHECK(policy->vendor() == CpuVendor::Intel);
    CHECK(policy->name() == "Intel VT-x");
}

TEST_CASE("VMX policy: hides VMX and SGX, keeps the rest", "[vmx]") {
    CpuidTable table{
        {vmx::kLeafFeatures, 0, false, 0, 0, vmx::kFeaturesEcxVmx | kUnrelatedBit, kUnrelatedBit},
        {vmx::kLeafStructuredFeatures, 0, true, 0, vmx::kStructuredEbxSgx | kUnrelatedBit,
         vmx::kStructuredEcxSgxLaunchControl | kUnrelatedBit, kUnrelatedBit},
    };
    for (uint32_t i = 0; i < kSgxSubleafCount; ++i)
        table.push_back({vmx::kLeafSgx, i, true, ~0u, ~0u, ~0u, ~0u});

    makeVmxPolicy()->adjustCpuid(table);

    const CpuidEntry* features = findCpuid(table, vmx::kLeafFeatures);
    REQUIRE(features);
    CHECK(features->ecx == kUnrelatedBit);
    CHECK(features->edx == kUnrelatedBit);
    const CpuidEntry* structured = findCpuid(table, vmx::kLeafStructuredFeatures, 0);
    REQUIRE(structured);
    CHECK(structured->ebx == kUnrelatedBit);
    CHECK(structured->ecx == kUnrelatedBit);
    CHECK(structured->edx == kUnrelatedBit);
    for (uint32_t i = 0; i < kSgxSubleafCount; ++i) {
        const CpuidEntry* sgx = findCpuid(table, vmx::kLeafSgx, i);
        REQUIRE(sgx);
        CHECK((sgx->eax | sgx->ebx | sgx->ecx | sgx->edx) == 0);
    }
}

TEST_CASE("VMX policy: denies the VMX capability MSRs, leaves FEATURE_CONTROL", "[vmx]") {
    auto rules = makeVmxPolicy()->msrRules();
    for (uint32_t msr = vmx::kMsrVmxBasic; msr <= vmx::kMsrVmxExitCtls2; ++msr) {
        const MsrRule* rule = ruleCovering(rules, msr);
        REQUIRE(rule);
        CHECK(rule->action == MsrAction::Deny);
        CHECK(rule->read);
        CHECK(rule->write);
    }
    CHECK(ruleCovering(rules, vmx::kMsrVmxVmfunc));
    CHECK_FALSE(ruleCovering(rules, vmx::kMsrVmxBasic - 1));
    CHECK_FALSE(ruleCovering(rules, vmx::kMsrVmxExitCtls2 + 1));
    CHECK_FALSE(ruleCovering(rules, vmx::kMsrFeatureControl));
}

TEST_CASE("VMX policy: entry failures", "[vmx]") {
    auto policy = makeVmxPolicy();

    std::string invalidState = policy->describeEntryFailure(kEntryFailure | 33);
    CHECK(startsWith(invalidState,
                     "VM entry failed: invalid guest state (VMX exit reason 33, 0x80000021)"));
    CHECK(invalidState.find("CR0") != std::string::npos);
    CHECK(invalidState.find("EFER") != std::string::npos);
    CHECK(invalidState.find("segment") != std::string::npos);

    CHECK(startsWith(policy->describeEntryFailure(kEntryFailure | 34),
                     "VM entry failed: MSR loading (VMX exit reason 34, 0x80000022)"));
    CHECK(startsWith(policy->describeEntryFailure(kEntryFailure | 41),
                     "VM entry failed: machine-check event (VMX exit reason 41, 0x80000029)"));
    CHECK(policy->describeEntryFailure(kEntryFailure | 48) ==
          "VM entry failed: EPT_VIOLATION (VMX exit reason 48, 0x80000030)");
    CHECK(policy->describeEntryFailure(kEntryFailure | 99) ==
          "VM entry failed: unknown exit reason (VMX exit reason 99, 0x80000063)");

    // Without bit 31, KVM passes VMLAUNCH/VMRESUME's VM-instruction error.
    CHECK(policy->describeEntryFailure(7) ==
          "VM entry failed: VMLAUNCH/VMRESUME reported VM-instruction error 7 (VM entry with "
          "invalid control field(s))");
    CHECK(policy->describeEntryFailure(8) ==
          "VM entry failed: VMLAUNCH/VMRESUME reported VM-instruction error 8 (VM entry with "
          "invalid host-state field(s))");
    CHECK(policy->describeEntryFailure(14) ==
          "VM entry failed: VMLAUNCH/VMRESUME reported VM-instruction error 14 (not defined by "
          "the SDM)");
    CHECK(policy->describeEntryFailure(0x123456789ull) ==
          "VM entry failed: unrecognized VMX failure reason 0x123456789");
}

TEST_CASE("VMX policy: exit-reason names", "[vmx]") {
    auto policy = makeVmxPolicy();
    CHECK(policy->exitReasonName(0) == "EXCEPTION_NMI");
    CHECK(policy->exitReasonName(1) == "EXTERNAL_INTERRUPT");
    CHECK(policy->exitReasonName(2) == "TRIPLE_FAULT");
    CHECK(policy->exitReasonName(3) == "INIT");
    CHECK(policy->exitReasonName(4) == "SIPI");
    CHECK(policy->exitReasonName(10) == "CPUID");
    CHECK(policy->exitReasonName(12) == "HLT");
    CHECK(policy->exitReasonName(18) == "VMCALL");
    CHECK(policy->exitReasonName(30) == "IO_INSTRUCTION");
    CHECK(policy->exitReasonName(33) == "INVALID_GUEST_STATE");
    CHECK(policy->exitReasonName(48) == "EPT_VIOLATION");
    CHECK(policy->exitReasonName(49) == "EPT_MISCONFIG");
    CHECK(policy->exitReasonName(63) == "XSAVES");
    CHECK(policy->exitReasonName(64) == "XRSTORS");
    CHECK(policy->exitReasonName(74) == "BUS_LOCK");
    CHECK(policy->exitReasonName(75) == "NOTIFY");
    // Flags above bit 15 do not change the name.
    CHECK(policy->exitReasonName(kEntryFailure | 33) == "INVALID_GUEST_STATE");

    CHECK(policy->exitReasonName(35) == "unknown (0x23)");
    CHECK(policy->exitReasonName(1000) == "unknown (0x3e8)");
    CHECK(policy->exitReasonName(0x100000000ull) == "unknown (0x100000000)");

    for (uint16_t reason = 0; reason <= kVmxLastAssigned; ++reason) {
        bool assigned = std::find(std::begin(kVmxUnassigned), std::end(kVmxUnassigned), reason) ==
                        std::end(kVmxUnassigned);
        INFO("VMX exit reason " << reason);
        CHECK(startsWith(policy->exitReasonName(reason), "unknown") == !assigned);
    }
}

TEST_CASE("SVM policy: identity", "[svm]") {
    auto policy = makeSvmPolicy();
    CHECK(policy->vendor() == CpuVendor::Amd);
    CHECK(policy->name() == "AMD-V");
}

TEST_CASE("SVM policy: hides SVM, its feature leaf and SEV, keeps the rest", "[svm]") {
    CpuidTable table{
        {svm::kLeafExtendedFeatures, 0, false, kUnrelatedBit, kUnrelatedBit,
         svm::kExtendedFeaturesEcxSvm | kUnrelatedBit, kUnrelatedBit},
        {svm::kLeafSvmFeatures, 0, false, 1, 8, 0, ~0u},
        {svm::kLeafEncryptedMemory, 0, false, ~0u, ~0u, ~0u, ~0u},
    };

    makeSvmPolicy()->adjustCpuid(table);

    const CpuidEntry* features = findCpuid(table, svm::kLeafExtendedFeatures);
    REQUIRE(features);
    CHECK(features->ecx == kUnrelatedBit);
    CHECK(features->eax == kUnrelatedBit);
    CHECK(features->edx == kUnrelatedBit);
    const CpuidEntry* svmLeaf = findCpuid(table, svm::kLeafSvmFeatures);
    REQUIRE(svmLeaf);
    CHECK((svmLeaf->eax | svmLeaf->ebx | svmLeaf->ecx | svmLeaf->edx) == 0);
    const CpuidEntry* sev = findCpuid(table, svm::kLeafEncryptedMemory);
    REQUIRE(sev);
    CHECK((sev->eax | sev->ebx | sev->ecx | sev->edx) == 0);
}

TEST_CASE("SVM policy: VM_CR writes and VM_HSAVE_PA are denied", "[svm]") {
    auto rules = makeSvmPolicy()->msrRules();
    const MsrRule* vmCr = ruleCovering(rules, svm::kMsrVmCr);
    REQUIRE(vmCr);
    CHECK(vmCr->action == MsrAction::Deny);
    CHECK_FALSE(vmCr->read);
    CHECK(vmCr->write);
    const MsrRule* hsave = ruleCovering(rules, svm::kMsrVmHsavePa);
    REQUIRE(hsave);
    CHECK(hsave->action == MsrAction::Deny);
    CHECK(hsave->read);
    CHECK(hsave->write);
}

TEST_CASE("SVM policy: entry failures", "[svm]") {
    auto policy = makeSvmPolicy();
    const std::string invalid = "VM entry failed: VMRUN rejected the VMCB (invalid guest state, "
                                "SVM exit code VMEXIT_INVALID)";
    CHECK(startsWith(policy->describeEntryFailure(~0ull), invalid));
    CHECK(policy->describeEntryFailure(~0ull).find("EFER") != std::string::npos);
    // Kernels that kept EXITCODE in 32 bits report -1 truncated.
    CHECK(startsWith(policy->describeEntryFailure(0xFFFFFFFFull), invalid));
    CHECK(policy->describeEntryFailure(static_cast<uint64_t>(-2)).find("VMEXIT_BUSY") !=
          std::string::npos);
    CHECK(policy->describeEntryFailure(static_cast<uint64_t>(-3)).find("VMEXIT_IDLE_REQUIRED") !=
          std::string::npos);
    CHECK(policy->describeEntryFailure(static_cast<uint64_t>(-4)).find("VMEXIT_INVALID_PMC") !=
          std::string::npos);
    CHECK(policy->describeEntryFailure(0x78) == "VM entry failed: unexpected SVM exit code HLT");
    CHECK(policy->describeEntryFailure(0x12345) ==
          "VM entry failed: unexpected SVM exit code unknown (0x12345)");
}

TEST_CASE("SVM policy: exit-code names", "[svm]") {
    auto policy = makeSvmPolicy();
    CHECK(policy->exitReasonName(0x00) == "CR0_READ");
    CHECK(policy->exitReasonName(0x03) == "CR3_READ");
    CHECK(policy->exitReasonName(0x14) == "CR4_WRITE");
    CHECK(policy->exitReasonName(0x27) == "DR7_READ");
    CHECK(policy->exitReasonName(0x37) == "DR7_WRITE");
    CHECK(policy->exitReasonName(0x40) == "EXCP_DE (0x40)");
    CHECK(policy->exitReasonName(0x42) == "EXCP_NMI (0x42)");
    CHECK(policy->exitReasonName(0x49) == "EXCP_9 (0x49)");
    CHECK(policy->exitReasonName(0x4d) == "EXCP_GP (0x4d)");
    CHECK(policy->exitReasonName(0x4e) == "EXCP_PF (0x4e)");
    CHECK(policy->exitReasonName(0x5d) == "EXCP_VC (0x5d)");
    CHECK(policy->exitReasonName(0x5f) == "EXCP_31 (0x5f)");
    CHECK(policy->exitReasonName(0x60) == "INTR");
    CHECK(policy->exitReasonName(0x61) == "NMI");
    CHECK(policy->exitReasonName(0x64) == "VINTR");
    CHECK(policy->exitReasonName(0x72) == "CPUID");
    CHECK(policy->exitReasonName(0x78) == "HLT");
    CHECK(policy->exitReasonName(0x7b) == "IOIO");
    CHECK(policy->exitReasonName(0x7c) == "MSR");
    CHECK(policy->exitReasonName(0x7f) == "SHUTDOWN");
    CHECK(policy->exitReasonName(0x80) == "VMRUN");
    CHECK(policy->exitReasonName(0x81) == "VMMCALL");
    CHECK(policy->exitReasonName(0x8f) == "EFER_WRITE_TRAP");
    CHECK(policy->exitReasonName(0x94) == "CR4_WRITE_TRAP");
    CHECK(policy->exitReasonName(0x9f) == "CR15_WRITE_TRAP");
    CHECK(policy->exitReasonName(0xa5) == "BUSLOCK");
    CHECK(policy->exitReasonName(0xa6) == "IDLE_HLT");
    CHECK(policy->exitReasonName(0x400) == "NPF");
    CHECK(policy->exitReasonName(0x401) == "AVIC_INCOMPLETE_IPI");
    CHECK(policy->exitReasonName(0x402) == "AVIC_NOACCEL");
    CHECK(policy->exitReasonName(0x403) == "VMGEXIT");
    CHECK(policy->exitReasonName(~0ull) == "INVALID");
    CHECK(policy->exitReasonName(0xFFFFFFFFull) == "INVALID");
    CHECK(policy->exitReasonName(static_cast<uint64_t>(-2)) == "BUSY");

    CHECK(policy->exitReasonName(0xa7) == "unknown (0xa7)");
    CHECK(policy->exitReasonName(0x404) == "unknown (0x404)");
    CHECK(policy->exitReasonName(static_cast<uint64_t>(-5)) == "unknown (0xfffffffffffffffb)");
}
