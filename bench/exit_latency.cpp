// bench/exit-latency: µs per port-I/O exit to userspace, Basalt against QEMU.
//
// The same guest (bench/guests/exit_loop.asm, a multiboot ELF32) runs under
// `basalt-vmm` and under `qemu-system-x86_64 -accel kvm`. It prints 'S' on
// port 0xE9, performs N `out` instructions to an unclaimed port, prints 'E',
// and exits through port 0xF4. The time between 'S' and 'E' arriving on the
// VMM's stdout is the loop. Two loop lengths (N1 < N2) cancel the fixed cost
// of the markers: µs/exit = (t(N2) - t(N1)) / (N2 - N1). Each figure is the
// median of several runs. Prints both and the ratio Basalt/QEMU.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
    std::string vmm, qemu, shortImage, longImage;
    long shortCount = 0, longCount = 0;
    int runs = 5;
};

// Runs `argv`, returns seconds between the 'S' and 'E' bytes on its stdout.
std::optional<double> timeLoop(const std::vector<std::string>& argv) {
    int pipeFds[2];
    if (pipe(pipeFds) != 0)
        return std::nullopt;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipeFds[1], STDOUT_FILENO);
        close(pipeFds[0]);
        close(pipeFds[1]);
        std::vector<char*> cargv;
        for (const auto& a : argv)
            cargv.push_back(const_cast<char*>(a.c_str()));
        cargv.push_back(nullptr);
        execvp(cargv[0], cargv.data());
        _exit(127);
    }
    close(pipeFds[1]);
    std::optional<Clock::time_point> start, end;
    char c;
    while (read(pipeFds[0], &c, 1) == 1) {
        if (c == 'S' && !start)
            start = Clock::now();
        else if (c == 'E' && start && !end)
            end = Clock::now();
    }
    close(pipeFds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!start || !end)
        return std::nullopt;
    return std::chrono::duration<double>(*end - *start).count();
}

std::optional<double> median(std::vector<double> v) {
    if (v.empty())
        return std::nullopt;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Median µs per exit for one VMM, given a command line builder.
template <typename MakeArgv>
std::optional<double> microsPerExit(const Args& args, MakeArgv makeArgv, const char* label) {
    std::vector<double> shortRuns, longRuns;
    for (int i = 0; i < args.runs; ++i) {
        auto s = timeLoop(makeArgv(args.shortImage));
        auto l = timeLoop(makeArgv(args.longImage));
        if (!s || !l) {
            std::fprintf(stderr, "exit-latency: %s run %d did not print both markers\n", label, i);
            return std::nullopt;
        }
        shortRuns.push_back(*s);
        longRuns.push_back(*l);
    }
    double perExit =
        (*median(longRuns) - *median(shortRuns)) / double(args.longCount - args.shortCount);
    std::printf("%-6s loop of %ld exits: %.3f s, of %ld exits: %.3f s (medians of %d)\n", label,
                args.shortCount, *median(shortRuns), args.longCount, *median(longRuns), args.runs);
    return perExit * 1e6;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 7 && argc != 8) {
        std::fprintf(stderr,
                     "usage: exit-latency BASALT_VMM QEMU SHORT_IMAGE N1 LONG_IMAGE N2 [RUNS]\n");
        return 2;
    }
    Args args{argv[1], argv[2], argv[3], argv[5], std::atol(argv[4]), std::atol(argv[6])};
    if (argc == 8)
        args.runs = std::max(1, std::atoi(argv[7]));
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        std::fprintf(stderr, "exit-latency: /dev/kvm is not available\n");
        return 77;
    }

    auto basalt = microsPerExit(
        args,
        [&](const std::string& image) {
            return std::vector<std::string>{args.vmm,  "--kernel",         image,
                                            "--entry", "protected",        "--memory",
                                            "16",      "--test-exit-port", "0xf4"};
        },
        "basalt");
    auto qemu = microsPerExit(
        args,
        [&](const std::string& image) {
            return std::vector<std::string>{
                args.qemu,  "-accel", "kvm",       "-m",    "16",      "-nodefaults",
                "-display", "none",   "-debugcon", "stdio", "-device", "isa-debug-exit,iobase=0xf4",
                "-kernel",  image};
        },
        "qemu");
    if (!basalt || !qemu)
        return 1;
    std::printf("basalt: %.2f us/exit\nqemu:   %.2f us/exit\nratio basalt/qemu: %.2f\n", *basalt,
                *qemu, *basalt / *qemu);
    return 0;
}
