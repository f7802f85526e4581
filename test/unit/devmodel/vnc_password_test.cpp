// vncpasswd end to end without a guest: xl.cfg and --vnc-password-file into
// the spec, the spec blob's vnc-password property, its validation, and QEMU's
// -vnc moving to the private relay socket.

#include "devmodel/launcher/qemu_args.h"
#include "vmm/builder/domain_spec.h"
#include "vmm/options.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace basalt;

namespace {

constexpr uint64_t kMiB = 1ull << 20;

// A private folder removed at the end of the test.
struct TempDir {
    std::string path;
    TempDir() {
        char pattern[] = "/tmp/basalt-vncpw-XXXXXX";
        REQUIRE(mkdtemp(pattern));
        path = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string write(const std::string& name, const std::string& text) const {
        const std::string file = path + "/" + name;
        std::ofstream(file, std::ios::binary) << text;
        return file;
    }
};

DomainSpec vncSpec() {
    DomainSpec spec;
    spec.name = "vnc";
    spec.memoryBytes = 64 * kMiB;
    spec.kernel.path = "/guests/idle.elf";
    spec.deviceModel = DeviceModelSpec{};
    spec.deviceModel->vnc = "127.0.0.1:3";
    spec.deviceModel->vncPassword = "s3cret";
    return spec;
}

bool hasPair(const std::vector<std::string>& args, const std::string& a, const std::string& b) {
    for (size_t i = 0; i + 1 < args.size(); ++i)
        if (args[i] == a && args[i + 1] == b)
            return true;
    return false;
}

bool mentions(const std::vector<std::string>& lines, const std::string& text) {
    for (const std::string& line : lines)
        if (line.find(text) != std::string::npos)
            return true;
    return false;
}

} // namespace

TEST_CASE("the VNC password survives the spec blob") {
    const DomainSpec spec = vncSpec();
    auto blob = buildSpecBlob(spec);
    REQUIRE(blob.ok());
    auto parsed = parseSpecBlob(*blob);
    REQUIRE(parsed.ok());
    CHECK(parsed->deviceModel->vncPassword == "s3cret");
    CHECK(*parsed == spec);
}

TEST_CASE("VNC password validation never quotes the password") {
    DomainSpec spec = vncSpec();
    SECTION("without VNC") {
        spec.deviceModel->vnc.reset();
        auto s = validateSpec(spec);
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().message.find("VNC is off") != std::string::npos);
        CHECK(s.error().message.find("s3cret") == std::string::npos);
    }
    SECTION("too long") {
        spec.deviceModel->vncPassword = std::string(kMaxVncPasswordBytes + 1, 'x');
        CHECK_FALSE(validateSpec(spec).ok());
    }
    SECTION("with a NUL") {
        spec.deviceModel->vncPassword = std::string("ab\0cd", 5);
        CHECK_FALSE(validateSpec(spec).ok());
    }
}

TEST_CASE("with a password, QEMU's VNC server moves to the relay's private socket") {
    DomainSpec spec = vncSpec();
    devmodel::QemuArgsConfig config{4, "/run/basalt/qemu-4/qmp.sock",
                                    "/run/basalt/qemu-4/vnc.sock"};
    auto args = devmodel::buildQemuArgs(spec, config);
    CHECK(hasPair(args, "-vnc", "unix:/run/basalt/qemu-4/vnc.sock"));
    CHECK_FALSE(hasPair(args, "-vnc", "127.0.0.1:3"));
    for (const std::string& arg : args)
        CHECK(arg.find("s3cret") == std::string::npos);
    // Without a relay socket (no password), QEMU listens where the user asked.
    config.vncRelaySocketPath.clear();
    CHECK(hasPair(devmodel::buildQemuArgs(spec, config), "-vnc", "127.0.0.1:3"));
}

TEST_CASE("--vnc-password-file: the first line is the password") {
    TempDir tmp;
    const std::string file = tmp.write("pw", "Basalt-7\nignored\n");
    auto o = parseVmmOptions(
        {"--kernel", "/tmp/k.elf", "--vnc", "127.0.0.1:1", "--vnc-password-file", file});
    REQUIRE(o.ok());
    CHECK(o->spec.deviceModel->vncPassword == "Basalt-7");
    CHECK(o->warnings.empty());

    const std::string longer = tmp.write("long", "0123456789\r\n");
    o = parseVmmOptions(
        {"--kernel", "/tmp/k.elf", "--vnc", "127.0.0.1:1", "--vnc-password-file", longer});
    REQUIRE(o.ok());
    CHECK(o->spec.deviceModel->vncPassword == "0123456789");
    CHECK(mentions(o->warnings, "only its first 8"));

    const std::string empty = tmp.write("empty", "\n");
    CHECK_FALSE(parseVmmOptions({"--kernel", "/tmp/k.elf", "--vnc", "127.0.0.1:1",
                                 "--vnc-password-file", empty})
                    .ok());
    CHECK_FALSE(parseVmmOptions({"--kernel", "/tmp/k.elf", "--vnc", "127.0.0.1:1",
                                 "--vnc-password-file", tmp.path + "/missing"})
                    .ok());
    // A password for a display that is not there is a mistake.
    CHECK_FALSE(parseVmmOptions({"--kernel", "/tmp/k.elf", "--vnc-password-file", file}).ok());
}

TEST_CASE("xl.cfg vncpasswd reaches the spec; empty means none") {
    TempDir tmp;
    auto run = [&](const std::string& cfg) {
        return parseVmmOptions({"--config", tmp.write("g.cfg", cfg), "--kernel", "/tmp/k.elf"});
    };
    auto o = run("vnc=1\nvnclisten=\"127.0.0.1:2\"\nvncpasswd=\"xl-pass\"\n");
    REQUIRE(o.ok());
    CHECK(o->spec.deviceModel->vnc == "127.0.0.1:2");
    CHECK(o->spec.deviceModel->vncPassword == "xl-pass");

    o = run("vnc=1\nvncpasswd=\"\"\n");
    REQUIRE(o.ok());
    CHECK(o->spec.deviceModel->vncPassword.empty());

    // VNC off: nothing to protect, and the user is told.
    o = run("vncpasswd=\"xl-pass\"\n");
    REQUIRE(o.ok());
    CHECK((!o->spec.deviceModel || o->spec.deviceModel->vncPassword.empty()));
    CHECK(mentions(o->warnings, "vncpasswd is ignored"));

    // The command line's file wins over the config's key.
    const std::string file = tmp.write("pw", "flag-pw\n");
    o = parseVmmOptions({"--config", tmp.write("g.cfg", "vnc=1\nvncpasswd=\"xl-pass\"\n"),
                         "--kernel", "/tmp/k.elf", "--vnc-password-file", file});
    REQUIRE(o.ok());
    CHECK(o->spec.deviceModel->vncPassword == "flag-pw");
}
