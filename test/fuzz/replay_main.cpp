// Replay driver: the main() of a fuzz target when it is not linked against
// libFuzzer (the default gcc build). It runs the target's built-in seeds, every
// file named on the command line (or found in a named directory), then a fixed,
// reproducible series of pseudo-random mutations of all of them, so that
// `meson test` exercises each parser on thousands of malformed inputs in a few
// seconds. A crash, a sanitizer report or a trap in the target fails the test.
//
//   fuzz_x_replay [--write-seeds DIR] [--mutations N] [--max-seconds S]
//                 [--save-input N FILE] [PATH...]
//
// Inputs are numbered: the seeds and corpus files first, then the mutations.
// A crash or hang (an input that runs for kInputTimeoutSeconds) prints the
// number of the input; `--save-input N FILE` writes input N to FILE for
// debugging (with the same PATH arguments, since they shape the mutations).

#include "test/fuzz/fuzz_seeds.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using Input = std::vector<uint8_t>;

constexpr uint64_t kPrngSeed = 0x6261736174303031; // fixed: every run is the same
constexpr long kDefaultMutations = 20000;
constexpr long kDefaultMaxSeconds = 30;
constexpr int kMaxStackedMutations = 4;
constexpr size_t kMaxInsertBytes = 16;
constexpr size_t kMaxInputBytes = 1 << 20; // keep mutants from growing without bound
constexpr unsigned kInputTimeoutSeconds = 10;

// The number of the input being run, for the crash and hang reports.
std::atomic<long> currentInput{-1};

constexpr int kReportedSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGALRM};
struct sigaction previousActions[NSIG];

// Prints the number of the input, then hands the signal to whoever had it
// before (the sanitizer runtime's handler or the default action), so sanitizer
// reports are not lost. Async-signal-safe: formats by hand, write()s once.
void reportInput(int sig) {
    char text[80] = "\nfuzz replay: crashed on input ";
    if (sig == SIGALRM)
        std::strcpy(text, "\nfuzz replay: timed out on input ");
    size_t len = std::strlen(text);
    char digits[24];
    size_t n = 0;
    unsigned long value = static_cast<unsigned long>(currentInput.load());
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value && n < sizeof(digits));
    while (n && len < sizeof(text) - 2)
        text[len++] = digits[--n];
    text[len++] = '\n';
    ssize_t ignored = ::write(STDERR_FILENO, text, len);
    (void)ignored;

    for (int reported : kReportedSignals)
        sigaction(reported, &previousActions[reported], nullptr);
    if (sig == SIGALRM)
        std::abort();
    if (sig == SIGABRT)
        std::raise(sig);
    // A fault: returning re-executes the faulting instruction under the
    // previous handler.
}

void installReporters() {
    struct sigaction action {};
    action.sa_handler = reportInput;
    sigemptyset(&action.sa_mask);
    for (int sig : kReportedSignals)
        sigaction(sig, &action, &previousActions[sig]);
}

// splitmix64: tiny, and identical on every platform (unlike std distributions).
class Prng {
public:
    explicit Prng(uint64_t seed) : state_(seed) {}
    uint64_t next() {
        uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }

private:
    uint64_t state_;
};

// Values that tend to sit on boundaries in headers: sizes, signs, limits.
constexpr uint64_t kInteresting[] = {0,
                                     1,
                                     2,
                                     4,
                                     8,
                                     0x10,
                                     0x7F,
                                     0x80,
                                     0xFF,
                                     0x100,
                                     0x7FFF,
                                     0x8000,
                                     0xFFFF,
                                     0x10000,
                                     0x100000,
                                     0x7FFFFFFF,
                                     0x80000000,
                                     0xF0000000,
                                     0xFFFFFFFF,
                                     0x100000000ull,
                                     0x7FFFFFFFFFFFFFFFull,
                                     0xFFFFFFFFFFFFFFFFull};

void overwrite(Input& data, size_t offset, uint64_t value, size_t width, bool bigEndian) {
    for (size_t i = 0; i < width && offset + i < data.size(); ++i) {
        size_t shift = bigEndian ? (width - 1 - i) * 8 : i * 8;
        data[offset + i] = static_cast<uint8_t>(value >> shift);
    }
}

void mutateOnce(Input& data, const std::vector<Input>& pool, Prng& prng) {
    const size_t kWidths[] = {1, 2, 4, 8};
    switch (prng.below(9)) {
    case 0: // flip a bit
        if (!data.empty())
            data[prng.below(data.size())] ^= static_cast<uint8_t>(1u << prng.below(8));
        break;
    case 1: // random byte
        if (!data.empty())
            data[prng.below(data.size())] = static_cast<uint8_t>(prng.next());
        break;
    case 2: { // interesting value, either byte order
        if (data.empty())
            break;
        uint64_t value = kInteresting[prng.below(std::size(kInteresting))];
        if (prng.below(4) == 0)
            value = data.size() + prng.below(3) - 1; // the input's own size, +-1
        overwrite(data, prng.below(data.size()), value, kWidths[prng.below(4)], prng.below(2));
        break;
    }
    case 3: // add to a 32-bit big-endian word (FDT cells)
        if (data.size() >= 4) {
            size_t at = prng.below(data.size() - 3) & ~size_t{3};
            uint32_t word = (uint32_t{data[at]} << 24) | (uint32_t{data[at + 1]} << 16) |
                            (uint32_t{data[at + 2]} << 8) | data[at + 3];
            word += static_cast<uint32_t>(prng.below(33)) - 16;
            overwrite(data, at, word, 4, true);
        }
        break;
    case 4: // truncate
        data.resize(prng.below(data.size() + 1));
        break;
    case 5: { // insert random bytes
        size_t at = prng.below(data.size() + 1);
        size_t n = 1 + prng.below(kMaxInsertBytes);
        Input bytes(n);
        for (auto& b : bytes)
            b = static_cast<uint8_t>(prng.next());
        data.insert(data.begin() + static_cast<ptrdiff_t>(at), bytes.begin(), bytes.end());
        break;
    }
    case 6: { // erase a range
        if (data.empty())
            break;
        size_t at = prng.below(data.size());
        size_t n = 1 + prng.below(std::min(data.size() - at, kMaxInsertBytes));
        data.erase(data.begin() + static_cast<ptrdiff_t>(at),
                   data.begin() + static_cast<ptrdiff_t>(at + n));
        break;
    }
    case 7: { // copy a chunk within the input
        if (data.size() < 2)
            break;
        size_t from = prng.below(data.size());
        size_t to = prng.below(data.size());
        size_t n = 1 + prng.below(std::min(data.size() - std::max(from, to), size_t{64}));
        std::memmove(data.data() + to, data.data() + from, n);
        break;
    }
    default: { // splice: the head of this input, the tail of another
        const Input& other = pool[prng.below(pool.size())];
        size_t cut = prng.below(data.size() + 1);
        size_t otherCut = prng.below(other.size() + 1);
        data.resize(cut);
        data.insert(data.end(), other.begin() + static_cast<ptrdiff_t>(otherCut), other.end());
        break;
    }
    }
    if (data.size() > kMaxInputBytes)
        data.resize(kMaxInputBytes);
}

