#include "toolstack/xenstored/wire.h"

#include <cstring>

namespace basalt::xenstore {

std::string encodeMessage(uint32_t type, uint32_t reqId, uint32_t txId, std::string_view payload) {
    xsd_sockmsg header{};
    header.type = type;
    header.req_id = reqId;
    header.tx_id = txId;
    header.len = static_cast<uint32_t>(payload.size());
    std::string out(reinterpret_cast<const char*>(&header), sizeof(header));
    out.append(payload);
    return out;
}

const char* errorString(int err) {
    for (const auto& e : xsd_errors)
        if (e.errnum == err)
            return e.errstring;
    return xsd_errors[0].errstring;
}

int errorFromString(std::string_view name) {
    for (const auto& e : xsd_errors)
        if (name == e.errstring)
            return e.errnum;
    return 0;
}

size_t MessageReader::feed(const uint8_t* data, size_t size) {
    size_t used = 0;
    while (used < size && !broken_ && !ready_) {
        if (!haveHeader_) {
            size_t n = std::min(kHeaderSize - header_.size(), size - used);
            header_.append(reinterpret_cast<const char*>(data + used), n);
            used += n;
            if (header_.size() < kHeaderSize)
                break;
            xsd_sockmsg h;
            std::memcpy(&h, header_.data(), sizeof(h));
            if (h.len > kPayloadMax) {
                broken_ = true;
                break;
            }
            want_ = h.len;
            haveHeader_ = true;
            body_.reserve(want_);
        }
        size_t n = std::min<size_t>(want_ - body_.size(), size - used);
        body_.append(reinterpret_cast<const char*>(data + used), n);
        used += n;
        if (body_.size() == want_) {
            xsd_sockmsg h;
            std::memcpy(&h, header_.data(), sizeof(h));
            ready_ = Message{h.type, h.req_id, h.tx_id, std::move(body_)};
            body_.clear();
            header_.clear();
            haveHeader_ = false;
        }
    }
    return used;
}

Message MessageReader::take() {
    Message m = std::move(*ready_);
    ready_.reset();
    return m;
}

std::vector<std::string_view> splitStrings(std::string_view payload) {
    std::vector<std::string_view> out;
    size_t off = 0;
    while (off < payload.size()) {
        size_t nul = payload.find('\0', off);
        if (nul == std::string_view::npos)
            break;
        out.push_back(payload.substr(off, nul - off));
        off = nul + 1;
    }
    return out;
}

std::optional<std::string_view> oneArg(std::string_view payload) {
    if (payload.empty() || payload.find('\0') != payload.size() - 1)
        return std::nullopt;
    return payload.substr(0, payload.size() - 1);
}

} // namespace basalt::xenstore
