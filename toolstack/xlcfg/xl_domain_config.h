#pragma once
// The HVM subset of xl.cfg that Basalt serves (Xen's docs/man/xl.cfg.5.pod.in),
// checked and turned into typed fields. Values keep xl's spelling where
// another layer maps them (boot, bios): this file only checks them.
//
//   type="hvm" (or builder="hvm"), name, uuid, memory (MiB), vcpus,
//   disk=[DISKSPEC, ...] (devmodel/launcher/xl_disk_spec.h), boot, bios or
//   firmware, firmware_override, vga, videoram, vnc, vnclisten, vncdisplay,
//   vncpasswd, serial, on_poweroff, on_reboot, on_crash, xen_platform_pci,
//   device_id, smbios=["KEY=VALUE", ...] (vmm/builder/smbios_strings.h).
//
// An unknown key is a warning; a malformed value is an error naming its line.

#include "base/result.h"
#include "devmodel/launcher/xl_disk_spec.h"
#include "toolstack/xlcfg/xl_config_file.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace basalt::xlcfg {

// What happens when the guest powers off, reboots or crashes (xl's
// on_poweroff/on_reboot/on_crash; the rename-/coredump-/soft-reset variants
// are not served).
enum class LifecycleAction { Destroy, Restart, Preserve };
const char* lifecycleActionName(LifecycleAction action);
std::optional<LifecycleAction> lifecycleActionFromName(std::string_view name);

// xl's defaults.
constexpr LifecycleAction kDefaultOnPoweroff = LifecycleAction::Destroy;
constexpr LifecycleAction kDefaultOnReboot = LifecycleAction::Restart;
constexpr LifecycleAction kDefaultOnCrash = LifecycleAction::Destroy;

// Bounds on numbers (the layers below check the exact limits again).
constexpr uint64_t kMaxConfigMemoryMiB = 1u << 20; // 1 TiB
constexpr uint64_t kMaxConfigVcpus = 128;
constexpr uint64_t kMaxVncDisplay = 65535 - 5900;

struct XlDomainConfig {
    std::optional<std::string> name;
    std::optional<std::string> uuid; // checked canonical form, lower case
    std::optional<uint64_t> memoryMiB;
    std::optional<uint32_t> vcpus;
    std::vector<devmodel::XlDiskSpec> disks; // file order
    std::optional<std::string> boot;         // xl's boot order, e.g. "cd"
    std::optional<std::string> bios;         // "seabios" or "ovmf" (bios= or firmware=)
    std::optional<std::string> firmwareOverride;
    std::optional<std::string> vga; // "cirrus", "stdvga" or "none"
    std::optional<uint32_t> videoRamMiB;
    std::optional<std::string> vnc; // "HOST:DISPLAY" or "unix:/path"; unset: no VNC
    std::optional<std::string> vncPassword;
    std::optional<std::string> serial; // "pty", "none" or "file:/path"
    std::optional<LifecycleAction> onPoweroff, onReboot, onCrash;
    std::optional<bool> xenPlatformPci;
    std::optional<uint32_t> deviceId;
    std::vector<std::string> smbios; // "KEY=VALUE" items, checked, in file order

    // "line N: unknown key 'foo' ignored", one per unknown key.
    std::vector<std::string> warnings;
};

Result<XlDomainConfig> interpretXlConfig(const XlConfigFile& file);

} // namespace basalt::xlcfg
