#pragma once
// The syntax of xl.cfg files (Xen's docs/man/xl.cfg.5.pod.in; the grammar of
// tools/libs/util/libxlu_cfg_y.y), without any meaning attached:
//
//   # a comment runs to the end of the line
//   name = "web01"            # a string: "..." or '...', C escapes inside
//   memory = 512              # a number: decimal or 0x hex
//   disk = [ '/srv/a.img,raw,hda,rw',
//            '/srv/b.iso,,hdc,cdrom', ]   # a list may span lines and end in ','
//   vcpus = 2; vga = "stdvga"  # ';' separates settings on one line
//
// A key may be set twice; the last setting wins, as in xl. Config files are
// user input: the parser is strict, bounded, and every error names the line.

#include "base/result.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace basalt::xlcfg {

// Bounds on hostile input: a config is a few hundred bytes in practice.
constexpr size_t kMaxConfigBytes = 1 << 20;
constexpr size_t kMaxListItems = 1024;

struct XlValue {
    enum class Kind { String, Number, List };
    Kind kind = Kind::String;
    std::string text;           // String: the unescaped text; Number: its digits
    std::vector<XlValue> items; // List: strings and numbers (no nested lists)
    int line = 0;               // where the value starts

    bool operator==(const XlValue&) const = default;
};

struct XlSetting {
    std::string key;
    XlValue value;
    int line = 0;

    bool operator==(const XlSetting&) const = default;
};

struct XlConfigFile {
    std::vector<XlSetting> settings; // in file order, duplicates kept

    // The last setting of `key`, or nullptr.
    const XlSetting* find(std::string_view key) const;
};

// Errors read "line N: ...".
Result<XlConfigFile> parseXlConfig(std::string_view text);

// Reads and parses a file; errors read "PATH:N: ...".
Result<XlConfigFile> loadXlConfigFile(const std::string& path);

// Prints a setting back in xl.cfg syntax (tests and the fuzz target check that
// it parses back to the same value).
std::string formatXlSetting(const XlSetting& setting);

} // namespace basalt::xlcfg
