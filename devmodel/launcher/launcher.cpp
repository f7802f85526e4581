// DeviceModelProcess: see launcher.h for the sequence.

#include "devmodel/launcher/launcher.h"

#include "base/log.h"
#include "base/unique_fd.h"
#include "devmodel/launcher/qemu_args.h"
#include "devmodel/launcher/vnc_listener.h"
#include "devmodel/protocol/dm_wire.h"
#include "toolstack/xs_client/xs_client.h"

#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <grp.h>
#include <mutex>
#include <optional>
#include <poll.h>
#include <pwd.h>
#include <sstream>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace basalt::devmodel {

BASALT_LOG_CATEGORY(Launcher, "dm-launcher");

namespace {

namespace fs = std::filesystem;

constexpr int kChildFailureStatus = 127;
constexpr int kFirstHighFd = 10; // child: fds are parked here before dup2
// A child inherits 0-2 and then these, from fd 3 on (QEMU: the DM socket;
// basalt-vnc-auth: its listening socket and the password pipe).
constexpr int kFirstInheritedFd = 3;
constexpr size_t kMaxInheritedFds = 2;
constexpr int kVncListenFd = 3;
constexpr int kVncPasswordFd = 4;
static_assert(kQemuDmSocketFd == kFirstInheritedFd);
static_assert(kVncListenFd == kFirstInheritedFd && kVncPasswordFd == kFirstInheritedFd + 1);
constexpr const char* kVncSocketName = "vnc.sock";
constexpr size_t kLogTailBytes = 2048;
constexpr const char* kRunningState = "running";
constexpr const char* kPtyMarker = "char device redirected to ";
#ifndef P_PIDFD
constexpr idtype_t P_PIDFD = static_cast<idtype_t>(3);
#endif

// The stage a child failed at, sent to the parent over the exec-status pipe.
struct ChildFailure {
    int stage;
    int error;
};
constexpr const char* kChildStages[] = {"set up its file descriptors",
                                        "drop supplementary groups",
                                        "set its group id",
                                        "set its user id",
                                        "set no_new_privs",
                                        "set the parent-death signal",
                                        "notice its parent exited",
                                        "enter its run directory",
                                        "execute its program"};
constexpr int kExecStage = 8;

Error launchError(std::string message) {
    return makeError(EINVAL, std::move(message));
}

int pidfdOpen(pid_t pid) {
    return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

int pidfdSignal(int pidfd, int sig) {
    return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

std::string exeDir() {
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    return ec ? std::string(".") : exe.parent_path().string();
}

std::string envOr(const char* name, const std::string& fallback) {
    const char* value = std::getenv(name);
    return value && *value ? std::string(value) : fallback;
}

struct UserIds {
    uid_t uid;
    gid_t gid;
};

Result<UserIds> lookUpUser(const std::string& user) {
    long size = sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buffer(size > 0 ? static_cast<size_t>(size) : 16384);
    passwd entry{};
    passwd* found = nullptr;
    int rc = getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc != 0 || !found)
        return launchError("the device-model user '" + user +
                           "' does not exist; create it with scripts/setup (useradd --system "
                           "--no-create-home --shell /usr/sbin/nologin " +
                           user + ")");
    if (found->pw_uid == 0 || found->pw_gid == 0)
        return launchError("the device-model user '" + user +
                           "' is root; QEMU must not run as root");
    return UserIds{found->pw_uid, found->pw_gid};
}

std::string describeStatus(pid_t pid, const siginfo_t& info) {
    std::string who = "device model (QEMU pid " + std::to_string(pid) + ")";
    if (info.si_code == CLD_EXITED)
        return who + " exited with status " + std::to_string(info.si_status);
    return who + " killed by signal " + std::to_string(info.si_status) + " (" +
           strsignal(info.si_status) + ")";
}

std::string readTail(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return {};
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    const std::streamoff from = size > static_cast<std::streamoff>(kLogTailBytes)
                                    ? size - static_cast<std::streamoff>(kLogTailBytes)
                                    : 0;
    in.seekg(from);
    std::string tail((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r'))
        tail.pop_back();
    return tail;
}

// The /proc/<pid>/status field `name`, or "".
std::string procStatusField(pid_t pid, const std::string& name) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(name + ":", 0) == 0) {
            std::string value = line.substr(name.size() + 1);
            value.erase(0, value.find_first_not_of(" \t"));
            return value;
        }
    return {};
}

std::vector<char*> cStrings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (std::string& s : strings)
        out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// Everything the child needs, prepared before fork: after it, only
// async-signal-safe calls.
struct ChildPlan {
    const char* binary;
    char** argv;
    char** envp;
    const char* runDir;
    int devNull;
    int log;
    int inherited[kMaxInheritedFds]; // become fds 3, 4, ...
    size_t inheritedCount;
    int statusPipe;
    UserIds ids;
    pid_t parent;
};

[[noreturn]] void childFail(int pipeFd, int stage) {
    ChildFailure failure{stage, errno};
    ssize_t ignored = write(pipeFd, &failure, sizeof(failure));
    (void)ignored;
    _exit(kChildFailureStatus);
}

[[noreturn]] void runChild(const ChildPlan& plan) {
    // Park every fd above the targets, then put each in place.
    int devNull = fcntl(plan.devNull, F_DUPFD, kFirstHighFd);
    int log = fcntl(plan.log, F_DUPFD, kFirstHighFd);
    int parked[kMaxInheritedFds];
    bool parkedAll = true;
    for (size_t i = 0; i < plan.inheritedCount; ++i) {
        parked[i] = fcntl(plan.inherited[i], F_DUPFD, kFirstHighFd);
        parkedAll = parkedAll && parked[i] >= 0;
    }
    int status = fcntl(plan.statusPipe, F_DUPFD, kFirstHighFd);
    if (status < 0)
        _exit(kChildFailureStatus);
    const int kExecStatusFd = kFirstInheritedFd + static_cast<int>(plan.inheritedCount);
    bool placed = parkedAll && devNull >= 0 && log >= 0 && dup2(devNull, STDIN_FILENO) >= 0 &&
                  dup2(log, STDOUT_FILENO) >= 0 && dup2(log, STDERR_FILENO) >= 0;
    for (size_t i = 0; placed && i < plan.inheritedCount; ++i)
        placed = dup2(parked[i], kFirstInheritedFd + static_cast<int>(i)) >= 0;
    if (!placed || dup2(status, kExecStatusFd) < 0 ||
        fcntl(kExecStatusFd, F_SETFD, FD_CLOEXEC) < 0 ||
        syscall(SYS_close_range, kExecStatusFd + 1, UINT_MAX, 0) < 0)
        childFail(status, 0);
    // dup2 left the inherited fds without FD_CLOEXEC: QEMU inherits exactly
    // 0-3, basalt-vnc-auth 0-4.
    setsid();
    if (setgroups(0, nullptr) < 0)
        childFail(kExecStatusFd, 1);
    if (setgid(plan.ids.gid) < 0)
        childFail(kExecStatusFd, 2);
    if (setuid(plan.ids.uid) < 0)
        childFail(kExecStatusFd, 3);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        childFail(kExecStatusFd, 4);
    // After setuid, which clears the parent-death signal.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        childFail(kExecStatusFd, 5);
    if (getppid() != plan.parent) {
        errno = ESRCH;
        childFail(kExecStatusFd, 6);
    }
    if (chdir(plan.runDir) < 0)
        childFail(kExecStatusFd, 7);
    execve(plan.binary, plan.argv, plan.envp);
    childFail(kExecStatusFd, kExecStage);
}

// A deprivileged child as runChild makes it, and its pidfd.
struct Spawned {
    pid_t pid = -1;
    UniqueFd pidfd;
};

Result<Spawned> spawnChild(const std::string& binary, std::vector<std::string> argv,
                           std::vector<std::string> env, const std::vector<int>& inherited,
                           int logFd, const std::string& runDir, const UserIds& ids) {
    std::vector<char*> argvC = cStrings(argv);
    std::vector<char*> envC = cStrings(env);
    UniqueFd devNull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!devNull.valid())
        return errnoError("cannot open /dev/null");
    int pipeFds[2];
    if (pipe2(pipeFds, O_CLOEXEC) < 0)
        return errnoError("cannot create a pipe");
    UniqueFd statusRead(pipeFds[0]);
    UniqueFd statusWrite(pipeFds[1]);

    ChildPlan plan{binary.c_str(),    argvC.data(), envC.data(), runDir.c_str(),
                   devNull.get(),     logFd,        {-1, -1},    inherited.size(),
                   statusWrite.get(), ids,          getpid()};
    if (inherited.size() > kMaxInheritedFds)
        return launchError("too many inherited fds");
    for (size_t i = 0; i < inherited.size(); ++i)
        plan.inherited[i] = inherited[i];
    const pid_t child = fork();
    if (child < 0)
        return errnoError("cannot fork " + binary);
    if (child == 0)
        runChild(plan);
    Spawned spawned;
    spawned.pid = child;
    spawned.pidfd = UniqueFd(pidfdOpen(child));
    if (!spawned.pidfd.valid()) {
        const int error = errno;
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
        return makeError(error, "cannot open a pidfd for " + binary);
    }
    statusWrite = UniqueFd();
    ChildFailure failure{};
    ssize_t got;
    do {
        got = ::read(statusRead.get(), &failure, sizeof(failure));
    } while (got < 0 && errno == EINTR);
    if (got == static_cast<ssize_t>(sizeof(failure))) {
        // The child has exited (kChildFailureStatus): reap it here.
        ::waitpid(child, nullptr, 0);
        const int stage =
            failure.stage >= 0 && failure.stage <= kExecStage ? failure.stage : kExecStage;
        return makeError(failure.error, std::string("the device-model process could not ") +
                                            kChildStages[stage] + " (" + binary +
                                            "): " + strerror(failure.error));
    }
    return spawned;
}

} // namespace