// An exact-size heap copy, as libFuzzer does, so reads past the end are caught
// by sanitizers instead of landing in vector capacity.
void runOne(const Input& input, long number) {
    currentInput = number;
    ::alarm(kInputTimeoutSeconds);
    std::unique_ptr<uint8_t[]> copy(new uint8_t[input.size() ? input.size() : 1]);
    if (!input.empty())
        std::memcpy(copy.get(), input.data(), input.size());
    LLVMFuzzerTestOneInput(copy.get(), input.size());
    ::alarm(0);
}

bool saveInput(const Input& input, const char* path) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(input.data()),
              static_cast<std::streamsize>(input.size()));
    return static_cast<bool>(out);
}

bool readInput(const std::filesystem::path& path, std::vector<Input>& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "cannot read %s\n", path.c_str());
        return false;
    }
    out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return true;
}

bool writeSeeds(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
        std::fprintf(stderr, "cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
        return false;
    }
    auto seeds = basalt::fuzz::seeds();
    for (size_t i = 0; i < seeds.size(); ++i) {
        char name[32];
        std::snprintf(name, sizeof(name), "seed-%03zu", i);
        std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(seeds[i].data()),
                  static_cast<std::streamsize>(seeds[i].size()));
        if (!out) {
            std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
            return false;
        }
    }
    return true;
}

int usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--write-seeds DIR] [--mutations N] [--max-seconds S] [--save-input N "
                 "FILE] [PATH...]\n",
                 argv0);
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    long mutations = kDefaultMutations;
    long maxSeconds = kDefaultMaxSeconds;
    long saveNumber = -1;
    const char* savePath = nullptr;
    std::vector<Input> pool = basalt::fuzz::seeds();
    const size_t seedCount = pool.size();
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        bool hasValue = i + 1 < argc;
        if (arg == "--write-seeds" && hasValue)
            return writeSeeds(argv[++i]) ? 0 : 1;
        if (arg == "--mutations" && hasValue) {
            mutations = std::strtol(argv[++i], nullptr, 0);
        } else if (arg == "--save-input" && i + 2 < argc) {
            saveNumber = std::strtol(argv[++i], nullptr, 0);
            savePath = argv[++i];
        } else if (arg == "--max-seconds" && hasValue) {
            maxSeconds = std::strtol(argv[++i], nullptr, 0);
        } else if (arg.starts_with("-")) {
            return usage(argv[0]);
        } else if (std::filesystem::is_directory(arg)) {
            std::vector<std::filesystem::path> files;
            for (const auto& entry : std::filesystem::directory_iterator(arg))
                if (entry.is_regular_file())
                    files.push_back(entry.path());
            std::sort(files.begin(), files.end()); // a stable order keeps runs reproducible
            for (const auto& file : files)
                if (!readInput(file, pool))
                    return 1;
        } else if (!readInput(arg, pool)) {
            return 1;
        }
    }

    installReporters();
    const auto start = std::chrono::steady_clock::now();
    const long poolSize = static_cast<long>(pool.size());
    if (savePath == nullptr)
        for (long i = 0; i < poolSize; ++i)
            runOne(pool[static_cast<size_t>(i)], i);

    Prng prng(kPrngSeed);
    long done = 0;
    const auto deadline = start + std::chrono::seconds(maxSeconds);
    for (; done < mutations && !pool.empty(); ++done) {
        if (savePath == nullptr && done % 64 == 0 && std::chrono::steady_clock::now() > deadline)
            break;
        Input mutant = pool[prng.below(pool.size())];
        int stacked = 1 + static_cast<int>(prng.below(kMaxStackedMutations));
        for (int j = 0; j < stacked; ++j)
            mutateOnce(mutant, pool, prng);
        if (savePath == nullptr)
            runOne(mutant, poolSize + done);
        else if (poolSize + done == saveNumber)
            return saveInput(mutant, savePath) ? 0 : 1;
    }
    if (savePath != nullptr) {
        std::fprintf(stderr, "there is no input %ld\n", saveNumber);
        return 1;
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    std::printf("replayed %zu seeds, %zu corpus files and %ld mutations in %lld ms\n", seedCount,
                pool.size() - seedCount, done, static_cast<long long>(ms));
    if (done < mutations)
        std::printf("stopped early: the %ld s time budget ran out\n", maxSeconds);
    return 0;
}
