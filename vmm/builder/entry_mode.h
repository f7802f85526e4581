#pragma once
// The CPU mode a directly loaded kernel starts in (test/guests/README.md).

#include <cstdint>
#include <optional>
#include <string_view>

namespace basalt {

enum class EntryMode : uint8_t { Real, Protected, Long };

// The names used on the command line and in the domain spec.
constexpr std::string_view entryModeName(EntryMode mode) {
    switch (mode) {
    case EntryMode::Real:
        return "real";
    case EntryMode::Protected:
        return "protected";
    case EntryMode::Long:
        return "long";
    }
    return "invalid";
}

constexpr std::optional<EntryMode> entryModeFromName(std::string_view name) {
    for (EntryMode mode : {EntryMode::Real, EntryMode::Protected, EntryMode::Long})
        if (entryModeName(mode) == name)
            return mode;
    return std::nullopt;
}

// False for a value cast from an out-of-range integer.
constexpr bool isValidEntryMode(EntryMode mode) {
    return entryModeName(mode) != "invalid";
}

} // namespace basalt
