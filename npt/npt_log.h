#pragma once
// The npt log category and the two ways npt reports a failure: host-side
// errors (configuration, syscalls) are logged in full; errors a guest can
// provoke at will are rate-limited (DESIGN.md decision 8).

#include "base/log.h"
#include "base/result.h"

#include <string>

namespace basalt::npt {

BASALT_DECLARE_LOG_CATEGORY(Npt);

// Logs `message` as an error and returns it as an Error with `code`.
Error hostError(int code, std::string message);

// hostError for a failed syscall: "<what>: <strerror(code)>". Callers save
// errno into `code` right after the call, before building `what`.
Error hostErrno(int code, const std::string& what);

// Logs `message` as a rate-limited warning and returns it as an Error with `code`.
Error guestError(int code, std::string message);

} // namespace basalt::npt
