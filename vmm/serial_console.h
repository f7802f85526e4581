#pragma once
// The guest's serial console when QEMU serves it on a pty (--serial pty):
// basalt-vmm is the pty's one reader (two readers would split the output).
// It copies every line to the console log with a timestamp
// ("[2026-11-21 18:59:27.123] text") and, with --console attach, relays the
// pty to this process's terminal: output to stdout, stdin to the guest,
// Ctrl-] stops forwarding input (the guest keeps running).

#include "base/result.h"
#include "base/unique_fd.h"

#include <memory>
#include <string>
#include <termios.h>
#include <thread>

namespace basalt {

class SerialConsole {
public:
    static constexpr char kDetachKey = 0x1D; // Ctrl-], as xl console and telnet

    struct Config {
        std::string ptyPath;
        std::string logPath; // empty: no log
        bool attach = false; // relay to stdin/stdout
    };

    static Result<std::unique_ptr<SerialConsole>> start(const Config& config);
    ~SerialConsole(); // stops the thread; a partial last line is logged too

private:
    SerialConsole() = default;
    void run();
    void drain();
    void logBytes(const char* data, size_t size);
    void flushLine();

    Config config_;
    UniqueFd pty_;
    UniqueFd log_;
    UniqueFd stopEvent_;
    std::string line_;
    termios savedTty_{};
    bool restoreTty_ = false;
    std::thread thread_;
};

} // namespace basalt