std::string defaultLibraryDir() {
    return envOr("BASALT_DM_LIBRARY_DIR", exeDir() + "/devmodel/lib");
}

std::string defaultSandboxLibrary() {
    return envOr("BASALT_DM_SANDBOX_LIBRARY", exeDir() + "/" + kSandboxLibraryName);
}

std::string defaultVncAuthBinary() {
    return envOr("BASALT_VNC_AUTH", exeDir() + "/" + kVncAuthBinaryName);
}

struct DeviceModelProcess::State {
    LauncherConfig config;
    DiedCallback onDied;
    std::optional<xs::Client> xs;
    std::vector<std::string> keysToRemove; // removed in reverse order on stop
    std::string runDir;                    // <runDir>/qemu-<domid>
    std::string qmpSocket;
    std::string logPath;
    std::string serialPty;
    pid_t pid = -1;
    UniqueFd pidfd;
    UniqueFd wakeFd; // eventfd: stop() wakes the monitor thread
    // basalt-vnc-auth, with a VNC password only. Reaped by the monitor
    // thread when it dies on its own, else by shutdown().
    pid_t vncAuthPid = -1;
    UniqueFd vncAuthPidfd;
    std::string vncAuthLogPath;
    std::string vncUnixSocket; // the user's "unix:" VNC path, removed on stop
    std::thread monitor;

