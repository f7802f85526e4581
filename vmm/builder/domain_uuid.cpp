#include "vmm/builder/domain_uuid.h"

#include "base/format.h"

#include <cerrno>
#include <cstring>
#include <sys/random.h>

namespace basalt {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
// Where the dashes go in the canonical form.
constexpr std::array<size_t, 4> kDashPositions = {8, 13, 18, 23};
// RFC 4122 section 4.4: version 4 in the high nibble of byte 6, variant
// 10xx in the high bits of byte 8.
constexpr size_t kVersionByte = 6;
constexpr uint8_t kVersionMask = 0x0F;
constexpr uint8_t kVersion4 = 0x40;
constexpr size_t kVariantByte = 8;
constexpr uint8_t kVariantMask = 0x3F;
constexpr uint8_t kVariantRfc4122 = 0x80;

bool isDashPosition(size_t i) {
    for (size_t p : kDashPositions)
        if (p == i)
            return true;
    return false;
}

} // namespace

Result<DomainUuid> parseDomainUuid(std::string_view text) {
    const std::string form = "expected the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex digits)";
    if (text.size() != kDomainUuidTextLength)
        return makeError(EINVAL, "a UUID is " + std::to_string(kDomainUuidTextLength) +
                                     " characters, not " + std::to_string(text.size()) + "; " +
                                     form);
    DomainUuid uuid{};
    size_t byte = 0;
    for (size_t i = 0; i < text.size();) {
        if (isDashPosition(i)) {
            if (text[i] != '-')
                return makeError(EINVAL, "character " + std::to_string(i + 1) +
                                             " of the UUID is not '-'; " + form);
            ++i;
            continue;
        }
        const int high = hexDigitValue(text[i]);
        const int low = hexDigitValue(text[i + 1]);
        if (high < 0 || low < 0)
            return makeError(EINVAL, "character " + std::to_string(i + (high < 0 ? 1 : 2)) +
                                         " of the UUID is not a hex digit; " + form);
        uuid[byte++] = static_cast<uint8_t>(high << 4 | low);
        i += 2;
    }
    return uuid;
}

std::string formatDomainUuid(const DomainUuid& uuid) {
    std::string text;
    text.reserve(kDomainUuidTextLength);
    for (size_t i = 0; i < uuid.size(); ++i) {
        if (isDashPosition(text.size()))
            text.push_back('-');
        text.push_back(kHexDigits[uuid[i] >> 4]);
        text.push_back(kHexDigits[uuid[i] & 0x0F]);
    }
    return text;
}

Result<DomainUuid> generateDomainUuid() {
    DomainUuid uuid{};
    size_t filled = 0;
    while (filled < uuid.size()) {
        const ssize_t n = getrandom(uuid.data() + filled, uuid.size() - filled, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return makeError(errno, std::string("getrandom: ") + std::strerror(errno));
        }
        filled += static_cast<size_t>(n);
    }
    uuid[kVersionByte] = (uuid[kVersionByte] & kVersionMask) | kVersion4;
    uuid[kVariantByte] = (uuid[kVariantByte] & kVariantMask) | kVariantRfc4122;
    return uuid;
}

} // namespace basalt
