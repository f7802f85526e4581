// parseXlDiskSpec: the xl DISKSPEC subset described in xl_disk_spec.h.

#include "devmodel/launcher/xl_disk_spec.h"

#include <array>
#include <optional>
#include <vector>

namespace basalt::devmodel {
namespace {

constexpr std::string_view kTargetKey = "target";
constexpr std::string_view kDevPrefix = "/dev/";
constexpr std::string_view kCdromSuffix = ":cdrom";
constexpr std::array<std::string_view, 2> kFormatPrefixes = {"raw:", "qcow2:"};

// The positional parameters, in their order.
enum Positional : size_t { kTarget, kFormat, kVdev, kAccess, kPositionalCount };
constexpr std::array<std::string_view, kPositionalCount> kPositionalNames = {"target", "format",
                                                                             "vdev", "access"};

// Keys and flags xl knows that Basalt does not serve: named in the error.
constexpr std::array<std::string_view, 13> kUnsupported = {
    "backend",   "script",      "direct-io-safe", "discard", "no-discard",
    "trusted",   "untrusted",   "specification",  "colo",    "colo-host",
    "colo-port", "colo-export", "active-disk"};

Error bad(std::string_view text, const std::string& why) {
    std::string shown(text.substr(0, 80));
    for (char& c : shown)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F)
            c = '?';
    return makeError(EINVAL,
                     "disk spec '" + shown + (text.size() > 80 ? "...'" : "'") + ": " + why);
}

std::string_view trimLeft(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    return s;
}

struct Parsed {
    std::array<std::optional<std::string>, kPositionalCount> positional;
    bool cdrom = false;
    std::optional<std::string> devtype;
    std::optional<std::string> backendType;
};

Status setNamed(std::string_view text, Parsed& p, std::string_view key, std::string_view value) {
    for (size_t i = 0; i < kPositionalCount; ++i) {
        if (key != kPositionalNames[i])
            continue;
        // A positional empty target may be given again by name (xl's rule).
        if (p.positional[i] && !(i == kTarget && p.positional[i]->empty()))
            return bad(text, "'" + std::string(key) + "' is given twice");
        p.positional[i] = std::string(value);
        return {};
    }
    if (key == "devtype") {
        if (p.devtype)
            return bad(text, "'devtype' is given twice");
        p.devtype = std::string(value);
        return {};
    }
    if (key == "backendtype") {
        if (p.backendType)
            return bad(text, "'backendtype' is given twice");
        p.backendType = std::string(value);
        return {};
    }
    for (std::string_view unsupported : kUnsupported)
        if (key == unsupported)
            return bad(text, "'" + std::string(key) + "' is not supported by Basalt");
    return bad(text, "unknown key '" + std::string(key) + "'");
}

Status addToken(std::string_view text, Parsed& p, std::string_view token) {
    if (token == "cdrom") {
        p.cdrom = true;
        return {};
    }
    for (std::string_view unsupported : kUnsupported)
        if (token == unsupported)
            return bad(text, "'" + std::string(token) + "' is not supported by Basalt");
    if (const size_t eq = token.find('='); eq != std::string_view::npos)
        return setNamed(text, p, token.substr(0, eq), token.substr(eq + 1));
    for (size_t i = 0; i < kPositionalCount; ++i) {
        if (p.positional[i])
            continue;
        p.positional[i] = std::string(token);
        // Deprecated "raw:/path": the prefix is the format, so the next bare
        // word is the vdev.
        for (std::string_view prefix : kFormatPrefixes)
            if (i == kTarget && token.substr(0, prefix.size()) == prefix &&
                !p.positional[kFormat]) {
                p.positional[kTarget] = std::string(token.substr(prefix.size()));
                p.positional[kFormat] = std::string(prefix.substr(0, prefix.size() - 1));
            }
        return {};
    }
    return bad(text, "too many positional parameters at '" + std::string(token) + "'");
}

Result<Parsed> tokenize(std::string_view text) {
    Parsed p;
    std::string_view rest = text;
    while (true) {
        rest = trimLeft(rest);
        // target= consumes the rest of the spec, commas and all.
        if (rest.substr(0, kTargetKey.size() + 1) == "target=") {
            BASALT_TRY(setNamed(text, p, kTargetKey, rest.substr(kTargetKey.size() + 1)));
            return p;
        }
        const size_t comma = rest.find(',');
        BASALT_TRY(addToken(text, p, rest.substr(0, comma)));
        if (comma == std::string_view::npos)
            return p;
        rest.remove_prefix(comma + 1);
    }
}

} // namespace

