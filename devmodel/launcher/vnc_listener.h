#pragma once
// The listening socket basalt-vnc-auth serves, bound by the launcher (as
// root, before the relay starts) so that a taken port or a bad path is one
// synchronous error of the guest's start, as it is when QEMU listens itself.

#include "base/result.h"
#include "base/unique_fd.h"

#include <string>
#include <sys/types.h>

namespace basalt::devmodel {

inline constexpr uint32_t kVncBasePort = 5900;

// `address` is a validated spec VNC address: "unix:/abs/path" or
// "HOST:DISPLAY" (TCP port 5900 + DISPLAY; HOST may be "[v6]"). A UNIX
// socket is given to `uid`/`gid`, as if that user (the device model's) had
// created it, and an existing socket at the path is replaced.
Result<UniqueFd> listenForVnc(const std::string& address, uid_t uid, gid_t gid);

// The path of a "unix:" address, or "" for TCP.
std::string vncUnixPath(const std::string& address);

} // namespace basalt::devmodel
