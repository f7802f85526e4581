#pragma once
// The xenstore wire format (xen/io/xs_wire.h): a 16-byte header followed by
// `len` payload bytes, usually NUL-terminated strings. Every byte comes from an
// untrusted client, so the reader validates lengths before buffering anything.

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <xen/io/xs_wire.h>

namespace basalt::xenstore {

constexpr size_t kHeaderSize = sizeof(xsd_sockmsg);
constexpr size_t kPayloadMax = XENSTORE_PAYLOAD_MAX;

struct Message {
    uint32_t type = XS_INVALID;
    uint32_t reqId = 0;
    uint32_t txId = 0;
    std::string payload;
};

// Header + payload, ready for a socket or a ring.
std::string encodeMessage(uint32_t type, uint32_t reqId, uint32_t txId, std::string_view payload);

// The xsd_errors string for an errno; untranslatable values become "EINVAL" as in Xen.
const char* errorString(int err);
// The errno for an xsd_errors string, or 0 when unknown.
int errorFromString(std::string_view name);

// Incremental parser: feed bytes as they arrive, take complete messages out.
// A header announcing more than XENSTORE_PAYLOAD_MAX bytes breaks the stream
// for good: the connection that sent it is dropped.
class MessageReader {
public:
    // Consumes bytes; returns how many were used (stops after one complete
    // message so that the caller can apply flow control).
    size_t feed(const uint8_t* data, size_t size);
    bool hasMessage() const { return ready_.has_value(); }
    Message take();
    bool broken() const { return broken_; }
    // Bytes of an incomplete message buffered so far.
    size_t buffered() const { return header_.size() + body_.size(); }

private:
    std::string header_;
    std::string body_;
    uint32_t want_ = 0;
    bool haveHeader_ = false;
    bool broken_ = false;
    std::optional<Message> ready_;
};

// Splits a payload into its NUL-terminated strings, the way Xen's get_strings()
// does: bytes after the last NUL are not a string.
std::vector<std::string_view> splitStrings(std::string_view payload);

// The single argument of a request whose payload must be exactly one
// NUL-terminated string (Xen's onearg()); nullopt when it is not.
std::optional<std::string_view> oneArg(std::string_view payload);

} // namespace basalt::xenstore
