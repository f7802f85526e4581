#pragma once
// A small synchronous xenstore client speaking xen/io/xs_wire.h over
// xenstored's UNIX socket: what basalt-vmm uses to write the keys hvmloader
// and QEMU read, to follow QEMU's device-model/<domid>/state handshake, and
// to introduce the guest's store ring. It is privileged (dom0) on the
// socket, as libxl is. Not thread-safe: one owner thread, or a mutex.

#include "base/result.h"
#include "base/unique_fd.h"
#include "toolstack/xenstored/wire.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace basalt::xs {

// One permission entry, as xenstore-chmod writes them: 'n','r','w','b' + domid.
struct Permission {
    char access = 'n';
    uint32_t domid = 0;
};

struct WatchEvent {
    std::string path;
    std::string token;
};

class Client {
public:
    // `socketPath` empty: libxenstore's rules (XENSTORED_PATH, then
    // XENSTORED_RUNDIR/socket, then /var/run/xenstored/socket).
    static Result<Client> connect(const std::string& socketPath = {});

    Result<std::string> read(const std::string& path);
    Status write(const std::string& path, const std::string& value);
    Status mkdir(const std::string& path);
    Status remove(const std::string& path); // a missing node is not an error
    Result<std::vector<std::string>> directory(const std::string& path);
    // The first entry is the owner and the default for everyone else.
    Status setPermissions(const std::string& path, const std::vector<Permission>& perms);

    Status watch(const std::string& path, const std::string& token);
    Status unwatch(const std::string& path, const std::string& token);
    // The next watch event, or ETIMEDOUT.
    Result<WatchEvent> waitWatch(std::chrono::milliseconds timeout);
    // Waits until `path` reads `value` (watching it meanwhile), or ETIMEDOUT,
    // or the `abandon` fd (e.g. a pidfd of the process meant to write it)
    // becomes readable, which gives ECHILD.
    Status waitForValue(const std::string& path, const std::string& value,
                        std::chrono::milliseconds timeout, int abandon = -1);

    // XS_INTRODUCE / XS_RELEASE. Basalt's xenstored has no foreign-memory
    // access: the guest's store page travels as an fd (the RAM memfd and the
    // page's offset in it) and the store event channel as two eventfds
    // (guest->xenstored readable, xenstored->guest writable), all attached as
    // SCM_RIGHTS [page, guest->store, store->guest] to the XS_INTRODUCE
    // message, whose body is the standard "domid\0mfn\0port\0" followed by a
    // fourth field, the page's byte offset in the fd ("offset\0"). With
    // pageFd < 0 no fds and no fourth field are sent (plain Xen INTRODUCE).
    // The daemon keeps the ring while this connection lives: closing the
    // client releases the domains it introduced.
    Status introduce(uint32_t domid, uint64_t mfn, uint32_t port, int pageFd, uint64_t pageOffset,
                     int guestToStoreFd, int storeToGuestFd);
    Status release(uint32_t domid);

    // The domain's home path, "/local/domain/<domid>".
    static std::string domainPath(uint32_t domid);

    bool connected() const { return fd_.valid(); }
    // The socket, for poll(): readable with no request outstanding and no
    // watch registered means xenstored closed the connection.
    int pollFd() const { return fd_.get(); }

    Client(Client&&) = default;
    Client& operator=(Client&&) = default;

private:
    explicit Client(UniqueFd fd) : fd_(std::move(fd)) {}
    // Sends one request and returns its reply body; watch events that arrive
    // meanwhile are queued for waitWatch().
    Result<std::string> request(uint32_t type, const std::string& body,
                                const std::vector<int>& fds = {});
    Result<xenstore::Message> receive(std::chrono::steady_clock::time_point deadline, int abandon);
    void queueEvent(const std::string& payload);

    UniqueFd fd_;
    uint32_t nextReqId_ = 1;
    std::vector<WatchEvent> pendingEvents_;
    std::string inBuffer_; // bytes received past the last whole message
};

} // namespace basalt::xs
