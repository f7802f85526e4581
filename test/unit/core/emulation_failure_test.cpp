// Decoding KVM's emulation-failure record: instruction bytes and their class.

#include "vmm/kvm/vcpu_exit.h"

#include <catch2/catch.hpp>
#include <cstring>

using namespace basalt::kvm;

namespace {

constexpr uint64_t kFlagInstructionBytes = 1;

// data words as KVM lays them out: flags, size byte + 15 bytes, then extra words.
InternalErrorExit makeExit(uint64_t flags, std::vector<uint8_t> bytes, uint8_t size,
                           std::vector<uint64_t> extra) {
    InternalErrorExit e;
    e.suberror = kInternalErrorEmulation;
    uint8_t raw[16] = {};
    raw[0] = size;
    std::memcpy(raw + 1, bytes.data(), std::min<size_t>(bytes.size(), 15));
    uint64_t words[2];
    std::memcpy(words, raw, sizeof raw);
    e.data = {flags, words[0], words[1]};
    e.data.insert(e.data.end(), extra.begin(), extra.end());
    decodeEmulationFailure(e);
    return e;
}

} // namespace

TEST_CASE("emulation failure with instruction bytes") {
    auto e = makeExit(kFlagInstructionBytes, {0xD9, 0xE8, 0x90}, 3, {0x1000, 7});
    REQUIRE(e.instructionBytes == std::vector<uint8_t>{0xD9, 0xE8, 0x90});
    REQUIRE(std::vector<uint64_t>(e.extraData().begin(), e.extraData().end()) ==
            std::vector<uint64_t>{0x1000, 7});
    REQUIRE(std::string(instructionClassName(e.instructionBytes)) == "an x87 instruction");
}

TEST_CASE("a size beyond 15 bytes is clamped") {
    std::vector<uint8_t> bytes(15, 0xDB);
    auto e = makeExit(kFlagInstructionBytes, bytes, 0xFF, {});
    REQUIRE(e.instructionBytes.size() == 15);
}

TEST_CASE("no flag, short data or another suberror: no instruction bytes") {
    auto noFlag = makeExit(0, {0xD9, 0xE8}, 2, {5});
    REQUIRE(noFlag.instructionBytes.empty());
    REQUIRE(noFlag.extraData().size() == 4); // everything is shown raw

    InternalErrorExit shortData;
    shortData.suberror = kInternalErrorEmulation;
    shortData.data = {kFlagInstructionBytes, 0x02};
    decodeEmulationFailure(shortData);
    REQUIRE(shortData.instructionBytes.empty());

    InternalErrorExit other;
    other.suberror = kInternalErrorEmulation + 1;
    other.data = {kFlagInstructionBytes, 0xE8D902, 0};
    decodeEmulationFailure(other);
    REQUIRE(other.instructionBytes.empty());
}

TEST_CASE("instruction classes") {
    using Bytes = std::vector<uint8_t>;
    auto cls = [](Bytes b) {
        const char* name = instructionClassName(b);
        return std::string(name ? name : "");
    };
    REQUIRE(cls({0xDB, 0xE3}) == "an x87 instruction");               // fninit
    REQUIRE(cls({0x9B, 0xDB, 0xE3}) == "an x87 instruction (FWAIT)"); // finit
    REQUIRE(cls({0x66, 0xD9, 0x7D, 0xFC}) == "an x87 instruction");   // prefixed fnstcw
    REQUIRE(cls({0x0F, 0xAE, 0x55, 0x00}) == "an x87/SSE state instruction (0F AE group)");
    REQUIRE(cls({0x48, 0x0F, 0xAE, 0x07}) == "an x87/SSE state instruction (0F AE group)");
    REQUIRE(cls({0x0F, 0xA2}).empty()); // cpuid
    REQUIRE(cls({0x90}).empty());
    REQUIRE(cls({0x66, 0x66}).empty()); // prefixes only
    REQUIRE(cls({}).empty());
}
