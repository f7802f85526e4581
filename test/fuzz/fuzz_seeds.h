#pragma once
// Every fuzz target defines, besides LLVMFuzzerTestOneInput, a few small valid
// inputs. The replay driver (replay_main.cpp) runs them, mutates them, and
// writes them out as the starting corpus for libFuzzer (`--write-seeds DIR`),
// so no binary corpus is committed. Also what the targets share to check
// their properties and to write text seeds.

#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace basalt::fuzz {

std::vector<std::vector<uint8_t>> seeds();

// A property of the code under test failed: abort, which libFuzzer and the
// replay driver report as a finding.
inline void require(bool condition) {
    if (!condition)
        std::abort();
}

// Seeds that are text (config files, command-line syntax), without their NULs.
inline std::vector<std::vector<uint8_t>> textSeeds(std::initializer_list<std::string_view> texts) {
    std::vector<std::vector<uint8_t>> out;
    for (std::string_view text : texts)
        out.emplace_back(text.begin(), text.end());
    return out;
}

} // namespace basalt::fuzz
