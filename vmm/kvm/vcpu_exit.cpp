#include "vmm/kvm/vcpu_exit.h"

#include <algorithm>
#include <cstring>
#include <linux/kvm.h>

namespace basalt::kvm {

static_assert(kInternalErrorEmulation == KVM_INTERNAL_ERROR_EMULATION);

namespace {

// KVM's emulation_failure overlay of internal.data: word 0 holds the flags,
// words 1-2 hold one size byte then up to 15 instruction bytes.
constexpr size_t kEmulationFlagsWord = 0;
constexpr size_t kInstructionWordsStart = 1;
constexpr size_t kInstructionWords = 2;
constexpr size_t kMaxInstructionBytes = 15; // the x86 instruction length limit

// x87 escape opcodes D8-DF; 0F AE is the FXSAVE/LDMXCSR/XSAVE group.
constexpr uint8_t kX87EscapeFirst = 0xD8;
constexpr uint8_t kX87EscapeLast = 0xDF;
constexpr uint8_t kTwoByteEscape = 0x0F;
constexpr uint8_t kFpuStateGroup = 0xAE;
// WAIT/FWAIT (9B), the prefix of finit, fstsw and the other waiting forms.
constexpr uint8_t kFwait = 0x9B;
constexpr uint8_t kRexMask = 0xF0;
constexpr uint8_t kRexBase = 0x40;

bool isLegacyPrefix(uint8_t b) {
    switch (b) {
    case 0x26:
    case 0x2E:
    case 0x36:
    case 0x3E:
    case 0x64:
    case 0x65: // segments
    case 0x66:
    case 0x67:
    case 0xF0:
    case 0xF2:
    case 0xF3:
        return true;
    default:
        return false;
    }
}

} // namespace

const char* internalErrorName(uint32_t suberror) {
    switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION:
        return "emulation failure (KVM could not emulate a guest instruction)";
    case KVM_INTERNAL_ERROR_SIMUL_EX:
        return "simultaneous exceptions";
    case KVM_INTERNAL_ERROR_DELIVERY_EV:
        return "exception or interrupt delivery failed";
    case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
        return "unexpected hardware exit reason";
    default:
        return "unknown internal error";
    }
}

void decodeEmulationFailure(InternalErrorExit& exit) {
    exit.instructionBytes.clear();
    if (exit.suberror != KVM_INTERNAL_ERROR_EMULATION)
        return;
    if (exit.data.size() < kInstructionWordsStart + kInstructionWords)
        return;
    if (!(exit.data[kEmulationFlagsWord] & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES))
        return;
    uint8_t raw[kInstructionWords * sizeof(uint64_t)];
    std::memcpy(raw, &exit.data[kInstructionWordsStart], sizeof raw);
    size_t size = std::min<size_t>(raw[0], kMaxInstructionBytes);
    exit.instructionBytes.assign(raw + 1, raw + 1 + size);
}

std::span<const uint64_t> InternalErrorExit::extraData() const {
    std::span<const uint64_t> all(data);
    if (instructionBytes.empty())
        return all;
    return all.subspan(kInstructionWordsStart + kInstructionWords);
}

const char* instructionClassName(std::span<const uint8_t> bytes) {
    size_t i = 0;
    while (i < bytes.size() && isLegacyPrefix(bytes[i]))
        ++i;
    if (i < bytes.size() && bytes[i] == kFwait)
        return "an x87 instruction (FWAIT)";
    if (i < bytes.size() && bytes[i] >= kX87EscapeFirst && bytes[i] <= kX87EscapeLast)
        return "an x87 instruction";
    // A REX prefix (64-bit code) may sit between the legacy prefixes and 0F.
    if (i < bytes.size() && (bytes[i] & kRexMask) == kRexBase)
        ++i;
    if (i + 1 < bytes.size() && bytes[i] == kTwoByteEscape && bytes[i + 1] == kFpuStateGroup)
        return "an x87/SSE state instruction (0F AE group)";
    return nullptr;
}

} // namespace basalt::kvm
