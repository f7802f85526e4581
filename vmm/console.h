#pragma once
// The domain console: bytes from the guest go to stdout (unbuffered, so a
// reader sees them as they are written) and to an optional log file.

#include "base/result.h"
#include "base/unique_fd.h"

#include <memory>
#include <mutex>
#include <span>
#include <string>

namespace basalt {

class Console {
public:
    // `logPath` empty: no log file. `toStdout` false: log only.
    static Result<std::unique_ptr<Console>> open(const std::string& logPath, bool toStdout);

    void write(std::span<const uint8_t> bytes);

private:
    Console(UniqueFd log, bool toStdout) : log_(std::move(log)), toStdout_(toStdout) {}

    std::mutex mutex_; // keeps output from several vCPUs in whole writes
    UniqueFd log_;
    bool toStdout_;
};

} // namespace basalt
