#pragma once
// Starts QEMU (Debian's qemu-system-xen, unmodified) as a guest's device
// model, deprivileged, and watches it. libxl's spawn sequence, Basalt-style:
//
//   preflight   disk images exist, the provider libraries and the sandbox
//               library are there, the basalt-qemu user exists: one clear
//               error before anything is created.
//   start       xenstore keys (device-model/<domid>, the domain's home if
//               missing, /local/domain/0/domid) -> private run dir -> fork:
//               fds 0 /dev/null, 1+2 the log, 3 the DM socket, nothing else;
//               setgroups(0)/setgid/setuid(basalt-qemu), NO_NEW_PRIVS,
//               PDEATHSIG -> exec with LD_LIBRARY_PATH (provider libraries),
//               LD_PRELOAD (seccomp policy), BASALT_DM_FD, XENSTORED_PATH ->
//               wait for device-model/<domid>/state = "running" (abandoned
//               if QEMU exits) -> check its seccomp mode -> monitor thread.
//   running     the monitor thread reaps QEMU through a pidfd; an exit that
//               stop() did not ask for is reported through onDied (the guest
//               is crashed; QEMU is never restarted behind its back).
//   stop        SIGTERM, a grace period, SIGKILL, reap; the keys and the run
//               dir are removed. Every failure path of start() does the same.
//
// With a VNC password (Debian's QEMU has no DES, so it cannot check one),
// QEMU's VNC server listens on <run dir>/vnc.sock, which only basalt-qemu
// can reach, and basalt-vnc-auth (devmodel/vnc_auth/) is started after QEMU
// runs: same user and sandbox steps, fd 3 the user's VNC address (bound here,
// as root), fd 4 a pipe holding the password. It is stopped with QEMU. If it
// dies on its own, that is logged and the guest keeps running: only VNC
// access is lost, and a lost display is not worth a guest's crash.

#include "base/result.h"
#include "vmm/builder/domain_spec.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <sys/types.h>

namespace basalt::devmodel {

inline constexpr const char* kDefaultQemuBinary = "/usr/libexec/xen-qemu-system-i386";
inline constexpr const char* kDefaultQemuUser = "basalt-qemu";
inline constexpr const char* kDefaultRunDir = "/run/basalt";
inline constexpr const char* kSandboxLibraryName = "libbasalt-dm-sandbox.so";
inline constexpr const char* kVncAuthBinaryName = "basalt-vnc-auth";
// Where QEMU finds the DM socket (dup2'd there in the child).
inline constexpr int kQemuDmSocketFd = 3;

struct LauncherConfig {
    uint32_t domid = 1;
    std::string xenstorePath; // xenstored's socket; must be reachable by `user`
    std::string qemuBinary = kDefaultQemuBinary;
    std::string libraryDir;     // Basalt's provider libraries (libxenctrl.so.4.17, ...)
    std::string sandboxLibrary; // libbasalt-dm-sandbox.so
    std::string vncAuthBinary;  // basalt-vnc-auth; used only with a VNC password
    std::string runDir = kDefaultRunDir;
    std::string user = kDefaultQemuUser;
    std::chrono::milliseconds startTimeout{std::chrono::seconds(60)};
    std::chrono::milliseconds stopGrace{std::chrono::seconds(5)};
};

// The default provider-library and sandbox locations: next to basalt-vmm in
// a build tree (<dir of /proc/self/exe>/devmodel/lib and that dir itself),
// unless BASALT_DM_LIBRARY_DIR / BASALT_DM_SANDBOX_LIBRARY say otherwise.
std::string defaultLibraryDir();
std::string defaultSandboxLibrary();
// basalt-vnc-auth next to basalt-vmm, unless BASALT_VNC_AUTH says otherwise.
std::string defaultVncAuthBinary();

class DeviceModelProcess {
public:
    using DiedCallback = std::function<void(const std::string& reason)>;

    // Host-side checks that need no process: see the block comment.
    static Status preflight(const DomainSpec& spec, const LauncherConfig& config);

    // `dmFd` is the socket end QEMU inherits (devmodel::Host::peerFd()); the
    // caller closes its copy after start() returns. `onDied` runs on the
    // monitor thread.
    static Result<std::unique_ptr<DeviceModelProcess>>
    start(const DomainSpec& spec, const LauncherConfig& config, int dmFd, DiedCallback onDied);

    ~DeviceModelProcess(); // stop()

    // Idempotent; safe while the monitor thread reports a death.
    void stop();

    pid_t pid() const;
    const std::string& qmpSocketPath() const;
    const std::string& logPath() const;
    const std::string& serialPty() const; // empty unless serial = "pty"
    pid_t vncAuthPid() const;             // -1 unless the spec has a VNC password

    struct State;

private:
    explicit DeviceModelProcess(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

} // namespace basalt::devmodel