Result<XlDiskSpec> parseXlDiskSpec(std::string_view text) {
    if (text.size() > kMaxXlDiskSpecLength)
        return bad(text, "longer than " + std::to_string(kMaxXlDiskSpecLength) + " characters");
    if (text.find('\0') != std::string_view::npos)
        return bad(text, "contains a NUL character");
    auto parsed = tokenize(text);
    if (!parsed)
        return parsed.error();
    Parsed& p = *parsed;

    XlDiskSpec out;
    DiskSpec& disk = out.disk;
    std::string target = p.positional[kTarget].value_or("");
    const std::string format = p.positional[kFormat].value_or("");
    std::string vdev = p.positional[kVdev].value_or("");
    const std::string access = p.positional[kAccess].value_or("");

    // Deprecated form "hdc:cdrom".
    if (vdev.size() > kCdromSuffix.size() &&
        vdev.compare(vdev.size() - kCdromSuffix.size(), kCdromSuffix.size(), kCdromSuffix) == 0) {
        vdev.resize(vdev.size() - kCdromSuffix.size());
        p.cdrom = true;
    }

    if (p.devtype && !p.devtype->empty()) {
        if (*p.devtype != "cdrom")
            return bad(text, "devtype '" + *p.devtype + "' is not supported (only 'cdrom')");
        p.cdrom = true;
    }
    disk.devType = p.cdrom ? DiskDevType::Cdrom : DiskDevType::Disk;

    if (format.empty() || format == "raw")
        disk.format = DiskFormat::Raw;
    else if (format == "qcow2")
        disk.format = DiskFormat::Qcow2;
    else if (format == "qcow" || format == "vhd" || format == "qed")
        return bad(text, "format '" + format + "' is not supported by Basalt (raw or qcow2)");
    else
        return bad(text, "unknown format '" + format + "' (raw or qcow2)");

    if (vdev.empty())
        return bad(text, "no vdev is given (e.g. hda); it is mandatory");
    disk.vdev = vdev;

    if (access.empty())
        disk.access = p.cdrom ? DiskAccess::ReadOnly : DiskAccess::ReadWrite;
    else if (access == "ro" || access == "r")
        disk.access = DiskAccess::ReadOnly;
    else if (access == "rw" || access == "w")
        disk.access = DiskAccess::ReadWrite;
    else
        return bad(text, "access '" + access + "' is not ro, r, rw or w");

    if (!target.empty() && target.front() != '/')
        target = std::string(kDevPrefix) + target;
    if (target.empty() && !p.cdrom)
        return bad(text, "no target is given; only a cdrom may be empty");
    disk.target = std::move(target);

    if (p.backendType && !p.backendType->empty()) {
        if (*p.backendType != "phy" && *p.backendType != "qdisk" && *p.backendType != "standalone")
            return bad(text,
                       "backendtype '" + *p.backendType + "' is not phy, qdisk or standalone");
        out.backendType = *p.backendType;
    }
    return out;
}

std::string formatXlDiskSpec(const XlDiskSpec& spec) {
    const DiskSpec& disk = spec.disk;
    std::string out = std::string("format=") + diskFormatName(disk.format) + ",vdev=" + disk.vdev +
                      ",access=" + (disk.access == DiskAccess::ReadOnly ? "ro" : "rw");
    if (disk.devType == DiskDevType::Cdrom)
        out += ",devtype=cdrom";
    if (!spec.backendType.empty())
        out += ",backendtype=" + spec.backendType;
    return out + ",target=" + disk.target;
}

} // namespace basalt::devmodel
