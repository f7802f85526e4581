// basalt-vnc-auth: the VNC password gate in front of QEMU's VNC server.
// Debian's qemu-system-xen has no DES cipher, so QEMU cannot ask for a VNC
// password itself; the launcher (devmodel/launcher/) starts this program
// next to QEMU, as the same unprivileged user, with
//   fd 3  the listening socket the user's VNC address names (bound by the
//         launcher), and
//   fd 4  a pipe carrying the password, closed after it (never argv or the
//         environment: /proc/<pid>/cmdline and environ are readable).
// It parses untrusted network input before authentication, which is why it
// is a separate deprivileged process and not part of basalt-vmm.
//
// usage: basalt-vnc-auth --upstream QEMU_VNC_SOCKET [--listen-fd N] [--password-fd N]

#include "base/log.h"
#include "base/unique_fd.h"
#include "devmodel/launcher/sandbox_policy.h"
#include "devmodel/vnc_auth/relay.h"
#include "devmodel/vnc_auth/vnc_des.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

BASALT_LOG_CATEGORY(VncAuthMain, "vnc-auth");

constexpr int kDefaultListenFd = 3;
constexpr int kDefaultPasswordFd = 4;
// xl.cfg strings are short; anything longer is not a password.
constexpr size_t kMaxPasswordBytes = 1024;
constexpr int kUsageError = 2;

bool parseFd(const char* text, int& out) {
    char* end = nullptr;
    errno = 0;
    const long value = std::strtol(text, &end, 10);
    if (errno || !*text || *end || value < 0 || value > 1 << 20)
        return false;
    out = static_cast<int>(value);
    return true;
}

// The whole pipe, up to EOF; then the pipe is closed.
basalt::Result<std::string> readPassword(int fd) {
    basalt::UniqueFd pipe(fd);
    std::string password;
    char buffer[256];
    while (true) {
        const ssize_t got = ::read(pipe.get(), buffer, sizeof(buffer));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return basalt::errnoError("cannot read the VNC password from fd " + std::to_string(fd));
        if (got == 0)
            break;
        password.append(buffer, static_cast<size_t>(got));
        if (password.size() > kMaxPasswordBytes)
            return basalt::makeError(EINVAL, "the VNC password is longer than " +
                                                 std::to_string(kMaxPasswordBytes) + " bytes");
    }
    if (password.empty())
        return basalt::makeError(EINVAL, "the VNC password is empty");
    return password;
}

} // namespace

int main(int argc, char** argv) {
    basalt::vncauth::RelayConfig config;
    config.listenFd = kDefaultListenFd;
    int passwordFd = kDefaultPasswordFd;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool hasValue = i + 1 < argc;
        if (arg == "--upstream" && hasValue) {
            config.upstreamPath = argv[++i];
        } else if (arg == "--listen-fd" && hasValue && parseFd(argv[i + 1], config.listenFd)) {
            ++i;
        } else if (arg == "--password-fd" && hasValue && parseFd(argv[i + 1], passwordFd)) {
            ++i;
        } else {
            LOG(VncAuthMain, Error,
                "usage: basalt-vnc-auth --upstream QEMU_VNC_SOCKET [--listen-fd N] "
                "[--password-fd N] (bad argument '%s')",
                arg.c_str());
            return kUsageError;
        }
    }
    if (config.upstreamPath.empty()) {
        LOG(VncAuthMain, Error, "--upstream QEMU_VNC_SOCKET is required");
        return kUsageError;
    }
    auto password = readPassword(passwordFd);
    if (!password.ok()) {
        LOG(VncAuthMain, Error, "%s", password.error().message.c_str());
        return EXIT_FAILURE;
    }
    config.password = std::move(*password);
    if (config.password.size() > basalt::vncauth::kVncPasswordBytes)
        LOG(VncAuthMain, Warn,
            "the VNC password is %zu bytes; RFB VNC authentication uses only the first %zu",
            config.password.size(), basalt::vncauth::kVncPasswordBytes);
    int listening = 0;
    socklen_t len = sizeof(listening);
    if (getsockopt(config.listenFd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
        !listening) {
        LOG(VncAuthMain, Error, "fd %d is not a listening socket", config.listenFd);
        return kUsageError;
    }
    // A client that goes away mid-write must not end the program.
    std::signal(SIGPIPE, SIG_IGN);
    // Before the first byte from the network: the same seccomp policy as
    // QEMU's (devmodel/launcher/sandbox_policy.h); the launcher already set
    // PR_SET_NO_NEW_PRIVS, which is set here again for a manual start.
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        !basalt::devmodel::installQemuSeccompFilter()) {
        LOG(VncAuthMain, Error, "cannot install the seccomp filter: %s", strerror(errno));
        return EXIT_FAILURE;
    }
    LOG(VncAuthMain, Info, "relaying VNC clients to %s after password authentication",
        config.upstreamPath.c_str());
    if (auto status = basalt::vncauth::runRelay(config); !status.ok())
        LOG(VncAuthMain, Error, "%s", status.error().message.c_str());
    return EXIT_FAILURE;
}
