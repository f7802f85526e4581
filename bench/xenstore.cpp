// bench/xenstore: request throughput of basalt-xenstored for one client
// (READ, WRITE, DIRECTORY) and the p99 latency with 64 concurrent clients,
// measured twice in the same run: with a minimal client speaking the wire
// protocol directly, and through Debian's libxenstore.so.4 (xs_read/xs_write/
// xs_directory), the path QEMU and xenstore-utils take. Prints figures and
// the libxenstore/direct ratio.
//
//   xenstore BASALT_XENSTORED [OPS]

extern "C" {
#include <xenstore.h>
}

#include <xen/io/xs_wire.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <signal.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kConcurrentClients = 64;
constexpr int kDirectoryChildren = 32;

// A blocking client speaking xs_wire.h directly.
class WireClient {
public:
    explicit WireClient(const std::string& path) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
            std::perror("connect");
            std::exit(1);
        }
    }
    ~WireClient() { ::close(fd_); }
    std::string call(uint32_t type, const std::string& payload) {
        xsd_sockmsg h{type, ++req_, 0, static_cast<uint32_t>(payload.size())};
        std::string out(reinterpret_cast<const char*>(&h), sizeof(h));
        out += payload;
        writeAll(out);
        for (;;) {
            readAll(&h, sizeof(h));
            std::string body(h.len, '\0');
            readAll(body.data(), h.len);
            if (h.type != XS_WATCH_EVENT)
                return body;
        }
    }

private:
    void writeAll(const std::string& s) {
        size_t off = 0;
        while (off < s.size()) {
            ssize_t n = ::write(fd_, s.data() + off, s.size() - off);
            if (n <= 0)
                std::exit(1);
            off += static_cast<size_t>(n);
        }
    }
    void readAll(void* p, size_t len) {
        size_t off = 0;
        while (off < len) {
            ssize_t n = ::read(fd_, static_cast<char*>(p) + off, len - off);
            if (n <= 0)
                std::exit(1);
            off += static_cast<size_t>(n);
        }
    }
    int fd_ = -1;
    uint32_t req_ = 0;
};

struct Ops {
    std::function<void()> read, write, directory;
};

double opsPerSecond(const std::function<void()>& op, int count) {
    auto start = Clock::now();
    for (int i = 0; i < count; i++)
        op();
    double s = std::chrono::duration<double>(Clock::now() - start).count();
    return count / s;
}

// p99 of per-request latency (µs) with kConcurrentClients each doing `count` reads+writes.
double p99Concurrent(const std::function<Ops(int)>& makeOps, int count) {
    std::vector<std::vector<double>> lat(kConcurrentClients);
    std::vector<std::thread> threads;
    for (int t = 0; t < kConcurrentClients; t++)
        threads.emplace_back([&, t] {
            Ops ops = makeOps(t);
            for (int i = 0; i < count; i++) {
                auto a = Clock::now();
                (i % 2 ? ops.write : ops.read)();
                lat[t].push_back(
                    std::chrono::duration<double, std::micro>(Clock::now() - a).count());
            }
        });
    for (auto& th : threads)
        th.join();
    std::vector<double> all;
    for (auto& v : lat)
        all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    return all[all.size() * 99 / 100];
}

std::string nul(const std::string& s) {
    return s + '\0';
}

Ops wireOps(WireClient& c, int id) {
    std::string key = "/bench/c" + std::to_string(id);
    return Ops{[&c, key] { c.call(XS_READ, nul(key)); },
               [&c, key] { c.call(XS_WRITE, nul(key) + "value-0123456789"); },
               [&c] { c.call(XS_DIRECTORY, nul("/bench/dir")); }};
}

Ops libOps(xs_handle* h, int id) {
    std::string key = "/bench/c" + std::to_string(id);
    return Ops{[h, key] {
                   unsigned len = 0;
                   std::free(xs_read(h, XBT_NULL, key.c_str(), &len));
               },
               [h, key] { xs_write(h, XBT_NULL, key.c_str(), "value-0123456789", 16); },
               [h] {
                   unsigned num = 0;
                   std::free(xs_directory(h, XBT_NULL, "/bench/dir", &num));
               }};
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s BASALT_XENSTORED [OPS]\n", argv[0]);
        return 2;
    }
    int count = argc > 2 ? std::atoi(argv[2]) : 20000;
    char dir[] = "/tmp/xs-bench-XXXXXX";
    if (!::mkdtemp(dir))
        return 1;
    std::string sock = std::string(dir) + "/socket";
    pid_t pid = ::fork();
    if (pid == 0) {
        ::setenv("BASALT_LOG", "*=error", 1);
        ::execl(argv[1], argv[1], "--socket", sock.c_str(), nullptr);
        _exit(127);
    }
    for (int i = 0; i < 200 && ::access(sock.c_str(), F_OK) != 0; i++)
        ::usleep(10000);
    ::setenv("XENSTORED_PATH", sock.c_str(), 1);

    WireClient setup(sock);
    for (int i = 0; i < kConcurrentClients; i++)
        setup.call(XS_WRITE, nul("/bench/c" + std::to_string(i)) + "x");
    for (int i = 0; i < kDirectoryChildren; i++)
        setup.call(XS_WRITE, nul("/bench/dir/child-" + std::to_string(i)) + "x");

    WireClient direct(sock);
    Ops w = wireOps(direct, 0);
    xs_handle* h = xs_open(0);
    if (!h) {
        std::perror("xs_open");
        return 1;
    }
    Ops l = libOps(h, 0);

    std::printf("basalt-xenstored, %d requests per figure, %d concurrent clients for p99\n", count,
                kConcurrentClients);
    std::printf("%-22s %14s %16s %8s\n", "", "direct wire", "libxenstore.so.4", "ratio");
    const char* names[] = {"READ (req/s)", "WRITE (req/s)", "DIRECTORY (req/s)"};
    std::function<void()> Ops::*members[] = {&Ops::read, &Ops::write, &Ops::directory};
    for (int i = 0; i < 3; i++) {
        double a = opsPerSecond(w.*members[i], count);
        double b = opsPerSecond(l.*members[i], count);
        std::printf("%-22s %14.0f %16.0f %8.2f\n", names[i], a, b, b / a);
    }
    int perClient = std::max(100, count / kConcurrentClients * 2);
    std::vector<std::unique_ptr<WireClient>> wires;
    for (int i = 0; i < kConcurrentClients; i++)
        wires.push_back(std::make_unique<WireClient>(sock));
    double pw = p99Concurrent([&](int t) { return wireOps(*wires[t], t); }, perClient);
    std::vector<xs_handle*> handles;
    for (int i = 0; i < kConcurrentClients; i++)
        handles.push_back(xs_open(0));
    double pl = p99Concurrent([&](int t) { return libOps(handles[t], t); }, perClient);
    std::printf("%-22s %14.1f %16.1f %8.2f\n", "p99 64 clients (us)", pw, pl, pl / pw);
    for (auto* hh : handles)
        xs_close(hh);
    xs_close(h);
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
    ::rmdir(dir);
    return 0;
}
