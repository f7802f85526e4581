#include "vmm/options.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <unistd.h>

using namespace basalt;

namespace {
Result<VmmOptions> parse(std::vector<std::string> args) {
    return parseVmmOptions(args);
}
} // namespace

TEST_CASE("basalt-vmm flags build a validated spec", "[options]") {
    auto o = parse({"--kernel", "/tmp/k.elf", "--entry", "long", "--memory", "32", "--vcpus", "4",
                    "--name", "t1", "--test-exit-port", "0xf4", "--test-dirty-port", "0x700",
                    "--control", "/tmp/c.sock", "--load-address", "0x200000"});
    INFO((o.ok() ? std::string() : o.error().message));
    REQUIRE(o.ok());
    CHECK(o->spec.name == "t1");
    CHECK(o->spec.kernel.path == "/tmp/k.elf");
    CHECK(o->spec.kernel.entryMode == EntryMode::Long);
    CHECK(o->spec.kernel.loadAddress == 0x200000u);
    CHECK(o->spec.memoryBytes == 32ull << 20);
    CHECK(o->spec.vcpus == 4);
    CHECK(o->spec.testExitPort == 0xF4);
    CHECK(o->spec.testDirtyPort == 0x700);
    CHECK(o->controlSocketPath == "/tmp/c.sock");
}

TEST_CASE("basalt-vmm defaults", "[options]") {
    auto o = parse({"--kernel", "k"});
    REQUIRE(o.ok());
    CHECK(o->spec.memoryBytes == 64ull << 20);
    CHECK(o->spec.vcpus == 1);
    CHECK(o->spec.kernel.entryMode == EntryMode::Protected);
    CHECK_FALSE(o->spec.testExitPort.has_value());
    CHECK(o->controlSocketPath.empty());
}

TEST_CASE("basalt-vmm rejects bad flags with a message", "[options]") {
    const std::vector<std::vector<std::string>> bad = {
        {},
        {"--kernel", "k", "--memory", "0"},
        {"--kernel", "k", "--memory", "-5"},
        {"--kernel", "k", "--memory", "12abc"},
        {"--kernel", "k", "--memory", "99999999999999999999999"},
        {"--kernel", "k", "--memory", "2000000000"},
        {"--kernel", "k", "--vcpus", "0"},
        {"--kernel", "k", "--vcpus", "100000"},
        {"--kernel", "k", "--entry", "sideways"},
        {"--kernel", "k", "--test-exit-port", "0x10000"},
        {"--kernel", "k", "--test-exit-port", "0xe9"},
        {"--kernel", "k", "--spec", "x.dtb"},
        {"--kernel", "k", "--bogus"},
        {"--kernel"},
    };
    for (const auto& args : bad) {
        auto o = parse(args);
        INFO("args: " << (args.empty() ? std::string("(none)") : args.back()));
        REQUIRE_FALSE(o.ok());
        CHECK_FALSE(o.error().message.empty());
        CHECK(o.error().message.find('\n') == std::string::npos);
    }
}

TEST_CASE("--help returns the usage text", "[options]") {
    auto o = parse({"--help"});
    REQUIRE(o.ok());
    CHECK(o->help);
    CHECK(o->helpText.find("--kernel") != std::string::npos);
}

