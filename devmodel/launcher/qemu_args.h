#pragma once
// QEMU's command line for one guest, the way libxl builds it for qemu-xen
// (tools/libs/light/libxl_dm.c, libxl__build_device_model_args_new, Xen
// 4.17). Pure: no I/O, so unit tests pin every argument.

#include "vmm/builder/domain_spec.h"

#include <cstdint>
#include <string>
#include <vector>

namespace basalt::devmodel {

struct QemuArgsConfig {
    uint32_t domid = 1;
    std::string qmpSocketPath; // QEMU listens here (QMP, for screendump and query-chardev)
    // Non-empty when the spec has a VNC password: QEMU's VNC server listens
    // on this private UNIX socket instead, behind basalt-vnc-auth.
    std::string vncRelaySocketPath;
};

// The arguments after argv[0]. `spec` has passed validateSpec and has a
// device model.
std::vector<std::string> buildQemuArgs(const DomainSpec& spec, const QemuArgsConfig& config);

// QEMU option values are comma-separated; a literal comma is doubled.
std::string escapeQemuOptionValue(const std::string& value);

// libxl's disk numbering (libxl__device_disk_dev_number) for hda..hdd,
// which names the cdrom drives "ide-<number>".
uint32_t ideDeviceNumber(uint32_t ideIndex);

} // namespace basalt::devmodel