    std::mutex mutex;
    std::mutex vncAuthMutex; // the monitor thread and shutdown() both reap it
    std::condition_variable exitedCv;
    bool exited = false;
    bool stopping = false;
    bool stopped = false;
    std::string exitReason;

    // Runs on the monitor thread: the only place QEMU is reaped.
    void monitorLoop() {
        // A negative fd is ignored by poll: no relay, or it was reaped.
        pollfd fds[3] = {
            {pidfd.get(), POLLIN, 0}, {wakeFd.get(), POLLIN, 0}, {vncAuthPidfd.get(), POLLIN, 0}};
        while (true) {
            int n = poll(fds, 3, -1);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 || (fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
                break;
            if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) {
                fds[2].fd = -1;
                reapVncAuth(false);
            }
            if (fds[1].revents & POLLIN) {
                std::lock_guard lock(mutex);
                if (stopping && exited)
                    return;
            }
        }
        reap();
    }

    void reap() {
        siginfo_t info{};
        int rc;
        do {
            rc = waitid(P_PIDFD, static_cast<id_t>(pidfd.get()), &info, WEXITED);
        } while (rc < 0 && errno == EINTR);
        std::string reason = rc == 0 ? describeStatus(pid, info)
                                     : "device model (QEMU pid " + std::to_string(pid) +
                                           ") could not be waited for: " + strerror(errno);
        bool report;
        {
            std::lock_guard lock(mutex);
            exited = true;
            exitReason = reason;
            report = !stopping;
        }
        exitedCv.notify_all();
        if (report) {
            LOG(Launcher, Error, "%s", reason.c_str());
            if (onDied)
                onDied(reason);
        } else {
            LOG(Launcher, Info, "%s", reason.c_str());
        }
    }

