#pragma once
// The state vCPU 0 starts in for a directly loaded kernel (test/guests/README.md
// is the contract): real mode, flat 32-bit protected mode, or 64-bit long mode
// with identity-mapped page tables the builder writes into guest memory.

#include "base/result.h"
#include "vmm/builder/entry_mode.h"
#include "vmm/kvm/registers.h"

#include <cstdint>

namespace basalt {

namespace npt {
class GuestMemory;
}

struct BootState {
    kvm::GeneralRegisters regs;
    kvm::SpecialRegisters sregs;
};

// GDT selectors of the boot GDT (layout in vmm/builder/boot_layout.h).
inline constexpr uint16_t kSelectorCode32 = 0x08;
inline constexpr uint16_t kSelectorData = 0x10;
inline constexpr uint16_t kSelectorCode64 = 0x18;

// Writes what the mode needs into guest memory (GDT, page tables) and returns
// the BSP's registers. `base` is KVM's reset state of the vCPU, which keeps
// the fields Basalt does not set (TR, LDT, APIC base).
Result<BootState> prepareBootState(EntryMode mode, uint64_t entry, uint32_t vcpuCount,
                                   const kvm::SpecialRegisters& base, npt::GuestMemory& memory);

} // namespace basalt
