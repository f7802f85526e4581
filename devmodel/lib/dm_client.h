#pragma once
// libbasalt-dmclient: the one connection every provider library in the QEMU
// process shares with basalt-vmm's device-model host (devmodel/protocol/dm_wire.h).
//
// The socket's number comes from the environment (kDmSocketEnv). The session
// starts lazily: the first call that names a domain sends Hello with that
// domid, and from then on the connection is scoped to that one domain (a call
// for any other domid fails with EPERM without reaching the host). One mutex
// keeps one request in flight. Once the host closes the socket or breaks the
// protocol, the connection is dead and every later call fails with the errno
// that killed it (EPIPE for a closed socket, EPROTO for a malformed reply).
//
// Worked example (xenforeignmemory_map of pfns [0x10, 0x11, 0x40] in domain 1):
//   bindDomain(1)      -> Hello{v1, domid 1}      <- Hello{v1, domid 1, vcpus 2}
//   call(MapPfns, ...) -> MapPfns{3 pfns}         <- slots [{b0,0x10000},{b0,0x11000},
//                                                           {b0,0x40000}] + fd(b0)
//   the reply's new fd is remembered as backing 0 for the connection's life;
//   mapSlots() reserves 3 pages and maps [0x10000, 0x12000) of b0 as one run
//   and 0x40000 as another, both MAP_SHARED|MAP_FIXED into the reservation.
//
// This is a private library: its C++ API is exported only to the six
// provider libraries (and the unit tests), never to QEMU.

#include "base/result.h"
#include "base/unique_fd.h"
#include "devmodel/protocol/dm_wire.h"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <new>
#include <span>
#include <vector>

namespace basalt::devmodel {

inline constexpr size_t kXenPageSize = 4096;
inline constexpr unsigned kXenPageShift = 12;

struct DmReply {
    uint64_t value = 0;
    std::vector<uint8_t> body;
    // For ops whose body is a DmPfnSlot array: the fd behind each slot, or -1
    // for a slot with an error. The fds stay open for the connection's life.
    std::vector<int> slotFds;
    // For ops that hand fds over (BindInterdomain): every fd of the reply.
    std::vector<UniqueFd> fds;
};

// What a reply may carry besides its body. New backing fds of a slot array are
// taken over while the connection lock is still held (a later reply may name
// them); any fd a Plain reply carries is a protocol error.
enum class DmReplyBody { Plain, PfnSlots, Fds };

class DmClient {
public:
    // The process-wide connection (created on first use, never destroyed while
    // the process runs: handles in QEMU may outlive static destructors).
    static DmClient& instance();

    // Whether kDmSocketEnv names a usable socket; the provider libraries'
    // open() functions fail with this error, as Xen's fail without /dev/xen.
    Status available();

    // Starts the session for `domid` (Hello) if none is running; fails with
    // EPERM if the session belongs to another domain.
    Status bindDomain(uint32_t domid);

    // The session's domid; only meaningful after a successful bindDomain().
    bool bound() const;
    uint32_t domid() const;

    // One exchange: header + head + tail out, reply in. A reply carrying an
    // errno becomes an Error with that code.
    Result<DmReply> call(DmOp op, std::span<const uint8_t> head, std::span<const uint8_t> tail = {},
                         DmReplyBody layout = DmReplyBody::Plain);

    template <typename T>
    Result<DmReply> callWith(DmOp op, const T& request, std::span<const uint8_t> tail = {},
                             DmReplyBody layout = DmReplyBody::Plain) {
        return call(op, {reinterpret_cast<const uint8_t*>(&request), sizeof(T)}, tail, layout);
    }

    // Largest body a request or a reply may carry.
    static constexpr size_t kMaxBody = kDmMaxPacket - sizeof(DmReplyHeader);

private:
    DmClient() = default;
    Status connectLocked();
    Status helloLocked(uint32_t domid);
    Result<DmReply> exchangeLocked(DmOp op, std::span<const uint8_t> head,
                                   std::span<const uint8_t> tail, DmReplyBody layout);
    Error failLocked(int code, const char* what);

    mutable std::mutex mutex_;
    UniqueFd fd_;
    bool envChecked_ = false;
    int deadError_ = 0; // errno every call gets once the connection is dead
    bool bound_ = false;
    uint32_t domid_ = 0;
    uint32_t vcpus_ = 0;
    uint64_t nextSeq_ = 1;
    std::map<uint32_t, UniqueFd> backings_;
};

// Maps `count` slots (as a MapPfns/MapResource/MapGrants reply gave them) into
// one reservation of count pages at `addr` (a hint, or exact with MAP_FIXED in
// `flags`), coalescing runs that are contiguous in one backing. Slot errors and
// pages that fail to map are reported as negative errnos in `err` (Xen's
// convention) and left inaccessible. Returns the reservation or an error.
Result<void*> mapSlots(void* addr, int flags, int prot, std::span<const DmPfnSlot> slots,
                       std::span<const int> fds, int* err);

// Reads a reply body as an array of T (the size must divide exactly).
template <typename T> Result<std::vector<T>> bodyArray(const DmReply& reply, size_t count) {
    if (reply.body.size() != count * sizeof(T))
        return makeError(EPROTO, "device-model host sent a reply of the wrong size");
    std::vector<T> out(count);
    if (count)
        __builtin_memcpy(out.data(), reply.body.data(), count * sizeof(T));
    return out;
}

// Sets errno from an Error and returns -1, the Xen libraries' failure shape.
inline int failWith(const Error& error) {
    errno = error.code;
    return -1;
}

// The same for functions that return a pointer (NULL on failure).
inline std::nullptr_t failNull(const Error& error) {
    errno = error.code;
    return nullptr;
}

// Runs an exported function's body so that no C++ exception reaches QEMU:
// allocation failure becomes ENOMEM, anything else EIO.
template <typename R, typename F> R guarded(R failure, F&& body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        errno = ENOMEM;
    } catch (...) {
        errno = EIO;
    }
    return failure;
}

} // namespace basalt::devmodel
