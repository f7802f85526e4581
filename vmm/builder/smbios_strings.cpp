#include "vmm/builder/smbios_strings.h"

#include <xen/hvm/hvm_xs_strings.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace basalt {

namespace {

// The keys hvmloader's smbios.c reads, one per xl smbios type except oem.
constexpr const char* kNamedPaths[] = {
    HVM_XS_BIOS_VENDOR,
    HVM_XS_BIOS_VERSION,
    HVM_XS_SYSTEM_MANUFACTURER,
    HVM_XS_SYSTEM_PRODUCT_NAME,
    HVM_XS_SYSTEM_VERSION,
    HVM_XS_SYSTEM_SERIAL_NUMBER,
    HVM_XS_BASEBOARD_MANUFACTURER,
    HVM_XS_BASEBOARD_PRODUCT_NAME,
    HVM_XS_BASEBOARD_VERSION,
    HVM_XS_BASEBOARD_SERIAL_NUMBER,
    HVM_XS_BASEBOARD_ASSET_TAG,
    HVM_XS_BASEBOARD_LOCATION_IN_CHASSIS,
    HVM_XS_ENCLOSURE_MANUFACTURER,
    HVM_XS_ENCLOSURE_SERIAL_NUMBER,
    HVM_XS_ENCLOSURE_ASSET_TAG,
    HVM_XS_BATTERY_MANUFACTURER,
    HVM_XS_BATTERY_DEVICE_NAME,
};
// Errors quote at most this much of an untrusted key.
constexpr size_t kMaxQuotedKey = 40;
constexpr char kPrintableFirst = 0x20;
constexpr char kPrintableLast = 0x7E;

// "bios-strings/bios-vendor" -> "bios-vendor".
std::string_view keyOf(std::string_view path) {
    const std::string_view prefix = HVM_XS_BIOS_STRINGS "/";
    return path.substr(prefix.size());
}

// "oem-" from HVM_XS_OEM_STRINGS ("bios-strings/oem-%d").
std::string_view oemKeyPrefix() {
    const std::string_view key = keyOf(HVM_XS_OEM_STRINGS);
    return key.substr(0, key.find('%'));
}

std::string oemKey(size_t number) {
    return std::string(oemKeyPrefix()) + std::to_string(number);
}

std::string quoted(std::string_view text) {
    std::string out = "'";
    for (size_t i = 0; i < text.size() && i < kMaxQuotedKey; ++i)
        out += (text[i] >= kPrintableFirst && text[i] <= kPrintableLast) ? text[i] : '?';
    return out + (text.size() > kMaxQuotedKey ? "...'" : "'");
}

std::string xlKeyList() {
    std::string out;
    for (const char* path : kNamedPaths) {
        std::string name(keyOf(path));
        std::replace(name.begin(), name.end(), '-', '_');
        out += name + ", ";
    }
    return out + std::string(kSmbiosOemKey);
}

Error smbiosError(const std::string& message) {
    return makeError(EINVAL, "smbios " + message);
}

Status validateValue(std::string_view key, std::string_view value) {
    if (value.empty())
        return smbiosError(quoted(key) + ": empty value not allowed");
    if (value.size() > kMaxSmbiosValueLength)
        return smbiosError(quoted(key) + ": the value is " + std::to_string(value.size()) +
                           " bytes; at most " + std::to_string(kMaxSmbiosValueLength) +
                           " are allowed");
    for (char c : value)
        if (c < kPrintableFirst || c > kPrintableLast)
            return smbiosError(quoted(key) +
                               ": the value may hold printable ASCII characters only");
    return {};
}

size_t oemCount(const SmbiosStrings& strings) {
    return static_cast<size_t>(std::count_if(strings.begin(), strings.end(), [](const auto& s) {
        return s.key.rfind(oemKeyPrefix(), 0) == 0;
    }));
}

} // namespace

std::string smbiosKeyFromXlName(std::string_view xlName) {
    for (const char* path : kNamedPaths) {
        const std::string_view key = keyOf(path);
        if (key.size() != xlName.size())
            continue;
        bool same = true;
        for (size_t i = 0; i < key.size() && same; ++i) {
            const char want = key[i] == '-' ? '_' : key[i];
            same = std::tolower(static_cast<unsigned char>(xlName[i])) == want;
        }
        if (same)
            return std::string(key);
    }
    return {};
}

Status addSmbiosEntry(SmbiosStrings& strings, std::string_view entry) {
    const size_t equals = entry.find('=');
    if (equals == std::string_view::npos)
        return smbiosError(quoted(entry) + " is not KEY=VALUE");
    const std::string_view name = entry.substr(0, equals);
    const std::string_view value = entry.substr(equals + 1);
    std::string key = smbiosKeyFromXlName(name);
    if (key.empty()) {
        std::string lower(name);
        for (char& c : lower)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower != kSmbiosOemKey)
            return smbiosError("key " + quoted(name) + " is unknown; it must be one of " +
                               xlKeyList());
        const size_t number = oemCount(strings) + 1;
        if (number > kMaxSmbiosOemStrings)
            return smbiosError("oem: at most " + std::to_string(kMaxSmbiosOemStrings) +
                               " OEM strings are allowed");
        key = oemKey(number);
    }
    BASALT_TRY(validateValue(name, value));
    for (const SmbiosString& s : strings)
        if (s.key == key)
            return smbiosError("key " + quoted(name) + " is given twice");
    strings.push_back({std::move(key), std::string(value)});
    return {};
}

Status validateSmbiosStrings(const SmbiosStrings& strings) {
    size_t oems = 0;
    for (size_t i = 0; i < strings.size(); ++i) {
        const SmbiosString& s = strings[i];
        const bool named = std::any_of(std::begin(kNamedPaths), std::end(kNamedPaths),
                                       [&](const char* path) { return keyOf(path) == s.key; });
        if (!named) {
            // OEM strings are numbered from 1 without gaps: hvmloader stops
            // at the first missing one.
            if (oems == kMaxSmbiosOemStrings || s.key != oemKey(oems + 1))
                return smbiosError("key " + quoted(s.key) + " is unknown or out of order (" +
                                   "OEM strings are " + oemKey(1) + ", " + oemKey(2) +
                                   ", ... up to " + oemKey(kMaxSmbiosOemStrings) + ")");
            ++oems;
        }
        for (size_t j = 0; j < i; ++j)
            if (strings[j].key == s.key)
                return smbiosError("key " + quoted(s.key) + " is given twice");
        BASALT_TRY(validateValue(s.key, s.value));
    }
    return {};
}

std::string smbiosXenstorePath(const SmbiosString& entry) {
    return std::string(HVM_XS_BIOS_STRINGS) + "/" + entry.key;
}

} // namespace basalt