    // The relay's end: logged, never a guest crash (see launcher.h).
    void reapVncAuth(bool expected) {
        std::lock_guard lock(vncAuthMutex);
        if (vncAuthPid < 0)
            return;
        siginfo_t info{};
        int rc;
        do {
            rc = waitid(P_PIDFD, static_cast<id_t>(vncAuthPidfd.get()), &info, WEXITED);
        } while (rc < 0 && errno == EINTR);
        const std::string how = rc < 0 ? std::string(strerror(errno))
                                : info.si_code == CLD_EXITED
                                    ? "exited with status " + std::to_string(info.si_status)
                                    : std::string("killed by signal ") + strsignal(info.si_status);
        {
            std::lock_guard stateLock(mutex);
            expected = expected || stopping;
        }
        if (expected)
            LOG(Launcher, Info, "basalt-vnc-auth pid %d %s", vncAuthPid, how.c_str());
        else
            LOG(Launcher, Error,
                "basalt-vnc-auth pid %d %s: VNC access to domain %u is lost, the guest keeps "
                "running; its log is %s",
                vncAuthPid, how.c_str(), config.domid, vncAuthLogPath.c_str());
        vncAuthPid = -1;
    }

    void stopVncAuth() {
        {
            std::lock_guard lock(vncAuthMutex);
            if (vncAuthPid < 0)
                return;
            // It holds no state worth a grace period.
            pidfdSignal(vncAuthPidfd.get(), SIGKILL);
        }
        reapVncAuth(true);
    }

    bool waitExited(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex);
        return exitedCv.wait_for(lock, timeout, [&] { return exited; });
    }

    // SIGTERM, grace, SIGKILL; then the keys and the run dir go.
    void shutdown() {
        {
            std::lock_guard lock(mutex);
            if (stopped)
                return;
            stopped = true;
            stopping = true;
        }
        stopVncAuth();
        if (pid > 0) {
            if (!monitor.joinable())
                monitor = std::thread([this] { reap(); });
            if (!waitExited(std::chrono::milliseconds(0))) {
                pidfdSignal(pidfd.get(), SIGTERM);
                if (!waitExited(config.stopGrace)) {
                    LOG(Launcher, Warn, "QEMU pid %d ignored SIGTERM for %lld ms; killing it", pid,
                        static_cast<long long>(config.stopGrace.count()));
                    pidfdSignal(pidfd.get(), SIGKILL);
                    waitExited(std::chrono::hours(1));
                }
            }
            uint64_t one = 1;
            ssize_t ignored = write(wakeFd.get(), &one, sizeof(one));
            (void)ignored;
            if (monitor.joinable() && monitor.get_id() != std::this_thread::get_id())
                monitor.join();
            else if (monitor.joinable())
                monitor.detach();
        }
        removeKeys();
        removeRunDir();
        if (!vncUnixSocket.empty())
            ::unlink(vncUnixSocket.c_str());
    }

    void removeKeys() {
        if (!xs)
            return;
        for (auto it = keysToRemove.rbegin(); it != keysToRemove.rend(); ++it)
            if (auto s = xs->remove(*it); !s.ok())
                LOG(Launcher, Warn, "cannot remove xenstore key %s: %s", it->c_str(),
                    s.error().message.c_str());
        keysToRemove.clear();
    }

    void removeRunDir() {
        if (runDir.empty())
            return;
        std::error_code ec;
        fs::remove_all(runDir, ec);
        if (ec)
            LOG(Launcher, Warn, "cannot remove %s: %s", runDir.c_str(), ec.message().c_str());
        runDir.clear();
    }

    Status writeKeys(const DomainSpec& spec);
    Status makeRunDir(const UserIds& ids);
    Status spawn(const DomainSpec& spec, int dmFd, const UserIds& ids);
    Status startVncAuth(const DomainSpec& spec, const UserIds& ids);
    Status awaitRunning();
};

