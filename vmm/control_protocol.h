#pragma once
// The control socket's protocol: one JSON object per line in each direction.
//
//   -> {"command":"status"}
//   <- {"ok":true,"name":"web01","state":"running","vcpus":["running","running"],...}
//   -> {"command":"pause"}        <- {"ok":true,"state":"paused"}
//   -> {"command":"resume"}       <- {"ok":true,"state":"running"}
//   -> {"command":"destroy"}      <- {"ok":true,"state":"stopping"}
//   -> {"command":"debug-key","key":"q"}  <- {"ok":true}   (Xen's 'q': VIRQ_DEBUG)
//   -> {"command":"screenshot","path":"/tmp/s.png"}  <- {"ok":true,"path":"/tmp/s.png"}
//                                 (QEMU's display as a PNG; needs a device model)
//   -> garbage                    <- {"ok":false,"error":"..."}
//
// Transport-free so that it can be tested without a socket.

#include "vmm/domain.h"

#include <string>
#include <string_view>

namespace basalt {

class ControlTarget {
public:
    virtual ~ControlTarget() = default;
    virtual void pause() = 0;
    virtual void resume() = 0;
    virtual void destroy() = 0;
    virtual DomainStatus status() const = 0;
    // A Xen debug key; false if the target does not know it.
    virtual bool debugKey(char) { return false; }
    // Saves the current screen as a PNG at `path` (an absolute host path).
    virtual Status screenshot(const std::string&) {
        return makeError(ENOTSUP, "this domain has no display");
    }
};

// Answers one request line (without its newline) with one response line
// (without its newline). Never throws.
std::string handleControlRequest(std::string_view line, ControlTarget& target);

} // namespace basalt
