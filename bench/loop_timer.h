#pragma once
// Times a guest loop from outside: the guest prints 'S' on its console,
// runs N exits, prints 'E'. Two loop lengths (N1 < N2) cancel the fixed cost
// of start-up and of the markers: µs/exit = (t(N2) - t(N1)) / (N2 - N1).
// Each figure is the median of several runs. Shared by the exit-latency and
// ioreq-latency benchmarks.

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace basalt::bench {

struct LoopImages {
    std::string shortImage, longImage;
    long shortCount = 0, longCount = 0;
    int runs = 5;
};

using ArgvForImage = std::function<std::vector<std::string>(const std::string& image)>;

// Runs `argv` and returns the seconds between the 'S' and 'E' bytes on its stdout.
std::optional<double> timeLoop(const std::vector<std::string>& argv);

struct Contender {
    const char* label;
    ArgvForImage argvFor;
};

// Median µs per exit of each contender, measured interleaved (run i of every
// contender before run i + 1 of any), so that drift in the machine's load
// during the measurement weighs on all of them alike. Empty on failure.
std::vector<double> compareMicrosPerExit(const LoopImages& images,
                                         const std::vector<Contender>& contenders);

} // namespace basalt::bench
