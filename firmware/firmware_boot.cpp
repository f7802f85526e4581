#include "firmware/firmware_boot.h"

#include "base/format.h"
#include "base/log.h"
#include "vmm/builder/describe.h"
#include "vmm/builder/elf_loader.h"
#include "vmm/builder/read_file.h"

#include <algorithm>
#include <cinttypes>
#include <cstring>

#include <xen/xen.h>
// xen.h first.
#include <xen/arch-x86/hvm/start_info.h>

namespace basalt::firmware {

BASALT_LOG_CATEGORY(FirmwareLog, "firmware");

namespace {

constexpr uint64_t kPageSize = 4096;
constexpr uint32_t kStartInfoVersion = 1; // has the memory map fields
constexpr size_t kMaxRamRanges = 128;
constexpr uint64_t kLowRamStart = boot::kRealModeLimit; // libxl's GUEST_LOW_MEM_START_DEFAULT

uint64_t alignUp(uint64_t value, uint64_t alignment) {
    return (value + alignment - 1) & ~(alignment - 1);
}

const char* biosRole(BiosKind kind) {
    return kind == BiosKind::Ovmf ? "OVMF firmware" : "SeaBIOS firmware";
}

template <typename T> void put(std::vector<uint8_t>& out, size_t offset, const T& value) {
    std::memcpy(out.data() + offset, &value, sizeof value);
}

} // namespace

Result<FirmwareImage> loadFirmware(const FirmwareSpec& spec) {
    auto file = readFileBounded(spec.loaderPath, kMaxKernelFileBytes, "hvmloader");
    if (!file)
        return file.error();
    auto loader = parseKernelImage(*file, EntryMode::Protected, std::nullopt);
    if (!loader)
        return makeError(loader.error().code,
                         "hvmloader '" + spec.loaderPath + "': " + loader.error().message);
    if (loader->segments.size() == 0 || !hasElfMagic(*file))
        return makeError(ENOEXEC, "hvmloader '" + spec.loaderPath + "' is not an ELF image");

    auto blob = readFileBounded(spec.biosPath, kMaxFirmwareModuleBytes, biosRole(spec.bios));
    if (!blob)
        return blob.error();
    if (blob->empty())
        return makeError(ENOEXEC,
                         std::string(biosRole(spec.bios)) + " '" + spec.biosPath + "' is empty");
    FirmwareImage image;
    image.loader = std::move(*loader);
    image.modules.push_back({kFirmwareModuleName, std::move(*blob)});
    LOG(FirmwareLog, Debug, "hvmloader '%s', %s '%s' (%zu bytes)", spec.loaderPath.c_str(),
        biosKindName(spec.bios), spec.biosPath.c_str(), image.modules.front().bytes.size());
    return image;
}

Result<FirmwareLayout> placeFirmware(const FirmwareImage& image, std::span<const RamRange> ram,
                                     uint64_t lowRamEnd) {
    if (ram.size() > kMaxRamRanges)
        return makeError(EINVAL, "too many RAM ranges for hvm_start_info");
    uint64_t cursor = 0;
    for (const auto& segment : image.loader.segments)
        cursor = std::max(cursor, segment.gpa + segment.memSize);

    FirmwareLayout out;
    std::vector<uint64_t> moduleGpas;
    for (const FirmwareModule& module : image.modules) {
        cursor = alignUp(cursor, kPageSize);
        if (module.bytes.size() > lowRamEnd || cursor > lowRamEnd - module.bytes.size())
            return makeError(ENOSPC, "no room for the firmware module '" + module.name +
                                         "' below " + hexString(lowRamEnd) + "; give more memory");
        moduleGpas.push_back(cursor);
        out.pieces.push_back({cursor, module.bytes});
        cursor += module.bytes.size();
    }

    // hvm_start_info, the module list, the memory map, then the command
    // lines: "" for the start info, each module's name.
    const uint64_t base = alignUp(cursor, kPageSize);
    const size_t modlistOffset = alignUp(sizeof(hvm_start_info), alignof(hvm_modlist_entry));
    const size_t memmapOffset = modlistOffset + image.modules.size() * sizeof(hvm_modlist_entry);
    size_t cmdlineOffset = memmapOffset + ram.size() * sizeof(hvm_memmap_table_entry);
    size_t total = cmdlineOffset + 1;
    for (const FirmwareModule& module : image.modules)
        total += module.name.size() + 1;
    if (base > lowRamEnd || total > lowRamEnd - base)
        return makeError(ENOSPC, "no room for hvm_start_info below " + hexString(lowRamEnd));

    std::vector<uint8_t> bytes(total, 0);
    hvm_start_info info{};
    info.magic = XEN_HVM_START_MAGIC_VALUE;
    info.version = kStartInfoVersion;
    info.nr_modules = static_cast<uint32_t>(image.modules.size());
    info.modlist_paddr = base + modlistOffset;
    info.cmdline_paddr = base + cmdlineOffset; // the empty string
    info.memmap_paddr = base + memmapOffset;
    info.memmap_entries = static_cast<uint32_t>(ram.size());
    put(bytes, 0, info);
    size_t nameOffset = cmdlineOffset + 1;
    for (size_t i = 0; i < image.modules.size(); ++i) {
        const FirmwareModule& module = image.modules[i];
        hvm_modlist_entry entry{};
        entry.paddr = moduleGpas[i];
        entry.size = module.bytes.size();
        entry.cmdline_paddr = base + nameOffset;
        put(bytes, modlistOffset + i * sizeof entry, entry);
        std::memcpy(bytes.data() + nameOffset, module.name.data(), module.name.size());
        nameOffset += module.name.size() + 1;
    }
    for (size_t i = 0; i < ram.size(); ++i) {
        hvm_memmap_table_entry entry{};
        entry.addr = ram[i].gpa;
        entry.size = ram[i].size;
        entry.type = XEN_HVM_MEMMAP_TYPE_RAM;
        put(bytes, memmapOffset + i * sizeof entry, entry);
    }
    out.pieces.push_back({base, std::move(bytes)});
    out.startInfoGpa = base;
    return out;
}

std::vector<RamRange> firmwareMemoryMap(std::span<const RamRange> ram) {
    std::vector<RamRange> out;
    for (const RamRange& range : ram) {
        const uint64_t end = range.gpa + range.size;
        const uint64_t start = std::max(range.gpa, kLowRamStart);
        if (end > start)
            out.push_back({start, end - start});
    }
    return out;
}

} // namespace basalt::firmware
