#include "vmm/serial_console.h"

#include "base/log.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

namespace basalt {

BASALT_LOG_CATEGORY(SerialConsoleLog, "console");

namespace {

constexpr size_t kReadChunk = 4096;
// A guest that never prints a newline still gets its output logged.
constexpr size_t kMaxLogLine = 4096;

void writeAll(int fd, const char* data, size_t size) {
    while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; // a full disk or closed stdout must not stop the guest
        data += n;
        size -= static_cast<size_t>(n);
    }
}

std::string timestamp() {
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t secs = system_clock::to_time_t(now);
    auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[48];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    char out[64];
    std::snprintf(out, sizeof out, "[%s.%03lld] ", buf, static_cast<long long>(ms));
    return out;
}

} // namespace

Result<std::unique_ptr<SerialConsole>> SerialConsole::start(const Config& config) {
    std::unique_ptr<SerialConsole> c(new SerialConsole());
    c->config_ = config;
    c->pty_.reset(::open(config.ptyPath.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK));
    if (!c->pty_)
        return errnoError("cannot open the serial pty '" + config.ptyPath + "'");
    // Raw: the guest's bytes pass unchanged, nothing is echoed back to it.
    termios tio{};
    if (::tcgetattr(c->pty_.get(), &tio) == 0) {
        ::cfmakeraw(&tio);
        ::tcsetattr(c->pty_.get(), TCSANOW, &tio);
    }
    if (!config.logPath.empty()) {
        c->log_.reset(
            ::open(config.logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
        if (!c->log_)
            return errnoError("cannot open the console log '" + config.logPath + "'");
    }
    // An attached terminal passes keys through unchanged (Ctrl-C goes to
    // the guest); the destructor gives the terminal its settings back.
    if (config.attach && ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &c->savedTty_) == 0) {
        termios raw = c->savedTty_;
        ::cfmakeraw(&raw);
        if (::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
            c->restoreTty_ = true;
    }
    c->stopEvent_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!c->stopEvent_)
        return errnoError("eventfd");
    c->thread_ = std::thread([raw = c.get()] { raw->run(); });
    return c;
}

SerialConsole::~SerialConsole() {
    if (thread_.joinable()) {
        uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(stopEvent_.get(), &one, sizeof one);
        thread_.join();
    }
    flushLine();
    if (restoreTty_)
        ::tcsetattr(STDIN_FILENO, TCSANOW, &savedTty_);
}

void SerialConsole::flushLine() {
    if (!log_ || line_.empty())
        return;
    std::string out = timestamp() + line_;
    if (out.back() != '\n')
        out += '\n';
    writeAll(log_.get(), out.data(), out.size());
    line_.clear();
}

void SerialConsole::logBytes(const char* data, size_t size) {
    if (!log_)
        return;
    for (size_t i = 0; i < size; ++i) {
        char c = data[i];
        if (c == '\r')
            continue; // "\r\n" from a guest is one line end
        line_ += c;
        if (c == '\n' || line_.size() >= kMaxLogLine)
            flushLine();
    }
}

// What the guest wrote just before it stopped is already in the pty: QEMU
// wrote it before it answered the guest's port write.
void SerialConsole::drain() {
    char buf[kReadChunk];
    for (;;) {
        ssize_t got = ::read(pty_.get(), buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return; // EAGAIN: empty; EIO: QEMU has gone
        if (config_.attach)
            writeAll(STDOUT_FILENO, buf, static_cast<size_t>(got));
        logBytes(buf, static_cast<size_t>(got));
    }
}

void SerialConsole::run() {
    bool forwardInput = config_.attach;
    char buf[kReadChunk];
    for (;;) {
        pollfd fds[3] = {{stopEvent_.get(), POLLIN, 0},
                         {pty_.get(), POLLIN, 0},
                         {forwardInput ? STDIN_FILENO : -1, POLLIN, 0}};
        int n = ::poll(fds, 3, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (fds[0].revents & POLLIN)) {
            drain();
            break;
        }
        if (fds[1].revents & POLLIN) {
            ssize_t got = ::read(pty_.get(), buf, sizeof buf);
            if (got > 0) {
                if (config_.attach)
                    writeAll(STDOUT_FILENO, buf, static_cast<size_t>(got));
                logBytes(buf, static_cast<size_t>(got));
            }
        } else if (fds[1].revents & (POLLHUP | POLLERR)) {
            // QEMU closed its end (it is stopping): nothing more will come.
            break;
        }
        if (fds[2].revents & (POLLIN | POLLHUP)) {
            ssize_t got = ::read(STDIN_FILENO, buf, sizeof buf);
            if (got <= 0) {
                forwardInput = false; // stdin closed
                continue;
            }
            for (ssize_t i = 0; i < got; ++i)
                if (buf[i] == kDetachKey) {
                    got = i;
                    forwardInput = false;
                    LOG(SerialConsoleLog, Info, "console input detached (Ctrl-])");
                    break;
                }
            writeAll(pty_.get(), buf, static_cast<size_t>(got));
        }
    }
}

} // namespace basalt
