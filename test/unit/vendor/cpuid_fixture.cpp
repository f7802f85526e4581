#include "test/unit/vendor/cpuid_fixture.h"

#include <array>
#include <charconv>
#include <fstream>
#include <sstream>

#ifndef BASALT_FIXTURES
#error "BASALT_FIXTURES must name the test/fixtures directory"
#endif

namespace basalt::test {

namespace {

// KVM_CPUID_FLAG_SIGNIFCANT_INDEX; tests do not include <linux/kvm.h>.
constexpr uint32_t kFlagSignificantIndex = 1u << 0;
constexpr size_t kFieldsPerLine = 7;
constexpr int kHexBase = 16;

bool parseHex(const std::string& word, uint32_t& value) {
    const char* end = word.data() + word.size();
    auto [ptr, ec] = std::from_chars(word.data(), end, value, kHexBase);
    return ec == std::errc() && ptr == end;
}

} // namespace

std::string fixturePath(const std::string& relative) {
    return std::string(BASALT_FIXTURES) + "/" + relative;
}

Result<CpuidTable> loadCpuidFixture(const std::string& path) {
    std::ifstream in(path);
    if (!in)
        return makeError(ENOENT, "cannot open CPUID fixture " + path);

    CpuidTable table;
    std::string line;
    for (int lineNumber = 1; std::getline(in, line); ++lineNumber) {
        std::istringstream words(line.substr(0, line.find('#')));
        std::array<uint32_t, kFieldsPerLine> v{};
        size_t count = 0;
        for (std::string word; words >> word; ++count)
            if (count >= kFieldsPerLine || !parseHex(word, v[count]))
                return makeError(EINVAL, path + ":" + std::to_string(lineNumber) +
                                             ": expected 7 hex fields, got '" + line + "'");
        if (count == 0)
            continue; // blank or comment-only line
        if (count != kFieldsPerLine)
            return makeError(EINVAL, path + ":" + std::to_string(lineNumber) +
                                         ": expected 7 hex fields, got '" + line + "'");
        table.push_back(
            CpuidEntry{v[0], v[1], (v[2] & kFlagSignificantIndex) != 0, v[3], v[4], v[5], v[6]});
    }
    if (table.empty())
        return makeError(EINVAL, "CPUID fixture " + path + " has no entries");
    return table;
}

} // namespace basalt::test
