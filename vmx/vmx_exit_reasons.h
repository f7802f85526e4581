#pragma once
// VMX basic exit reasons, as numbered in the Intel SDM (vol. 3, appendix C).
// KVM hands them to userspace in KVM_EXIT_FAIL_ENTRY and in some
// KVM_EXIT_INTERNAL_ERROR reports; Basalt only names them for diagnostics.

#include <cstdint>
#include <string_view>

namespace basalt::vmx {

// Bits 15:0 of the 32-bit exit-reason field; the bits above are flags.
inline constexpr uint32_t kBasicExitReasonMask = 0xFFFF;
// Bit 31: the exit is a VM-entry failure (the guest never ran).
inline constexpr uint32_t kExitReasonEntryFailure = 1u << 31;

enum class ExitReason : uint16_t {
    ExceptionNmi = 0,
    ExternalInterrupt = 1,
    TripleFault = 2,
    Init = 3,
    Sipi = 4,
    IoSmi = 5,
    OtherSmi = 6,
    InterruptWindow = 7,
    NmiWindow = 8,
    TaskSwitch = 9,
    Cpuid = 10,
    Getsec = 11,
    Hlt = 12,
    Invd = 13,
    Invlpg = 14,
    Rdpmc = 15,
    Rdtsc = 16,
    Rsm = 17,
    Vmcall = 18,
    Vmclear = 19,
    Vmlaunch = 20,
    Vmptrld = 21,
    Vmptrst = 22,
    Vmread = 23,
    Vmresume = 24,
    Vmwrite = 25,
    Vmxoff = 26,
    Vmxon = 27,
    CrAccess = 28,
    DrAccess = 29,
    IoInstruction = 30,
    MsrRead = 31,
    MsrWrite = 32,
    InvalidGuestState = 33, // VM-entry failure
    MsrLoading = 34,        // VM-entry failure
    Mwait = 36,
    MonitorTrapFlag = 37,
    Monitor = 39,
    Pause = 40,
    MachineCheck = 41, // VM-entry failure
    TprBelowThreshold = 43,
    ApicAccess = 44,
    VirtualizedEoi = 45,
    GdtrIdtrAccess = 46,
    LdtrTrAccess = 47,
    EptViolation = 48,
    EptMisconfig = 49,
    Invept = 50,
    Rdtscp = 51,
    PreemptionTimer = 52,
    Invvpid = 53,
    Wbinvd = 54,
    Xsetbv = 55,
    ApicWrite = 56,
    Rdrand = 57,
    Invpcid = 58,
    Vmfunc = 59,
    Encls = 60,
    Rdseed = 61,
    PmlFull = 62,
    Xsaves = 63,
    Xrstors = 64,
    Pconfig = 65,
    SppEvent = 66,
    Umwait = 67,
    Tpause = 68,
    Loadiwkey = 69,
    Enclv = 70,
    EnqcmdPasidFailure = 72,
    EnqcmdsPasidFailure = 73,
    BusLock = 74,
    Notify = 75, // "instruction timeout"
    Seamcall = 76,
    Tdcall = 77,
    Rdmsrlist = 78,
    Wrmsrlist = 79,
    Urdmsr = 80,
    Uwrmsr = 81,
    RdmsrImmediate = 84,
    WrmsrnsImmediate = 85,
};

// "EPT_VIOLATION" for a basic exit reason; empty if the SDM defines none.
std::string_view basicExitReasonName(uint16_t basicReason);

} // namespace basalt::vmx
