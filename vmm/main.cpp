// basalt-vmm: the per-guest core process.

#include "base/log.h"
#include "devmodel/host/dm_host.h"
#include "devmodel/launcher/launcher.h"
#include "vmm/control_socket.h"
#include "vmm/domain.h"
#include "vmm/exit_status.h"
#include "vmm/options.h"
#include "vmm/xenstore_link.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <unistd.h>

using namespace basalt;

namespace {

class DomainControl final : public ControlTarget {
public:
    explicit DomainControl(Domain& domain) : domain_(domain) {}
    void pause() override { domain_.pause(); }
    void resume() override { domain_.resume(); }
    void destroy() override {
        domain_.requestStop(kExitPoweredOff, "destroyed through the control socket");
    }
    DomainStatus status() const override { return domain_.status(); }
    bool debugKey(char key) override { return domain_.debugKey(key); }

private:
    Domain& domain_;
};

int fail(const std::string& message) {
    std::fprintf(stderr, "basalt-vmm: error: %s\n", message.c_str());
    return kExitConfigError;
}

Status writeFile(const std::string& path, const std::vector<uint8_t>& bytes) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f)
        return errnoError("cannot create '" + path + "'");
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
        if (qemu)
            qemu->stop();
        if (host)
            host->stop();
    }
};

} // namespace

int main(int argc, char** argv) {
    auto options = parseVmmOptions(std::vector<std::string>(argv + 1, argv + argc));
    if (!options.ok())
        return fail(options.error().message);
    if (options->help) {
        std::fputs(options->helpText.c_str(), stdout);
        return 0;
    }
    if (!options->writeSpecPath.empty()) {
        auto blob = buildSpecBlob(options->spec);
        if (!blob.ok())
            return fail(blob.error().message);
        if (auto s = writeFile(options->writeSpecPath, *blob); !s.ok())
            return fail(s.error().message);
        return 0;
    }

    // A closed stdout must not kill the VMM in the middle of guest output.
    std::signal(SIGPIPE, SIG_IGN);

    // Host checks first (disk images, QEMU, its user): nothing is built if they fail.
    if (options->spec.deviceModel)
        if (auto s =
                devmodel::DeviceModelProcess::preflight(options->spec, launcherConfig(*options));
            !s.ok())
            return fail(s.error().message);

    auto domain = Domain::create(options->spec, options->domid);
    if (!domain.ok())
        return fail(domain.error().message);

    // The store ring and the domain's keys come before QEMU, which reads them.
    // Declared after the domain: it goes first (it holds a host event port).
    std::unique_ptr<XenstoreLink> xenstore;
    if (!options->xenstorePath.empty()) {
        auto link = XenstoreLink::start(
            **domain, {options->xenstorePath, options->domid, options->spec.name, {}});
        if (!link.ok())
            return fail(link.error().message);
        xenstore = std::move(*link);
    }

    DeviceModel deviceModel;
    if (options->spec.deviceModel)
        if (auto s = deviceModel.start(**domain, *options); !s.ok()) {
            deviceModel.stop();
            return fail("cannot start the device model: " + s.error().message);
        }

    DomainControl control(**domain);
    std::unique_ptr<ControlSocket> socket;
    if (!options->controlSocketPath.empty()) {
        auto listening = ControlSocket::listen(options->controlSocketPath, control);
        if (!listening.ok())
            return fail(listening.error().message);
        socket = std::move(*listening);
    }
    int status = (*domain)->run();
    deviceModel.stop();
    if (xenstore)
        xenstore->stop();
    socket.reset();
    return status;
}
