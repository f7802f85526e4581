#include "vmm/console.h"

#include <fcntl.h>
#include <memory>
#include <unistd.h>

namespace basalt {

namespace {

void writeAll(int fd, std::span<const uint8_t> bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; // a closed stdout must not stop the guest
        bytes = bytes.subspan(static_cast<size_t>(n));
    }
}

} // namespace

Result<std::unique_ptr<Console>> Console::open(const std::string& logPath, bool toStdout) {
    UniqueFd log;
    if (!logPath.empty()) {
        log.reset(::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
        if (!log)
            return errnoError("cannot open console log '" + logPath + "'");
    }
    return std::unique_ptr<Console>(new Console(std::move(log), toStdout));
}

void Console::write(std::span<const uint8_t> bytes) {
    std::lock_guard lock(mutex_);
    if (toStdout_)
        writeAll(STDOUT_FILENO, bytes);
    if (log_)
        writeAll(log_.get(), bytes);
}

} // namespace basalt
