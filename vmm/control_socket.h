#pragma once
// Serves the control protocol (vmm/control_protocol.h) on a UNIX socket with
// Boost.Asio, on a thread of its own so that a stuck client never blocks a vCPU.

#include "base/result.h"
#include "vmm/control_protocol.h"

#include <memory>
#include <string>
#include <thread>

namespace basalt {

class ControlSocket {
public:
    static Result<std::unique_ptr<ControlSocket>> listen(const std::string& path,
                                                         ControlTarget& target);
    ~ControlSocket(); // stops the thread, closes clients, removes the socket file

private:
    struct Impl;
    explicit ControlSocket(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace basalt
