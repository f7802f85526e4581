#pragma once
// Every fuzz target defines, besides LLVMFuzzerTestOneInput, a few small valid
// inputs. The replay driver (replay_main.cpp) runs them, mutates them, and
// writes them out as the starting corpus for libFuzzer (`--write-seeds DIR`),
// so no binary corpus is committed.

#include <cstdint>
#include <vector>

namespace basalt::fuzz {

std::vector<std::vector<uint8_t>> seeds();

} // namespace basalt::fuzz
