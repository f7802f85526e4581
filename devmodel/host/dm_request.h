#pragma once
// What the device-model host's op handlers share (devmodel/host/dm_*.cpp):
// the parsed request, the protocol limits and the log category. Private to
// devmodel/host.

#include "base/log.h"
#include "devmodel/host/dm_dispatch.h"

#include <cstdint>
#include <cstring>
#include <span>
#include <sys/mman.h>
#include <utility>
#include <vector>

namespace basalt::devmodel {

BASALT_DECLARE_LOG_CATEGORY(DmHost);

inline constexpr uint32_t kProtMask = PROT_READ | PROT_WRITE;
inline constexpr size_t kMaxReplyBody = kDmMaxPacket - sizeof(DmReplyHeader);
inline constexpr uint64_t kMaxGfn = uint64_t{1} << 40; // 52-bit guest-physical space

inline constexpr uint8_t kPciDevices = 32;
inline constexpr uint8_t kPciFunctions = 8;

// A foreign mapping's protection: read and/or write, nothing else.
inline bool validMapProt(uint32_t prot) {
    return prot != 0 && (prot & ~kProtMask) == 0;
}

template <class T> bool allZero(const T& pad) {
    for (auto b : pad)
        if (b)
            return false;
    return true;
}

struct Dispatcher::Request {
    DmRequestHeader header;
    std::span<const uint8_t> body;
    std::vector<uint8_t> reply; // body only
    std::vector<int> fds;
    uint64_t value = 0;
    // fillSlot()'s identity of the last backing fd: a map request names
    // hundreds of pages of one memfd, and fstat() once per request will do.
    int lastFd = -1;
    std::pair<uint64_t, uint64_t> lastKey{};

    // The fixed part of a request; `exact` when nothing may follow it.
    template <class T> bool fixed(T& out, bool exact = true) const {
        if (body.size() < sizeof(T) || (exact && body.size() != sizeof(T)))
            return false;
        std::memcpy(&out, body.data(), sizeof(T));
        return true;
    }
    // The fixed part of a request that must name domain `domid`: 0, EINVAL
    // when it is malformed, ESRCH when it names another domain (Xen's answer
    // for a domid it does not know).
    template <class T> int fixedFor(uint16_t domid, T& out) const {
        if (!fixed(out))
            return EINVAL;
        return out.domid == domid ? 0 : ESRCH;
    }
    // `count` items of E right after the fixed part T, and nothing else.
    template <class T, class E> bool array(size_t count, std::vector<E>& out) const {
        size_t room = (body.size() - sizeof(T)) / sizeof(E);
        if (count > room || body.size() != sizeof(T) + count * sizeof(E))
            return false;
        out.resize(count);
        if (count)
            std::memcpy(out.data(), body.data() + sizeof(T), count * sizeof(E));
        return true;
    }
    template <class T> void put(const T& v) {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        reply.insert(reply.end(), p, p + sizeof(T));
    }
};

} // namespace basalt::devmodel
