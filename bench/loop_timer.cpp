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

std::optional<double> microsPerExit(const LoopImages& images, const ArgvForImage& argvFor,
                                    const char* label) {
    std::vector<double> shortRuns, longRuns;
    for (int i = 0; i < images.runs; ++i) {
        auto s = timeLoop(argvFor(images.shortImage));
        auto l = timeLoop(argvFor(images.longImage));
        if (!s || !l) {
            std::fprintf(stderr, "%s run %d did not print both markers\n", label, i);
            return std::nullopt;
        }
        shortRuns.push_back(*s);
        longRuns.push_back(*l);
    }
    double perExit =
        (*median(longRuns) - *median(shortRuns)) / double(images.longCount - images.shortCount);
    std::printf("%-6s loop of %ld exits: %.3f s, of %ld exits: %.3f s (medians of %d)\n", label,
                images.shortCount, *median(shortRuns), images.longCount, *median(longRuns),
                images.runs);
    return perExit * 1e6;
}

} // namespace basalt::bench
