// bench/ioreq-latency: µs per guest port read served by QEMU, Basalt (QEMU as
// the device model, reached through an ioreq round trip) against QEMU's own
// in-process path (`qemu-system-x86_64 -accel kvm`).
//
// The guest (bench/guests/exit_loop.asm built with -DREAD_PORT=0x3FD) reads
// the 16550 line-status register N times between an 'S' and an 'E' on port
// 0xE9. Under Basalt the serial port belongs to QEMU, so each read is a
// synchronous ioreq: vCPU exit, ioreq page, event to QEMU, QEMU's answer,
// event back. See bench/loop_timer.h for how the loop is timed.
//
// Usage: ioreq-latency BASALT_VMM BASALT_XENSTORED QEMU SHORT N1 LONG N2 [RUNS]

#include "bench/loop_timer.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace basalt::bench;

namespace {

// A basalt-xenstored on a private socket that the deprivileged QEMU can reach
// (scripts/setup creates the basalt-qemu user and group).
class Xenstored {
public:
    explicit Xenstored(const std::string& binary) {
        char dirTemplate[] = "/tmp/basalt-bench-XXXXXX";
        if (!mkdtemp(dirTemplate))
            return;
        dir_ = dirTemplate;
        chmod(dir_.c_str(), 0755);
        socket_ = dir_ + "/xenstored.sock";
        pid_ = fork();
        if (pid_ == 0) {
            // QEMU runs in group basalt-qemu.
            execl(binary.c_str(), binary.c_str(), "--socket", socket_.c_str(), "--socket-group",
                  "basalt-qemu", nullptr);
            _exit(127);
        }
        for (int i = 0; i < 500 && access(socket_.c_str(), F_OK) != 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        ready_ = access(socket_.c_str(), F_OK) == 0;
    }
    ~Xenstored() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            waitpid(pid_, nullptr, 0);
        }
        if (!socket_.empty())
            unlink(socket_.c_str());
        if (!dir_.empty())
            rmdir(dir_.c_str());
    }
    bool ready() const { return ready_; }
    const std::string& socket() const { return socket_; }

private:
    std::string dir_, socket_;
    pid_t pid_ = -1;
    bool ready_ = false;
};

} // namespace

int main(int argc, char** argv) {
    if (argc != 8 && argc != 9) {
        std::fprintf(stderr, "usage: ioreq-latency BASALT_VMM BASALT_XENSTORED QEMU SHORT_IMAGE "
                             "N1 LONG_IMAGE N2 [RUNS]\n");
        return 2;
    }
    std::string vmm = argv[1], xenstoredBinary = argv[2], qemu = argv[3];
    LoopImages images{argv[4], argv[6], std::atol(argv[5]), std::atol(argv[7])};
    if (argc == 9)
        images.runs = std::max(1, std::atoi(argv[8]));
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        std::fprintf(stderr, "ioreq-latency: /dev/kvm is not available\n");
        return 77;
    }
    Xenstored xenstored(xenstoredBinary);
    if (!xenstored.ready()) {
        std::fprintf(stderr, "ioreq-latency: basalt-xenstored did not start\n");
        return 1;
    }

    std::vector<Contender> contenders{{"basalt",
                                       [&](const std::string& image) {
                                           return std::vector<std::string>{vmm,
                                                                           "--kernel",
                                                                           image,
                                                                           "--entry",
                                                                           "protected",
                                                                           "--memory",
                                                                           "16",
                                                                           "--test-exit-port",
                                                                           "0xf4",
                                                                           "--xenstore",
                                                                           xenstored.socket(),
                                                                           "--device-model",
                                                                           "qemu",
                                                                           "--vga",
                                                                           "none",
                                                                           "--serial",
                                                                           "file:/dev/null"};
                                       }},
                                      {"qemu", [&](const std::string& image) {
                                           return std::vector<std::string>{
                                               qemu,        "-accel",
                                               "kvm",       "-m",
                                               "16",        "-nodefaults",
                                               "-display",  "none",
                                               "-serial",   "null",
                                               "-debugcon", "stdio",
                                               "-device",   "isa-debug-exit,iobase=0xf4",
                                               "-kernel",   image};
                                       }}};
    auto micros = compareMicrosPerExit(images, contenders);
    if (micros.size() != 2)
        return 1;
    const double basalt = micros[0], qemuMicros = micros[1];
    std::printf("basalt (ioreq to QEMU): %.2f us/read\nqemu (in-process):      %.2f us/read\n"
                "ratio basalt/qemu: %.2f (goal: at most 1.5)\n",
                basalt, qemuMicros, basalt / qemuMicros);
    return 0;
}
