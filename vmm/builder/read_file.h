#pragma once
// Reads a whole regular file of bounded size: spec files and kernel images come
// from paths a user or basaltd chose, so a huge or special file must not make
// the VMM allocate without limit or block forever.

#include "base/result.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace basalt {

// `what` names the file's role in errors: "cannot read kernel 'x': No such file
// or directory", "kernel 'x' is 300 MiB; at most 256 MiB is accepted".
Result<std::vector<uint8_t>> readFileBounded(const std::string& path, size_t maxBytes,
                                             const std::string& what);

} // namespace basalt
