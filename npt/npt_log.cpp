#include "npt/npt_log.h"

#include <cstring>
#include <utility>

namespace basalt::npt {

BASALT_LOG_CATEGORY(Npt, "npt");

Error hostError(int code, std::string message) {
    LOG(Npt, Error, "%s", message.c_str());
    return makeError(code, std::move(message));
}

Error hostErrno(int code, const std::string& what) {
    return hostError(code, what + ": " + std::strerror(code));
}

Error guestError(int code, std::string message) {
    LOG_RATELIMITED(Npt, Warn, "%s", message.c_str());
    return makeError(code, std::move(message));
}

} // namespace basalt::npt
