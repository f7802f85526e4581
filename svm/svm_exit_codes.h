#pragma once
// SVM exit codes (EXITCODE, VMCB offset 0x70), as numbered in the AMD APM
// vol. 2, appendix C. KVM hands them to userspace in KVM_EXIT_FAIL_ENTRY and in
// some KVM_EXIT_INTERNAL_ERROR reports; Basalt only names them for diagnostics.

#include <cstdint>
#include <string>

namespace basalt::svm {

// Ranges: one code per control/debug register or exception vector.
inline constexpr uint64_t kExitCrReadFirst = 0x00;      // CR0_READ .. CR15_READ
inline constexpr uint64_t kExitCrWriteFirst = 0x10;     // CR0_WRITE .. CR15_WRITE
inline constexpr uint64_t kExitDrReadFirst = 0x20;      // DR0_READ .. DR15_READ
inline constexpr uint64_t kExitDrWriteFirst = 0x30;     // DR0_WRITE .. DR15_WRITE
inline constexpr uint64_t kExitExceptionFirst = 0x40;   // EXCP0 .. EXCP31
inline constexpr uint64_t kExitCrWriteTrapFirst = 0x90; // CR0_WRITE_TRAP .. CR15_WRITE_TRAP
inline constexpr uint64_t kRegisterCount = 16;
inline constexpr uint64_t kExceptionCount = 32;

enum class ExitCode : uint64_t {
    Intr = 0x60,
    Nmi = 0x61,
    Smi = 0x62,
    Init = 0x63,
    Vintr = 0x64,
    Cr0SelWrite = 0x65,
    IdtrRead = 0x66,
    GdtrRead = 0x67,
    LdtrRead = 0x68,
    TrRead = 0x69,
    IdtrWrite = 0x6A,
    GdtrWrite = 0x6B,
    LdtrWrite = 0x6C,
    TrWrite = 0x6D,
    Rdtsc = 0x6E,
    Rdpmc = 0x6F,
    Pushf = 0x70,
    Popf = 0x71,
    Cpuid = 0x72,
    Rsm = 0x73,
    Iret = 0x74,
    Swint = 0x75,
    Invd = 0x76,
    Pause = 0x77,
    Hlt = 0x78,
    Invlpg = 0x79,
    Invlpga = 0x7A,
    Ioio = 0x7B,
    Msr = 0x7C,
    TaskSwitch = 0x7D,
    FerrFreeze = 0x7E,
    Shutdown = 0x7F,
    Vmrun = 0x80,
    Vmmcall = 0x81,
    Vmload = 0x82,
    Vmsave = 0x83,
    Stgi = 0x84,
    Clgi = 0x85,
    Skinit = 0x86,
    Rdtscp = 0x87,
    Icebp = 0x88,
    Wbinvd = 0x89,
    Monitor = 0x8A,
    Mwait = 0x8B,
    MwaitConditional = 0x8C,
    Xsetbv = 0x8D,
    Rdpru = 0x8E,
    EferWriteTrap = 0x8F,
    Invlpgb = 0xA0,
    InvlpgbIllegal = 0xA1,
    Invpcid = 0xA2,
    Mcommit = 0xA3,
    Tlbsync = 0xA4,
    Buslock = 0xA5,
    IdleHlt = 0xA6,
    Npf = 0x400,
    AvicIncompleteIpi = 0x401,
    AvicNoaccel = 0x402,
    Vmgexit = 0x403,
    // The negative codes are VMRUN failures: the guest never ran.
    Invalid = static_cast<uint64_t>(-1),      // invalid guest state in the VMCB
    Busy = static_cast<uint64_t>(-2),         // BUSY bit set in the VMSA (SEV-SNP)
    IdleRequired = static_cast<uint64_t>(-3), // sibling thread not idle
    InvalidPmc = static_cast<uint64_t>(-4),   // invalid PMC state
};

// Kernels that kept EXITCODE in 32 bits report -1 as 0xffffffff; widen those
// so that both spellings decode alike.
uint64_t normalizeExitCode(uint64_t code);

// "NPF", "CR4_WRITE", "EXCP_PF (0x4e)"; "unknown (0x..)" for codes the APM does
// not define.
std::string exitCodeName(uint64_t code);

} // namespace basalt::svm
