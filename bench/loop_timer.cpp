#include "bench/loop_timer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sys/wait.h>
#include <unistd.h>

namespace basalt::bench {

namespace {

using Clock = std::chrono::steady_clock;

std::optional<double> median(std::vector<double> v) {
    if (v.empty())
        return std::nullopt;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

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

std::vector<double> compareMicrosPerExit(const LoopImages& images,
                                         const std::vector<Contender>& contenders) {
    std::vector<std::vector<double>> shortRuns(contenders.size()), longRuns(contenders.size());
    for (int i = 0; i < images.runs; ++i) {
        for (size_t c = 0; c < contenders.size(); ++c) {
            auto s = timeLoop(contenders[c].argvFor(images.shortImage));
            auto l = timeLoop(contenders[c].argvFor(images.longImage));
            if (!s || !l) {
                std::fprintf(stderr, "%s run %d did not print both markers\n", contenders[c].label,
                             i);
                return {};
            }
            shortRuns[c].push_back(*s);
            longRuns[c].push_back(*l);
        }
    }
    std::vector<double> micros;
    for (size_t c = 0; c < contenders.size(); ++c) {
        double shortMedian = *median(shortRuns[c]), longMedian = *median(longRuns[c]);
        std::printf("%-6s loop of %ld exits: %.3f s, of %ld exits: %.3f s (medians of %d)\n",
                    contenders[c].label, images.shortCount, shortMedian, images.longCount,
                    longMedian, images.runs);
        micros.push_back((longMedian - shortMedian) / double(images.longCount - images.shortCount) *
                         1e6);
    }
    return micros;
}

} // namespace basalt::bench
