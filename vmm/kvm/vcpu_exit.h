#pragma once
// Why KVM_RUN returned, decoded into a small variant. The data pointers refer
// to the vCPU's kvm_run page and are valid until the next run().

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

namespace basalt::kvm {

struct IoExit {
    uint16_t port = 0;
    uint8_t size = 0; // 1, 2 or 4
    bool isWrite = false;
    uint32_t count = 1;      // > 1 for rep ins/outs: `count` items of `size` bytes
    uint8_t* data = nullptr; // count * size bytes, to fill on reads
};

struct MmioExit {
    uint64_t gpa = 0;
    uint8_t len = 0; // 1..8
    bool isWrite = false;
    uint8_t* data = nullptr; // len bytes, to fill on reads
};

// A RDMSR/WRMSR that the MSR filter sent to userspace.
struct MsrExit {
    uint32_t index = 0;
    bool isWrite = false;
    uint64_t value = 0;         // the value written (WRMSR)
    uint64_t* result = nullptr; // RDMSR result to fill
    uint8_t* error = nullptr;   // set to 1 to inject #GP
};

struct HaltExit {};        // HLT with no in-kernel LAPIC to wait in
struct ShutdownExit {};    // triple fault
struct InterruptedExit {}; // a signal or immediate_exit stopped KVM_RUN

struct SystemEventExit {
    enum class Kind { Shutdown, Reset, Crash, Other };
    Kind kind = Kind::Other;
    uint32_t rawType = 0; // KVM_SYSTEM_EVENT_*
};

struct FailEntryExit {
    uint64_t hardwareReason = 0; // VMX exit reason | 0x80000000, or SVM exit code
    uint32_t cpu = 0;            // host CPU that failed the entry
};

// KVM_INTERNAL_ERROR_EMULATION, for code that does not include <linux/kvm.h>.
inline constexpr uint32_t kInternalErrorEmulation = 1;

struct InternalErrorExit {
    uint32_t suberror = 0; // KVM_INTERNAL_ERROR_*
    std::vector<uint64_t> data;
    // Set when KVM met a hardware exit reason it does not handle.
    std::optional<uint64_t> hardwareExitReason;
    // Emulation failures: the bytes KVM fetched at the guest's RIP, when it
    // says it fetched them (KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES).
    // They start with the failing instruction; they may run past its end.
    std::vector<uint8_t> instructionBytes;
    // The words of data that follow the flags and instruction bytes.
    std::span<const uint64_t> extraData() const;
};

// A hypercall the kernel intercepted (KVM_EXIT_XEN, KVM_EXIT_XEN_HCALL;
// only with KVM_CAP_XEN_HVM, xen_hvm.h). params are already in the guest
// mode's argument order (64-bit: rdi, rsi, rdx, r10, r8, r9; 32-bit: ebx,
// ecx, edx, esi, edi, ebp).
struct XenHypercallExit {
    bool longMode = false;
    uint8_t cpl = 0;
    uint64_t input = 0; // the hypercall number (rax/eax)
    std::array<uint64_t, 6> params{};
    uint64_t* result = nullptr; // in the kvm_run page; KVM loads it into rax
};

struct UnknownExit {
    uint32_t reason = 0; // raw KVM_EXIT_* value
};

using VcpuExit =
    std::variant<IoExit, MmioExit, MsrExit, HaltExit, ShutdownExit, InterruptedExit,
                 SystemEventExit, FailEntryExit, InternalErrorExit, XenHypercallExit, UnknownExit>;

// A readable name for an internal-error suberror ("emulation failure", ...).
const char* internalErrorName(uint32_t suberror);

// Decodes KVM's emulation-failure overlay of the internal-error data words
// (flags, then instruction size and up to 15 bytes) into exit.instructionBytes.
// data comes from the kernel but is checked as if it did not: a short or
// flag-less record leaves instructionBytes empty.
void decodeEmulationFailure(InternalErrorExit& exit);

// "an x87 instruction" and the like when the bytes start with an instruction
// whose class this host's KVM may be unable to emulate; nullptr otherwise.
const char* instructionClassName(std::span<const uint8_t> bytes);

} // namespace basalt::kvm
