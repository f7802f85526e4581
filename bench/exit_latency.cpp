// bench/exit-latency: µs per port-I/O exit to userspace, Basalt against QEMU.
//
// The same guest (bench/guests/exit_loop.asm, a multiboot ELF32) runs under
// `basalt-vmm` and under `qemu-system-x86_64 -accel kvm`. It prints 'S' on
// port 0xE9, performs N `out` instructions to an unclaimed port, prints 'E',
// and exits through port 0xF4. The time between 'S' and 'E' arriving on the
// VMM's stdout is the loop. Two loop lengths (N1 < N2) cancel the fixed cost
// of the markers: µs/exit = (t(N2) - t(N1)) / (N2 - N1). Each figure is the
// median of several runs, the two VMMs' runs interleaved. Prints both and the
// ratio Basalt/QEMU.

#include "bench/loop_timer.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

using namespace basalt::bench;

int main(int argc, char** argv) {
    if (argc != 7 && argc != 8) {
        std::fprintf(stderr,
                     "usage: exit-latency BASALT_VMM QEMU SHORT_IMAGE N1 LONG_IMAGE N2 [RUNS]\n");
        return 2;
    }
    std::string vmm = argv[1], qemu = argv[2];
    LoopImages images{argv[3], argv[5], std::atol(argv[4]), std::atol(argv[6])};
    if (argc == 8)
        images.runs = std::max(1, std::atoi(argv[7]));
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        std::fprintf(stderr, "exit-latency: /dev/kvm is not available\n");
        return 77;
    }

    std::vector<Contender> contenders{
        {"basalt",
         [&](const std::string& image) {
             return std::vector<std::string>{vmm,       "--kernel",         image,
                                             "--entry", "protected",        "--memory",
                                             "16",      "--test-exit-port", "0xf4"};
         }},
        {"qemu", [&](const std::string& image) {
             return std::vector<std::string>{qemu,       "-accel",  "kvm",
                                             "-m",       "16",      "-nodefaults",
                                             "-display", "none",    "-debugcon",
                                             "stdio",    "-device", "isa-debug-exit,iobase=0xf4",
                                             "-kernel",  image};
         }}};
    auto micros = compareMicrosPerExit(images, contenders);
    if (micros.size() != 2)
        return 1;
    const double basalt = micros[0], qemuMicros = micros[1];
    std::printf("basalt: %.2f us/exit\nqemu:   %.2f us/exit\nratio basalt/qemu: %.2f\n", basalt,
                qemuMicros, basalt / qemuMicros);
    return 0;
}
