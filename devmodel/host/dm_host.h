#pragma once
// The device-model host: basalt-vmm's end of the wire to QEMU's provider
// libraries (devmodel/protocol/dm_wire.h). One SOCK_SEQPACKET socketpair,
// one serving thread that answers each request packet with one reply
// (devmodel/host/dm_dispatch.h does the parsing and the ops).
//
// Lifecycle (the launcher, devmodel/launcher/, drives it):
//   auto host = Host::start(domain);      // socketpair + thread
//   fork(); child: clear CLOEXEC on host->peerFd(), exec QEMU
//   parent: host->closePeerFd();
//   QEMU exits or hangs -> host->deviceModelDied("exited with status 1"):
//     every vCPU waiting on an ioreq is released and the domain crashes
//     (unless it is already stopping)
//   domain stopping -> host->stop(); ~Host joins the thread.
// If QEMU closes its end first, the thread reports that as a death too.

#include "base/result.h"
#include "base/unique_fd.h"
#include "devmodel/host/dm_dispatch.h"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace basalt {
class Domain;
}

namespace basalt::devmodel {

class Host {
public:
    // Creates the socketpair and the serving thread; QEMU gets peerFd().
    static Result<std::unique_ptr<Host>> start(Domain& domain);
    // The same with explicit services (tests, fuzzing); `died` is called
    // once, with the reason, when the device model is gone.
    static Result<std::unique_ptr<Host>> start(HostServices services,
                                               std::function<void(const std::string&)> died);
    ~Host();
    Host(const Host&) = delete;
    Host& operator=(const Host&) = delete;

    // The end QEMU inherits (CLOEXEC set; the launcher clears it in the child).
    int peerFd() const { return peer_.get(); }
    // After fork, in the parent.
    void closePeerFd() { peer_.reset(); }
    // QEMU is gone (exited, killed, or stopped answering): every vCPU waiting
    // on an ioreq is released, and the domain is crashed with this reason
    // unless it is already stopping.
    void deviceModelDied(const std::string& reason);
    // The domain is stopping and QEMU is about to be told to exit: its
    // closing the connection from now on is expected, not a death.
    void expectExit() { expectingExit_.store(true); }
    // Orderly shutdown (domain stopping); idempotent.
    void stop();

private:
    Host(HostServices services, std::function<void(const std::string&)> died);
    void serve();

    HostServices services_;
    std::function<void(const std::string&)> died_;
    Dispatcher dispatcher_;
    UniqueFd socket_;
    UniqueFd peer_;
    UniqueFd stopFd_; // eventfd that ends serve()
    std::atomic<bool> stopping_{false};
    std::atomic<bool> expectingExit_{false};
    std::atomic<bool> dead_{false};
    std::thread thread_;
};

} // namespace basalt::devmodel
