// basalt-vmm: the per-guest core process.

#include "base/log.h"
#include "base/unique_fd.h"
#include "devmodel/host/dm_host.h"
#include "devmodel/launcher/launcher.h"
#include "firmware/hvmloader_keys.h"
#include "vmm/control_socket.h"
#include "vmm/domain.h"
#include "vmm/exit_status.h"
#include "vmm/lifecycle.h"
#include "vmm/options.h"
#include "vmm/screenshot.h"
#include "vmm/serial_console.h"
#include "vmm/xenstore_link.h"

#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace basalt;

namespace {

BASALT_LOG_CATEGORY(Main, "vmm");

// A control reply is one short JSON line.
constexpr size_t kMaxControlReply = 64 * 1024;

// The control socket outlives each life of the domain (a restart builds a new
// one), so it talks to whichever domain is current, or to none in between.
class DomainControl final : public ControlTarget {
public:
    explicit DomainControl(std::string name) : name_(std::move(name)) {}

    void attach(Domain* domain, devmodel::DeviceModelProcess* qemu) {
        std::lock_guard lock(mutex_);
        domain_ = domain;
        qemu_ = qemu;
    }
    void pause() override {
        std::lock_guard lock(mutex_);
        if (domain_)
            domain_->pause();
    }
    void resume() override {
        std::lock_guard lock(mutex_);
        if (domain_)
            domain_->resume();
    }
    void destroy() override {
        std::lock_guard lock(mutex_);
        destroyed_ = true;
        if (domain_)
            domain_->requestStop(kExitPoweredOff, "destroyed through the control socket");
        destroyedCv_.notify_all();
    }
    DomainStatus status() const override {
        std::lock_guard lock(mutex_);
        if (domain_)
            return domain_->status();
        DomainStatus s;
        s.name = name_;
        s.state = DomainState::Stopped;
        s.stopReason = "restarting";
        return s;
    }
    bool debugKey(char key) override {
        std::lock_guard lock(mutex_);
        return domain_ && domain_->debugKey(key);
    }
    // QMP screendump into QEMU's own run dir (the only place the deprivileged
    // QEMU may write), then a PNG where the caller asked.
    Status screenshot(const std::string& path) override {
        std::lock_guard lock(mutex_);
        if (!qemu_)
            return makeError(ENOTSUP, "the domain has no device model (no display)");
        const std::string& qmp = qemu_->qmpSocketPath();
        const std::string ppm = qmp.substr(0, qmp.rfind('/') + 1) + "screendump.ppm";
        return takeScreenshot(qmp, ppm, path);
    }
    bool destroyed() const {
        std::lock_guard lock(mutex_);
        return destroyed_;
    }
    // `preserve`: the stopped domain stays until the control socket destroys it.
    void waitForDestroy() {
        std::unique_lock lock(mutex_);
        destroyedCv_.wait(lock, [this] { return destroyed_; });
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable destroyedCv_;
    std::string name_;
    Domain* domain_ = nullptr;
    devmodel::DeviceModelProcess* qemu_ = nullptr;
    bool destroyed_ = false;
};

int fail(const std::string& message) {
    std::fprintf(stderr, "basalt-vmm: error: %s\n", message.c_str());
    return kExitConfigError;
}

Status writeFile(const std::string& path, const std::vector<uint8_t>& bytes) {
    // 0600: a spec can hold a VNC password.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE* f = fd < 0 ? nullptr : ::fdopen(fd, "wb");
    if (!f) {
        if (fd >= 0)
            ::close(fd);
        return errnoError("cannot create '" + path + "'");
    }
    bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    ok = std::fclose(f) == 0 && ok;
    if (!ok)
        return errnoError("cannot write '" + path + "'");
    return {};
}

devmodel::LauncherConfig launcherConfig(const VmmOptions& options) {
    devmodel::LauncherConfig config;
    config.domid = options.domid;
    config.xenstorePath = options.xenstorePath;
    config.libraryDir =
        options.dmLibraryDir.empty() ? devmodel::defaultLibraryDir() : options.dmLibraryDir;
    config.sandboxLibrary = devmodel::defaultSandboxLibrary();
    config.vncAuthBinary = devmodel::defaultVncAuthBinary();
    if (!options.dmRunDir.empty())
        config.runDir = options.dmRunDir;
    // Installs with their own account name, and tests of a missing one.
    if (const char* user = std::getenv("BASALT_DM_USER"); user && *user)
        config.user = user;
    return config;
}

// QEMU serves the legacy devices: the host end of its wire, then QEMU itself,
// up to its "running" handshake. If QEMU dies later, the host crashes the
// domain; it is never restarted.
struct DeviceModel {
    std::unique_ptr<devmodel::Host> host;
    std::unique_ptr<devmodel::DeviceModelProcess> qemu;