Status DeviceModelProcess::State::writeKeys(const DomainSpec& spec) {
    auto client = xs::Client::connect(config.xenstorePath);
    if (!client)
        return makeError(client.error().code, "cannot reach xenstored at '" + config.xenstorePath +
                                                  "': " + client.error().message);
    xs = std::move(*client);
    const std::string domid = std::to_string(config.domid);
    // QEMU reads "domid" relative to its (dom0) home; xen-init-dom0 writes it.
    if (!xs->read("/local/domain/0/domid").ok())
        BASALT_TRY(xs->write("/local/domain/0/domid", "0"));
    // The guest's home, unless the domain builder made it already.
    const std::string home = xs::Client::domainPath(config.domid);
    if (!xs->read(home).ok()) {
        BASALT_TRY(xs->mkdir(home));
        keysToRemove.push_back(home);
        BASALT_TRY(xs->setPermissions(home, {{'n', 0}, {'r', config.domid}}));
        BASALT_TRY(xs->write(home + "/name", spec.name));
        BASALT_TRY(xs->write(home + "/domid", domid));
    }
    // libxl's DEVICE_MODEL_XS_PATH: QEMU writes state and backends/ there.
    const std::string dmPath = "/local/domain/0/device-model/" + domid;
    BASALT_TRY(xs->remove(dmPath)); // a previous run's leftovers
    BASALT_TRY(xs->mkdir(dmPath));
    keysToRemove.push_back(dmPath);
    return {};
}

Status DeviceModelProcess::State::makeRunDir(const UserIds& ids) {
    std::error_code ec;
    fs::create_directories(config.runDir, ec);
    if (ec)
        return makeError(ec.value(), "cannot create the run directory '" + config.runDir +
                                         "': " + ec.message());
    const std::string dir = config.runDir + "/qemu-" + std::to_string(config.domid);
    fs::remove_all(dir, ec); // a previous run's socket
    if (::mkdir(dir.c_str(), S_IRWXU) < 0)
        return errnoError("cannot create QEMU's run directory '" + dir + "'");
    runDir = dir;
    // QEMU creates its QMP socket here, as basalt-qemu; nobody else gets in.
    if (::chown(dir.c_str(), ids.uid, ids.gid) < 0)
        return errnoError("cannot give '" + dir + "' to the device-model user");
    qmpSocket = dir + "/qmp.sock";
    logPath = config.runDir + "/qemu-" + std::to_string(config.domid) + ".log";
    return {};
}

// The environment of a device-model child: a fixed PATH, `extra`, and the
// BASALT_LOG switches, so it logs like basalt-vmm.
static std::vector<std::string> childEnvironment(std::vector<std::string> extra) {
    std::vector<std::string> env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    env.insert(env.end(), extra.begin(), extra.end());
    for (char** e = environ; e && *e; ++e)
        if (std::strncmp(*e, "BASALT_LOG", std::strlen("BASALT_LOG")) == 0)
            env.emplace_back(*e);
    return env;
}

