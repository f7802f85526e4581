#include "svm/svm_exit_codes.h"

#include <array>
#include <cstdio>
#include <string_view>

namespace basalt::svm {

namespace {

// The lowest 32-bit truncation of a negative code we recognise (-4).
constexpr uint64_t kTruncatedNegativeFirst = static_cast<uint32_t>(ExitCode::InvalidPmc);
constexpr uint64_t kTruncatedNegativeLast = static_cast<uint32_t>(ExitCode::Invalid);
constexpr uint64_t kUpperHalf = 0xFFFFFFFF00000000ull;

// x86 exception mnemonics by vector; empty for reserved vectors (and 9, the
// legacy coprocessor segment overrun, which has none).
constexpr std::array<std::string_view, kExceptionCount> kExceptionMnemonics = {
    "DE", "DB", "NMI", "BP", "OF", "BR", "UD", "NM", "DF", "", "TS", "NP", "SS", "GP", "PF", "",
    "MF", "AC", "MC",  "XM", "VE", "CP", "",   "",   "",   "", "",   "",   "HV", "VC", "SX", "",
};

std::string hex(uint64_t value) {
    char text[sizeof "0x" + 16];
    std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
    return text;
}

bool inRange(uint64_t code, uint64_t first, uint64_t count) {
    return code >= first && code - first < count;
}

std::string exceptionName(uint64_t code) {
    uint64_t vector = code - kExitExceptionFirst;
    std::string_view mnemonic = kExceptionMnemonics[vector];
    std::string label = mnemonic.empty() ? std::to_string(vector) : std::string(mnemonic);
    return "EXCP_" + label + " (" + hex(code) + ")";
}

std::string_view fixedName(ExitCode code) {
    switch (code) {
    case ExitCode::Intr:
        return "INTR";
    case ExitCode::Nmi:
        return "NMI";
    case ExitCode::Smi:
        return "SMI";
    case ExitCode::Init:
        return "INIT";
    case ExitCode::Vintr:
        return "VINTR";
    case ExitCode::Cr0SelWrite:
        return "CR0_SEL_WRITE";
    case ExitCode::IdtrRead:
        return "IDTR_READ";
    case ExitCode::GdtrRead:
        return "GDTR_READ";
    case ExitCode::LdtrRead:
        return "LDTR_READ";
    case ExitCode::TrRead:
        return "TR_READ";
    case ExitCode::IdtrWrite:
        return "IDTR_WRITE";
    case ExitCode::GdtrWrite:
        return "GDTR_WRITE";
    case ExitCode::LdtrWrite:
        return "LDTR_WRITE";
    case ExitCode::TrWrite:
        return "TR_WRITE";
    case ExitCode::Rdtsc:
        return "RDTSC";
    case ExitCode::Rdpmc:
        return "RDPMC";
    case ExitCode::Pushf:
        return "PUSHF";
    case ExitCode::Popf:
        return "POPF";
    case ExitCode::Cpuid:
        return "CPUID";
    case ExitCode::Rsm:
        return "RSM";
    case ExitCode::Iret:
        return "IRET";
    case ExitCode::Swint:
        return "SWINT";
    case ExitCode::Invd:
        return "INVD";
    case ExitCode::Pause:
        return "PAUSE";
    case ExitCode::Hlt:
        return "HLT";
    case ExitCode::Invlpg:
        return "INVLPG";
    case ExitCode::Invlpga:
        return "INVLPGA";
    case ExitCode::Ioio:
        return "IOIO";
    case ExitCode::Msr:
        return "MSR";
    case ExitCode::TaskSwitch:
        return "TASK_SWITCH";
    case ExitCode::FerrFreeze:
        return "FERR_FREEZE";
    case ExitCode::Shutdown:
        return "SHUTDOWN";
    case ExitCode::Vmrun:
        return "VMRUN";
    case ExitCode::Vmmcall:
        return "VMMCALL";
    case ExitCode::Vmload:
        return "VMLOAD";
    case ExitCode::Vmsave:
        return "VMSAVE";
    case ExitCode::Stgi:
        return "STGI";
    case ExitCode::Clgi:
        return "CLGI";
    case ExitCode::Skinit:
        return "SKINIT";
    case ExitCode::Rdtscp:
        return "RDTSCP";
    case ExitCode::Icebp:
        return "ICEBP";
    case ExitCode::Wbinvd:
        return "WBINVD";
    case ExitCode::Monitor:
        return "MONITOR";
    case ExitCode::Mwait:
        return "MWAIT";
    case ExitCode::MwaitConditional:
        return "MWAIT_CONDITIONAL";
    case ExitCode::Xsetbv:
        return "XSETBV";
    case ExitCode::Rdpru:
        return "RDPRU";
    case ExitCode::EferWriteTrap:
        return "EFER_WRITE_TRAP";
    case ExitCode::Invlpgb:
        return "INVLPGB";
    case ExitCode::InvlpgbIllegal:
        return "INVLPGB_ILLEGAL";
    case ExitCode::Invpcid:
        return "INVPCID";
    case ExitCode::Mcommit:
        return "MCOMMIT";
    case ExitCode::Tlbsync:
        return "TLBSYNC";
    case ExitCode::Buslock:
        return "BUSLOCK";
    case ExitCode::IdleHlt:
        return "IDLE_HLT";
    case ExitCode::Npf:
        return "NPF";
    case ExitCode::AvicIncompleteIpi:
        return "AVIC_INCOMPLETE_IPI";
    case ExitCode::AvicNoaccel:
        return "AVIC_NOACCEL";
    case ExitCode::Vmgexit:
        return "VMGEXIT";
    case ExitCode::Invalid:
        return "INVALID";
    case ExitCode::Busy:
        return "BUSY";
    case ExitCode::IdleRequired:
        return "IDLE_REQUIRED";
    case ExitCode::InvalidPmc:
        return "INVALID_PMC";
    }
    return {};
}

} // namespace

uint64_t normalizeExitCode(uint64_t code) {
    if (code >= kTruncatedNegativeFirst && code <= kTruncatedNegativeLast)
        return code | kUpperHalf;
    return code;
}

std::string exitCodeName(uint64_t rawCode) {
    uint64_t code = normalizeExitCode(rawCode);
    if (inRange(code, kExitCrReadFirst, kRegisterCount))
        return "CR" + std::to_string(code - kExitCrReadFirst) + "_READ";
    if (inRange(code, kExitCrWriteFirst, kRegisterCount))
        return "CR" + std::to_string(code - kExitCrWriteFirst) + "_WRITE";
    if (inRange(code, kExitDrReadFirst, kRegisterCount))
        return "DR" + std::to_string(code - kExitDrReadFirst) + "_READ";
    if (inRange(code, kExitDrWriteFirst, kRegisterCount))
        return "DR" + std::to_string(code - kExitDrWriteFirst) + "_WRITE";
    if (inRange(code, kExitExceptionFirst, kExceptionCount))
        return exceptionName(code);
    if (inRange(code, kExitCrWriteTrapFirst, kRegisterCount))
        return "CR" + std::to_string(code - kExitCrWriteTrapFirst) + "_WRITE_TRAP";
    std::string_view name = fixedName(static_cast<ExitCode>(code));
    return name.empty() ? "unknown (" + hex(rawCode) + ")" : std::string(name);
}

} // namespace basalt::svm
