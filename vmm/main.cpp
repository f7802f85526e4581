// basalt-vmm: the per-guest core process.

#include "base/log.h"
#include "vmm/control_socket.h"
#include "vmm/domain.h"
#include "vmm/exit_status.h"
#include "vmm/options.h"

#include <csignal>
#include <cstdio>
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

    auto domain = Domain::create(options->spec, options->domid);
    if (!domain.ok())
        return fail(domain.error().message);

    DomainControl control(**domain);
    std::unique_ptr<ControlSocket> socket;
    if (!options->controlSocketPath.empty()) {
        auto listening = ControlSocket::listen(options->controlSocketPath, control);
        if (!listening.ok())
            return fail(listening.error().message);
        socket = std::move(*listening);
    }
    int status = (*domain)->run();
    socket.reset();
    return status;
}