Status DeviceModelProcess::State::spawn(const DomainSpec& spec, int dmFd, const UserIds& ids) {
    std::vector<std::string> argv = {config.qemuBinary};
    QemuArgsConfig qemuConfig{config.domid, qmpSocket, {}};
    if (spec.deviceModel->vnc && !spec.deviceModel->vncPassword.empty())
        qemuConfig.vncRelaySocketPath = runDir + "/" + kVncSocketName;
    for (std::string& arg : buildQemuArgs(spec, qemuConfig))
        argv.push_back(std::move(arg));
    std::vector<std::string> env = childEnvironment({
        "LD_LIBRARY_PATH=" + config.libraryDir,
        "LD_PRELOAD=" + config.sandboxLibrary,
        std::string(kDmSocketEnv) + "=" + std::to_string(kQemuDmSocketFd),
        "XENSTORED_PATH=" + config.xenstorePath,
        "XEN_DOMAIN_ID=" + std::to_string(config.domid),
    });
    std::string commandLine;
    for (const std::string& arg : argv)
        commandLine += " " + arg;
    LOG(Launcher, Info, "starting QEMU:%s", commandLine.c_str());

    UniqueFd log(::open(logPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
    if (!log.valid())
        return errnoError("cannot create QEMU's log '" + logPath + "'");
    auto spawned = spawnChild(config.qemuBinary, std::move(argv), std::move(env), {dmFd}, log.get(),
                              runDir, ids);
    if (!spawned)
        return spawned.error();
    pid = spawned->pid;
    pidfd = std::move(spawned->pidfd);
    return {};
}

// After QEMU runs (its VNC socket exists): the listening socket, the
// password pipe, then the relay itself.
Status DeviceModelProcess::State::startVncAuth(const DomainSpec& spec, const UserIds& ids) {
    const DeviceModelSpec& dm = *spec.deviceModel;
    if (!dm.vnc || dm.vncPassword.empty())
        return {};
    auto listener = listenForVnc(*dm.vnc, ids.uid, ids.gid);
    if (!listener)
        return listener.error();
    vncUnixSocket = vncUnixPath(*dm.vnc);
    // The password travels through a pipe, never argv or the environment
    // (both readable in /proc); it fits the pipe's buffer (validateSpec caps
    // it far below 64 KiB), so it is written whole before the fork.
    int pipeFds[2];
    if (pipe2(pipeFds, O_CLOEXEC) < 0)
        return errnoError("cannot create a pipe");
    UniqueFd passwordRead(pipeFds[0]);
    {
        UniqueFd passwordWrite(pipeFds[1]);
        const ssize_t put =
            ::write(passwordWrite.get(), dm.vncPassword.data(), dm.vncPassword.size());
        if (put != static_cast<ssize_t>(dm.vncPassword.size()))
            return errnoError("cannot hand the VNC password to basalt-vnc-auth");
    }
    vncAuthLogPath = config.runDir + "/qemu-" + std::to_string(config.domid) + "-vnc-auth.log";
    UniqueFd log(::open(vncAuthLogPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
    if (!log.valid())
        return errnoError("cannot create basalt-vnc-auth's log '" + vncAuthLogPath + "'");
    std::vector<std::string> argv = {config.vncAuthBinary, "--upstream",
                                     runDir + "/" + kVncSocketName};
    LOG(Launcher, Info, "starting basalt-vnc-auth for VNC %s (password from a pipe)",
        dm.vnc->c_str());
    auto spawned = spawnChild(config.vncAuthBinary, std::move(argv), childEnvironment({}),
                              {listener->get(), passwordRead.get()}, log.get(), runDir, ids);
    if (!spawned)
        return spawned.error();
    vncAuthPid = spawned->pid;
    vncAuthPidfd = std::move(spawned->pidfd);
    LOG(Launcher, Info, "basalt-vnc-auth pid %d guards VNC %s; its log is %s", vncAuthPid,
        dm.vnc->c_str(), vncAuthLogPath.c_str());
    return {};
}

Status DeviceModelProcess::State::awaitRunning() {
    const std::string statePath =
        "/local/domain/0/device-model/" + std::to_string(config.domid) + "/state";
    Status ready = xs->waitForValue(statePath, kRunningState, config.startTimeout, pidfd.get());
    if (!ready.ok()) {
        std::string why;
        if (ready.error().code == ECHILD)
            why = "QEMU exited during start-up";
        else if (ready.error().code == ETIMEDOUT)
            why = "QEMU did not report '" + std::string(kRunningState) + "' in " +
                  std::to_string(config.startTimeout.count()) + " ms";
        else
            why = "waiting for QEMU's " + statePath + " failed: " + ready.error().message;
        return makeError(ready.error().code,
                         why + "; its log " + logPath + " ends with:\n" + readTail(logPath));
    }
    // The sandbox library's filter must be in force (mode 2 = filter).
    const std::string seccomp = procStatusField(pid, "Seccomp");
    if (seccomp != "2")
        return launchError("QEMU pid " + std::to_string(pid) +
                           " runs without its seccomp filter (Seccomp: '" + seccomp + "')");
    // QEMU prints where it put the pty; libxl reads it the same way from QMP.
    std::ifstream in(logPath);
    std::string line;
    while (std::getline(in, line))
        if (auto at = line.find(kPtyMarker); at != std::string::npos) {
            std::string rest = line.substr(at + std::strlen(kPtyMarker));
            serialPty = rest.substr(0, rest.find(' '));
            break;
        }
    if (!serialPty.empty()) {
        const std::string ttyKey = xs::Client::domainPath(config.domid) + "/serial/0/tty";
        if (xs->write(ttyKey, serialPty).ok())
            keysToRemove.push_back(xs::Client::domainPath(config.domid) + "/serial");
        LOG(Launcher, Info, "guest serial port is %s", serialPty.c_str());
    }
    return {};
}

Status DeviceModelProcess::preflight(const DomainSpec& spec, const LauncherConfig& config) {
    if (!spec.deviceModel)
        return launchError("the domain has no device model");
    for (const DiskSpec& disk : spec.disks) {
        if (disk.target.empty())
            continue;
        struct stat st {};
        if (::stat(disk.target.c_str(), &st) < 0)
            return errnoError("disk " + disk.vdev + ": cannot use '" + disk.target + "'");
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
            return launchError("disk " + disk.vdev + ": '" + disk.target +
                               "' is neither a file nor a block device");
    }
    if (config.xenstorePath.empty())
        return launchError("the device model needs xenstored: give --xenstore PATH");
    if (::access(config.qemuBinary.c_str(), X_OK) < 0)
        return errnoError("cannot run QEMU '" + config.qemuBinary +
                          "' (install qemu-system-xen: scripts/setup)");
    const std::string ctrl = config.libraryDir + "/libxenctrl.so.4.17";
    if (::access(ctrl.c_str(), R_OK) < 0)
        return errnoError("the device-model provider libraries are missing: no '" + ctrl +
                          "' (set BASALT_DM_LIBRARY_DIR or --dm-library-dir)");
    if (::access(config.sandboxLibrary.c_str(), R_OK) < 0)
        return errnoError("the device-model sandbox library '" + config.sandboxLibrary +
                          "' is missing");
    if (spec.deviceModel->vnc && !spec.deviceModel->vncPassword.empty() &&
        ::access(config.vncAuthBinary.c_str(), X_OK) < 0)
        return errnoError("a VNC password needs basalt-vnc-auth, but '" + config.vncAuthBinary +
                          "' cannot be run (set BASALT_VNC_AUTH)");
    auto ids = lookUpUser(config.user);
    if (!ids)
        return ids.error();
    if (geteuid() != 0)
        return launchError("starting QEMU as '" + config.user + "' needs root");
    return {};
}

Result<std::unique_ptr<DeviceModelProcess>> DeviceModelProcess::start(const DomainSpec& spec,
                                                                      const LauncherConfig& config,
                                                                      int dmFd,
                                                                      DiedCallback onDied) {
    BASALT_TRY(preflight(spec, config));
    auto ids = lookUpUser(config.user);
    if (!ids)
        return ids.error();
    auto state = std::make_unique<State>();
    state->config = config;
    state->onDied = std::move(onDied);
    state->wakeFd = UniqueFd(eventfd(0, EFD_CLOEXEC));
    if (!state->wakeFd.valid())
        return errnoError("cannot create an eventfd");
    // On any failure below, the State's shutdown() undoes what was done.
    std::unique_ptr<DeviceModelProcess> process(new DeviceModelProcess(std::move(state)));
    State& s = *process->state_;
    BASALT_TRY(s.writeKeys(spec));
    BASALT_TRY(s.makeRunDir(*ids));
    BASALT_TRY(s.spawn(spec, dmFd, *ids));
    const std::string pidKey = xs::Client::domainPath(config.domid) + "/image/device-model-pid";
    if (s.xs->write(pidKey, std::to_string(s.pid)).ok())
        s.keysToRemove.push_back(xs::Client::domainPath(config.domid) + "/image");
    BASALT_TRY(s.awaitRunning());
    BASALT_TRY(s.startVncAuth(spec, *ids));
    s.monitor = std::thread([&s] { s.monitorLoop(); });
    LOG(Launcher, Info, "QEMU pid %d is running as '%s' for domain %u", s.pid, config.user.c_str(),
        config.domid);
    return process;
}

DeviceModelProcess::DeviceModelProcess(std::unique_ptr<State> state) : state_(std::move(state)) {}

DeviceModelProcess::~DeviceModelProcess() {
    stop();
}

void DeviceModelProcess::stop() {
    if (state_)
        state_->shutdown();
}

pid_t DeviceModelProcess::pid() const {
    return state_->pid;
}

const std::string& DeviceModelProcess::qmpSocketPath() const {
    return state_->qmpSocket;
}

const std::string& DeviceModelProcess::logPath() const {
    return state_->logPath;
}

const std::string& DeviceModelProcess::serialPty() const {
    return state_->serialPty;
}

pid_t DeviceModelProcess::vncAuthPid() const {
    return state_->vncAuthPid;
}

} // namespace basalt::devmodel
