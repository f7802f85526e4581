#pragma once
// Booting through hvmloader, as Xen's toolstack does (xg_dom_hvmloader.c,
// xg_dom_x86.c): hvmloader's ELF is loaded at its physical addresses, the
// firmware blob (SeaBIOS or OVMF) follows it as an hvm_start_info module
// whose command line is "firmware", and hvm_start_info itself comes last;
// vCPU 0 enters hvmloader in 32-bit protected mode with EBX = its address.
//
//   auto fw = loadFirmware(*spec.firmware);            // reads and checks both files
//   BASALT_TRY(checkImageFits(fw->loader, ...));
//   auto placed = placeFirmware(*fw, ram, lowRamEnd);  // modules + start info
//   copy fw->loader segments, then each placed->pieces; rbx = placed->startInfoGpa

#include "base/result.h"
#include "vmm/builder/domain_spec.h"
#include "vmm/builder/hvm_start_info.h"
#include "vmm/builder/kernel_image.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace basalt::firmware {

// hvmloader looks its firmware up by this module command line.
inline constexpr const char* kFirmwareModuleName = "firmware";
// Largest firmware blob read: OVMF.fd is 2 MiB (4 MiB builds exist); far below RAM.
inline constexpr size_t kMaxFirmwareModuleBytes = 16 * boot::kMiB;

struct FirmwareModule {
    std::string name; // the module's command line
    std::vector<uint8_t> bytes;
};

struct FirmwareImage {
    KernelImage loader; // hvmloader, protected mode
    std::vector<FirmwareModule> modules;
};

// Reads hvmloader (an ELF32) and the firmware blob. Errors name the file and
// its role ("hvmloader", "SeaBIOS firmware"), so a missing package is obvious.
Result<FirmwareImage> loadFirmware(const FirmwareSpec& spec);

struct Piece {
    uint64_t gpa = 0;
    std::vector<uint8_t> bytes;
};

struct FirmwareLayout {
    std::vector<Piece> pieces; // modules, then hvm_start_info
    uint64_t startInfoGpa = 0; // EBX
};

// Lays the modules out page-aligned after the loader's highest segment, then
// hvm_start_info (with its module list, memory map and command lines). All of
// it must fit below `lowRamEnd` (ENOSPC otherwise). `ram` is the memory map
// given to the guest in hvm_start_info.
Result<FirmwareLayout> placeFirmware(const FirmwareImage& image, std::span<const RamRange> ram,
                                     uint64_t lowRamEnd);

// The RAM part of the memory map libxl gives an hvmloader guest
// (libxl__arch_domain_construct_memmap, served by XENMEM_memory_map): low RAM
// starts at 1 MiB, since hvmloader lays out the first MiB itself (RAM below
// 0xA0000, the VGA hole, the BIOS), and the special pages are left out, since
// hvmloader reserves everything from its ACPI area up to 4 GiB.
std::vector<RamRange> firmwareMemoryMap(std::span<const RamRange> ram);

} // namespace basalt::firmware