    Status start(Domain& domain, const VmmOptions& options) {
        auto started = devmodel::Host::start(domain);
        if (!started.ok())
            return started.error();
        host = std::move(*started);
        devmodel::Host* h = host.get();
        auto process = devmodel::DeviceModelProcess::start(
            options.spec, launcherConfig(options), host->peerFd(),
            [h](const std::string& reason) { h->deviceModelDied(reason); });
        host->closePeerFd();
        if (!process.ok())
            return process.error();
        qemu = std::move(*process);
        return {};
    }

    void stop() {
        if (host)
            host->expectExit();
        if (qemu)
            qemu->stop();
        if (host)
            host->stop();
    }
};

// basalt-vmm --control SOCKET --screenshot FILE.png: one request to a
// running basalt-vmm's control socket.
int requestScreenshot(const std::string& socketPath, const std::string& pngPath) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (!fd || socketPath.size() >= sizeof addr.sun_path)
        return fail("cannot use the control socket '" + socketPath + "'");
    std::memcpy(addr.sun_path, socketPath.c_str(), socketPath.size() + 1);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
        return fail(errnoError("cannot connect to '" + socketPath + "'").message);
    const std::string request =
        nlohmann::json{{"command", "screenshot"}, {"path", pngPath}}.dump() + "\n";
    if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size()))
        return fail(errnoError("cannot send to '" + socketPath + "'").message);
    std::string reply;
    char c;
    while (reply.size() < kMaxControlReply && ::read(fd.get(), &c, 1) == 1 && c != '\n')
        reply += c;
    auto json = nlohmann::json::parse(reply, nullptr, false);
    if (json.is_discarded() || !json.is_object())
        return fail("no answer from basalt-vmm at '" + socketPath + "'");
    if (!json.value("ok", false))
        return fail(json.value("error", std::string("the screenshot failed")));
    std::printf("%s\n", pngPath.c_str());
    return 0;
}

struct Life {
    int status = kExitPoweredOff;
    bool restart = false;
    std::string startError; // non-empty: the domain could not be built or started
};

// One life of the domain: build it, its store keys, QEMU and the serial
// console; run it; apply on_poweroff/on_reboot/on_crash. Everything is torn
// down before returning, so a restart starts from nothing but the spec.
Life runLife(const VmmOptions& options, DomainControl& control, unsigned life, bool uuidGenerated) {
    Life result;
    // With a serial pty, the console log is the serial line, timestamped (the
    // guest's console, as xl's); the debug port then goes to stdout only, so
    // that two writers never interleave in one file.
    const bool serialLog = options.spec.deviceModel &&
                           options.spec.deviceModel->serial == SerialKind::Pty &&
                           options.spec.consoleLogPath;
    DomainSpec coreSpec = options.spec;
    if (serialLog)
        coreSpec.consoleLogPath.reset();
    auto domain = Domain::create(coreSpec, options.domid);
    if (!domain.ok()) {
        result.startError = domain.error().message;
        return result;
    }

    // The store ring and the domain's keys come before QEMU, which reads them.
    // Declared after the domain: it goes first (it holds a host event port).
    std::unique_ptr<XenstoreLink> xenstore;
    if (!options.xenstorePath.empty()) {
        XenstoreLink::Config linkConfig{options.xenstorePath,
                                        options.domid,
                                        options.spec.name,
                                        options.spec.uuid ? formatDomainUuid(*options.spec.uuid)
                                                          : std::string(),
                                        {},
                                        true};
        if (options.spec.firmware) {
            linkConfig.extraKeys =
                firmware::hvmloaderKeys(*options.spec.firmware, options.spec.mmioHoleStart);
            linkConfig.reserveStorePage = false;
        }
        auto link = XenstoreLink::start(**domain, linkConfig);
        if (!link.ok()) {
            result.startError = link.error().message;
            return result;
        }
        xenstore = std::move(*link);
    }

    DeviceModel deviceModel;
    if (options.spec.deviceModel)
        if (auto s = deviceModel.start(**domain, options); !s.ok()) {
            deviceModel.stop();
            result.startError = "cannot start the device model: " + s.error().message;
            return result;
        }

    // The pty's one reader: the timestamped log and --console attach.
    std::unique_ptr<SerialConsole> serial;
    if (deviceModel.qemu && !deviceModel.qemu->serialPty().empty() &&
        (options.spec.consoleLogPath || options.consoleAttach)) {
        auto started =
            SerialConsole::start({deviceModel.qemu->serialPty(),
                                  options.spec.consoleLogPath.value_or(""), options.consoleAttach});
        if (!started.ok()) {
            deviceModel.stop();
            result.startError = started.error().message;
            return result;
        }
        serial = std::move(*started);
    } else if (options.consoleAttach && life == 0) {
        LOG(Main, Warn, "--console attach needs --serial pty; nothing to attach to");
    }

    // Logged once the domain is up, so that an error before that stays the
    // only line a failed start prints.
    if (life == 0)
        LOG(Main, Info, "domain '%s' uuid %s%s", options.spec.name.c_str(),
            formatDomainUuid(*options.spec.uuid).c_str(), uuidGenerated ? " (generated)" : "");
    control.attach(domain->get(), deviceModel.qemu.get());
    result.status = (*domain)->run();
    const std::string reason = (*domain)->status().stopReason;
    StopEvent event = classifyStop(result.status, reason, control.destroyed());
    LifecycleAction action = options.lifecycle.actionFor(event);
    if (event != StopEvent::Final)
        LOG(Main, Info, "%s: on_%s=%s", reason.c_str(), stopEventName(event),
            lifecycleActionName(action));
    if (action == LifecycleAction::Preserve) {
        std::fprintf(stderr,
                     "basalt-vmm: domain '%s' preserved after %s (%s); destroy it through the "
                     "control socket\n",
                     options.spec.name.c_str(), stopEventName(event), reason.c_str());
        control.waitForDestroy();
    }
    control.attach(nullptr, nullptr);
    serial.reset();
    deviceModel.stop();
    if (xenstore)
        xenstore->stop();
    result.restart = action == LifecycleAction::Restart;
    return result;
}

} // namespace

