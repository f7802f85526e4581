#include "vmm/boot_state.h"

#include "base/x86.h"

#include "npt/guest_memory.h"
#include "vmm/builder/boot_layout.h"

#include <array>

namespace basalt {

namespace {

using namespace x86;

constexpr uint64_t kRflagsReserved = 1ull << 1; // bit 1 always reads as 1

constexpr uint8_t kTypeDataReadWriteAccessed = 0x3;
constexpr uint8_t kTypeCodeExecReadAccessed = 0xB;
constexpr uint8_t kTypeTss32Busy = 0xB;
constexpr uint32_t kRealModeLimit = 0xFFFF;
constexpr uint32_t kFlatLimit = 0xFFFFFFFF;

// GDT descriptors matching the selectors above (flat, 4 GiB, DPL 0).
constexpr std::array<uint64_t, 4> kBootGdt = {
    0x0000000000000000, // null
    0x00CF9A000000FFFF, // 0x08: 32-bit code, execute/read
    0x00CF92000000FFFF, // 0x10: data, read/write
    0x00AF9A000000FFFF, // 0x18: 64-bit code (L=1)
};

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kTwoMiB = 2ull << 20;
constexpr uint64_t kOneGiB = 1ull << 30;
constexpr unsigned kEntriesPerTable = 512;

kvm::Segment realModeSegment(uint16_t selector, uint8_t type) {
    kvm::Segment s;
    s.selector = selector;
    s.base = static_cast<uint64_t>(selector) << 4;
    s.limit = kRealModeLimit;
    s.type = type;
    s.present = true;
    s.s = true;
    return s;
}

kvm::Segment flatSegment(uint16_t selector, uint8_t type, bool longCode) {
    kvm::Segment s;
    s.selector = selector;
    s.base = 0;
    s.limit = kFlatLimit;
    s.type = type;
    s.present = true;
    s.s = true;
    s.g = true;
    s.l = longCode;
    s.db = !longCode; // a 64-bit code segment must have D=0
    return s;
}

void setDataSegments(kvm::SpecialRegisters& s, const kvm::Segment& data) {
    s.ds = s.es = s.fs = s.gs = s.ss = data;
}

kvm::Segment bootTaskRegister() {
    // VM entry needs a usable busy TSS in protected and long mode; the guest
    // never switches tasks through it.
    kvm::Segment tr;
    tr.limit = 0x67;
    tr.type = kTypeTss32Busy;
    tr.present = true;
    return tr;
}

template <typename Array> std::span<const uint8_t> bytesOf(const Array& array) {
    return {reinterpret_cast<const uint8_t*>(array.data()), sizeof(array)};
}

Status writeGdt(npt::GuestMemory& memory) {
    return memory.loadImage(boot::kGdtAddress, bytesOf(kBootGdt));
}

// Identity-maps 0-4 GiB with 2 MiB pages: PML4[0] -> PDPT, PDPT[0..3] -> four
// page directories.
Status writeIdentityPageTables(npt::GuestMemory& memory) {
    std::array<uint64_t, kEntriesPerTable> table{};
    table[0] = boot::kPdptAddress | kPtePresent | kPteWritable;
    BASALT_TRY(memory.loadImage(boot::kPml4Address, bytesOf(table)));
    table.fill(0);
    for (uint64_t i = 0; i < boot::kPageDirectoryCount; ++i)
        table[i] = (boot::kPageDirectoryAddress + i * kPageSize) | kPtePresent | kPteWritable;
    BASALT_TRY(memory.loadImage(boot::kPdptAddress, bytesOf(table)));
    for (uint64_t dir = 0; dir < boot::kPageDirectoryCount; ++dir) {
        for (unsigned i = 0; i < kEntriesPerTable; ++i)
            table[i] = (dir * kOneGiB + i * kTwoMiB) | kPtePresent | kPteWritable | kPteLargePage;
        BASALT_TRY(memory.loadImage(boot::kPageDirectoryAddress + dir * kPageSize, bytesOf(table)));
    }
    return {};
}

} // namespace

Result<BootState> prepareBootState(EntryMode mode, uint64_t entry, uint32_t vcpuCount,
                                   const kvm::SpecialRegisters& base, npt::GuestMemory& memory) {
    BootState state;
    state.sregs = base;
    state.regs.rflags = kRflagsReserved;
    state.regs.rsi = vcpuCount;

    switch (mode) {
    case EntryMode::Real: {
        if (entry >= boot::kRealModeLimit)
            return makeError(EINVAL, "real-mode entry point is above 1 MiB");
        auto codeSelector = static_cast<uint16_t>((entry >> 4) & 0xF000);
        state.sregs.cs = realModeSegment(codeSelector, kTypeCodeExecReadAccessed);
        setDataSegments(state.sregs, realModeSegment(0, kTypeDataReadWriteAccessed));
        state.sregs.cr0 = kCr0Et;
        state.sregs.cr4 = 0;
        state.sregs.efer = 0;
        state.regs.rip = entry & 0xFFFF;
        state.regs.rsp = boot::kRealModeStack;
        break;
    }
    case EntryMode::Protected:
        BASALT_TRY(writeGdt(memory));
        state.sregs.cs = flatSegment(kSelectorCode32, kTypeCodeExecReadAccessed, false);
        setDataSegments(state.sregs, flatSegment(kSelectorData, kTypeDataReadWriteAccessed, false));
        state.sregs.tr = bootTaskRegister();
        state.sregs.gdt = {boot::kGdtAddress, static_cast<uint16_t>(boot::kGdtLimit)};
        state.sregs.idt = {0, 0};
        state.sregs.cr0 = kCr0Pe | kCr0Et;
        state.sregs.cr4 = 0;
        state.sregs.efer = 0;
        state.regs.rip = entry;
        state.regs.rsp = boot::kProtectedStack;
        break;
    case EntryMode::Long:
        BASALT_TRY(writeGdt(memory));
        BASALT_TRY(writeIdentityPageTables(memory));
        state.sregs.cs = flatSegment(kSelectorCode64, kTypeCodeExecReadAccessed, true);
        setDataSegments(state.sregs, flatSegment(kSelectorData, kTypeDataReadWriteAccessed, false));
        state.sregs.tr = bootTaskRegister();
        state.sregs.gdt = {boot::kGdtAddress, static_cast<uint16_t>(boot::kGdtLimit)};
        state.sregs.idt = {0, 0};
        state.sregs.cr0 = kCr0Pe | kCr0Et | kCr0Pg;
        state.sregs.cr3 = boot::kPml4Address;
        state.sregs.cr4 = kCr4Pae;
        state.sregs.efer = kEferLme | kEferLma;
        state.regs.rip = entry;
        state.regs.rsp = boot::kProtectedStack;
        break;
    }
    return state;
}

} // namespace basalt
