#pragma once
// xl's DISKSPEC syntax (Xen's docs/man/xl-disk-configuration.5.pod), the
// subset Basalt serves: basalt-vmm's --disk takes it, and the xl.cfg reader
// (toolstack) reuses it for `disk = [ ... ]`. User input: parsed strictly,
// with one clear error per mistake.
//
//   DISKSPEC = [<key>=<value>|<flag>,]* [<target>,[<format>,[<vdev>,[<access>]]]]
//              [,<key>=<value>|<flag>]* [,target=<rest of the string>]
//
// Bare words fill the positional parameters target, format, vdev, access in
// that order, skipping any already given by name; `target=` swallows the rest
// of the string, commas included. Empty values take the default. Keys:
// target, format (raw|qcow2; qcow, vhd and qed are refused), vdev, access
// (ro|r|rw|w; default rw, or ro for a cdrom), devtype (cdrom), backendtype
// (phy|qdisk|standalone, kept for the PV backends); the flag `cdrom`. The
// deprecated prefixes `raw:`/`qcow2:` on the target and `:cdrom` on the vdev
// are accepted. A target not starting with '/' is under /dev, as in xl.
//
// Example: "/srv/win.iso,,hdc,cdrom" -> target /srv/win.iso, raw, hdc, ro, cdrom.

#include "base/result.h"
#include "vmm/builder/domain_spec.h"

#include <string>
#include <string_view>

namespace basalt::devmodel {

struct XlDiskSpec {
    DiskSpec disk;           // index 0; the caller numbers the disks
    std::string backendType; // empty: not given

    bool operator==(const XlDiskSpec&) const = default;
};

// Longest DISKSPEC accepted (a path and a few keys).
constexpr size_t kMaxXlDiskSpecLength = 8192;

Result<XlDiskSpec> parseXlDiskSpec(std::string_view text);

// The canonical key=value form, which parseXlDiskSpec reads back unchanged.
std::string formatXlDiskSpec(const XlDiskSpec& spec);

} // namespace basalt::devmodel