TEST_CASE("basalt-vmm --firmware boots through hvmloader", "[options]") {
    auto o = parse({"--firmware", "seabios", "--boot", "dc", "--disk", "/tmp/a.iso,,hdc,cdrom",
                    "--xenstore", "/tmp/xs.sock"});
    INFO((o.ok() ? std::string() : o.error().message));
    REQUIRE(o.ok());
    REQUIRE(o->spec.firmware);
    CHECK(o->spec.firmware->bios == BiosKind::SeaBios);
    CHECK(o->spec.firmware->loaderPath == kDefaultHvmloaderPath);
    CHECK(o->spec.firmware->biosPath == kDefaultSeaBiosPath);
    CHECK(o->spec.firmware->bootOrder == "dc");
    CHECK(o->spec.kernel.path.empty());

    auto ovmf = parse({"--bios", "ovmf", "--bios-path", "/tmp/OVMF.fd", "--write-spec", "/tmp/s"});
    REQUIRE(ovmf.ok());
    CHECK(ovmf->spec.firmware->bios == BiosKind::Ovmf);
    CHECK(ovmf->spec.firmware->biosPath == "/tmp/OVMF.fd");
    CHECK(ovmf->spec.firmware->bootOrder == kDefaultBootOrder);

    for (const auto& bad : std::vector<std::vector<std::string>>{
             {"--firmware", "uefi"},
             {"--firmware", "seabios", "--kernel", "/tmp/k.elf"},
             {"--firmware", "seabios", "--bios", "seabios"},
             {"--kernel", "/tmp/k.elf", "--boot", "c"},
             {"--firmware", "seabios", "--boot", "x"},
             {"--firmware", "seabios", "--boot", "cc"},
             {"--firmware", "seabios"}}) { // hvmloader needs xenstore
        CHECK_FALSE(parse(bad).ok());
    }
}

TEST_CASE("basalt-vmm --smbios sets the SMBIOS strings hvmloader reads", "[options][smbios]") {
    auto o = parse({"--firmware", "seabios", "--write-spec", "/tmp/s", "--smbios",
                    "bios_vendor=Basalt Test", "--smbios", "system_serial_number=SN-12345",
                    "--smbios", "oem=one", "--smbios", "oem=two"});
    INFO((o.ok() ? std::string() : o.error().message));
    REQUIRE(o.ok());
    REQUIRE(o->spec.firmware);
    const SmbiosStrings expected = {{"bios-vendor", "Basalt Test"},
                                    {"system-serial-number", "SN-12345"},
                                    {"oem-1", "one"},
                                    {"oem-2", "two"}};
    CHECK(o->spec.firmware->smbios == expected);

    auto error = [](std::vector<std::string> args) {
        auto bad = parse(args);
        REQUIRE_FALSE(bad.ok());
        return bad.error().message;
    };
    const std::vector<std::string> fw = {"--firmware", "seabios", "--write-spec", "/tmp/s"};
    auto with = [&](std::vector<std::string> extra) {
        std::vector<std::string> args = fw;
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    };
    CHECK(error(with({"--smbios", "bios_vendr=x"})).rfind("--smbios key 'bios_vendr'", 0) == 0);
    CHECK_THAT(error(with({"--smbios", "bios_vendor"})), Catch::Contains("is not KEY=VALUE"));
    CHECK_THAT(error(with({"--smbios", "bios_vendor="})), Catch::Contains("empty value"));
    CHECK_THAT(error(with({"--smbios", "bios_vendor=a\x1b[2J"})),
               Catch::Contains("printable ASCII"));
    CHECK_THAT(error(with({"--smbios", "oem=a", "--smbios", "bios_version=1", "--smbios",
                           "bios_version=2"})),
               Catch::Contains("'bios_version' is given twice"));
    CHECK(error({"--kernel", "/tmp/k.elf", "--smbios", "bios_vendor=x"}) ==
          "--smbios needs --firmware");
    CHECK(error({"--spec", "/tmp/x.dtb", "--smbios", "bios_vendor=x"}) ==
          "--smbios cannot be combined with --spec");
}

TEST_CASE("basalt-vmm --config passes xl.cfg's smbios= on", "[options][smbios]") {
    char path[] = "/tmp/basalt-smbios-XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    const std::string text = "bios = 'seabios'\n"
                             "smbios = [ 'system_manufacturer=Acme', 'oem=Basalt' ]\n";
    REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    close(fd);
    auto o = parse({"--config", path, "--write-spec", "/tmp/s"});
    unlink(path);
    INFO((o.ok() ? std::string() : o.error().message));
    REQUIRE(o.ok());
    REQUIRE(o->spec.firmware);
    CHECK(o->spec.firmware->smbios ==
          SmbiosStrings{{"system-manufacturer", "Acme"}, {"oem-1", "Basalt"}});
}