int main(int argc, char** argv) {
    auto options = parseVmmOptions(std::vector<std::string>(argv + 1, argv + argc));
    if (!options.ok())
        return fail(options.error().message);
    if (options->help) {
        std::fputs(options->helpText.c_str(), stdout);
        return 0;
    }
    for (const std::string& warning : options->warnings)
        std::fprintf(stderr, "basalt-vmm: warning: %s\n", warning.c_str());
    if (!options->screenshotPath.empty())
        return requestScreenshot(options->controlSocketPath, options->screenshotPath);
    if (!options->writeSpecPath.empty()) {
        auto blob = buildSpecBlob(options->spec);
        if (!blob.ok())
            return fail(blob.error().message);
        if (auto s = writeFile(options->writeSpecPath, *blob); !s.ok())
            return fail(s.error().message);
        return 0;
    }

    // The domain handle: the spec's, or one made now, once per process, so
    // every restart of this guest is the same machine (as xl keeps it).
    auto madeUuid = ensureDomainUuid(options->spec);
    if (!madeUuid.ok())
        return fail(madeUuid.error().message);

    // A closed stdout must not kill the VMM in the middle of guest output.
    std::signal(SIGPIPE, SIG_IGN);

    // Host checks first (disk images, QEMU, its user): nothing is built if they fail.
    if (options->spec.deviceModel)
        if (auto s =
                devmodel::DeviceModelProcess::preflight(options->spec, launcherConfig(*options));
            !s.ok())
            return fail(s.error().message);

    DomainControl control(options->spec.name);
    std::unique_ptr<ControlSocket> socket;
    if (!options->controlSocketPath.empty()) {
        auto listening = ControlSocket::listen(options->controlSocketPath, control);
        if (!listening.ok())
            return fail(listening.error().message);
        socket = std::move(*listening);
    }

    RestartGuard guard;
    for (unsigned life = 0;; ++life) {
        Life result = runLife(*options, control, life, *madeUuid);
        if (!result.startError.empty())
            return life == 0 ? fail(result.startError)
                             : (fail("cannot restart the domain: " + result.startError),
                                static_cast<int>(kExitCrashed));
        if (!result.restart)
            return result.status;
        if (control.destroyed())
            return kExitPoweredOff;
        if (!guard.allow(RestartGuard::Clock::now())) {
            std::fprintf(stderr,
                         "basalt-vmm: error: restart storm: %zu restarts within %lld s; the "
                         "domain stays destroyed\n",
                         RestartGuard::kMaxRestarts,
                         static_cast<long long>(RestartGuard::kWindow.count()));
            return result.status;
        }
        LOG(Main, Info, "restarting domain '%s' (restart %u)", options->spec.name.c_str(),
            life + 1);
    }
}
