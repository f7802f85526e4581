#include "toolstack/xlcfg/xl_config_file.h"
#include "toolstack/xlcfg/xl_domain_config.h"

#include <catch2/catch.hpp>

using namespace basalt;
using namespace basalt::xlcfg;

namespace {

XlDomainConfig interpretOk(const std::string& text) {
    auto file = parseXlConfig(text);
    REQUIRE(file.ok());
    auto config = interpretXlConfig(*file);
    if (!config.ok())
        FAIL(config.error().message);
    return *config;
}

std::string parseError(const std::string& text) {
    auto file = parseXlConfig(text);
    REQUIRE_FALSE(file.ok());
    return file.error().message;
}

std::string interpretError(const std::string& text) {
    auto file = parseXlConfig(text);
    REQUIRE(file.ok());
    auto config = interpretXlConfig(*file);
    REQUIRE_FALSE(config.ok());
    return config.error().message;
}

} // namespace

TEST_CASE("xl.cfg syntax: strings, numbers, lists, comments, continuation", "[xlcfg]") {
    auto file = parseXlConfig("# a guest\n"
                              "name = \"web01\"  # trailing comment\n"
                              "memory=0x200; vcpus = 2\n"
                              "disk = [ '/srv/a.img,raw,hda,rw',\n"
                              "         # comment inside the list\n"
                              "         \"/srv/b.iso,,hdc,cdrom\", ]\n"
                              "empty = []\n"
                              "esc = \"a\\\"b\\\\c\\x41\\n\"\n");
    REQUIRE(file.ok());
    REQUIRE(file->settings.size() == 6);
    CHECK(file->find("name")->value.text == "web01");
    CHECK(file->find("memory")->value.kind == XlValue::Kind::Number);
    CHECK(file->find("memory")->value.text == "0x200");
    CHECK(file->find("vcpus")->line == 3);
    const XlSetting* disk = file->find("disk");
    REQUIRE(disk->value.kind == XlValue::Kind::List);
    REQUIRE(disk->value.items.size() == 2);
    CHECK(disk->value.items[1].text == "/srv/b.iso,,hdc,cdrom");
    CHECK(disk->value.items[1].line == 6);
    CHECK(file->find("empty")->value.items.empty());
    CHECK(file->find("esc")->value.text == "a\"b\\cA\n");
}

TEST_CASE("xl.cfg syntax: the last setting of a key wins", "[xlcfg]") {
    auto file = parseXlConfig("vcpus = 1\nvcpus = 4\n");
    REQUIRE(file.ok());
    CHECK(file->find("vcpus")->value.text == "4");
    CHECK(file->find("nothing") == nullptr);
}

TEST_CASE("xl.cfg syntax: formatted settings parse back the same", "[xlcfg]") {
    auto file = parseXlConfig("a = \"x\\ty\\\"\"\nb = [ 1, 'two', 0x3 ]\n");
    REQUIRE(file.ok());
    for (const XlSetting& s : file->settings) {
        auto again = parseXlConfig(formatXlSetting(s));
        REQUIRE(again.ok());
        REQUIRE(again->settings.size() == 1);
        CHECK(again->settings[0].key == s.key);
        CHECK(again->settings[0].value.text == s.value.text);
        CHECK(again->settings[0].value.items.size() == s.value.items.size());
    }
}

TEST_CASE("xl.cfg syntax errors name the line", "[xlcfg]") {
    CHECK(parseError("name = \"a\"\nmemory = \n") == "line 2: 'memory' has no value");
    CHECK(parseError("\n\nvga = stdvga\n").rfind("line 3: expected a value", 0) == 0);
    CHECK(parseError("name = \"open\n").rfind("line 1: string is not closed", 0) == 0);
    CHECK(parseError("disk = [ 'a',\n 'b'\n").rfind("line 3: list is not closed", 0) == 0);
    CHECK(parseError("disk = [ 'a' 'b' ]").rfind("line 1: expected ',' or ']'", 0) == 0);
    CHECK(parseError("x = [ [ 1 ] ]").rfind("line 1: a list inside a list", 0) == 0);
    CHECK(parseError("a = 1 b = 2").rfind("line 1: expected a new line or ';'", 0) == 0);
    CHECK(parseError("memory = 12abc").rfind("line 1: malformed number", 0) == 0);
    CHECK(parseError("= 3").rfind("line 1: expected a setting name", 0) == 0);
    CHECK(parseError("a += [ 'x' ]").rfind("line 1: '+=' is not supported", 0) == 0);
    CHECK(parseError("a = 'bad \\q'").rfind("line 1: unknown escape", 0) == 0);
    CHECK(parseError("a = 'nul \\x00'").rfind("line 1: a NUL byte", 0) == 0);
}

TEST_CASE("xl.cfg: the HVM subset", "[xlcfg]") {
    auto c = interpretOk("type = 'hvm'\n"
                         "name = 'web01'\n"
                         "memory = 256\n"
                         "vcpus = 2\n"
                         "disk = [ '/srv/a.img,raw,hda,rw', '/srv/b.iso,,hdc,cdrom' ]\n"
                         "boot = 'dc'\n"
                         "bios = 'seabios'\n"
                         "vga = 'stdvga'\n"
                         "videoram = 16\n"
                         "vnc = 1\n"
                         "vnclisten = '127.0.0.1:3'\n"
                         "serial = [ 'pty' ]\n"
                         "on_poweroff = 'destroy'\n"
                         "on_reboot = 'restart'\n"
                         "on_crash = 'preserve'\n"
                         "xen_platform_pci = 1\n"
                         "device_id = '0002'\n"
                         "cpus = 'all'\n");
    CHECK(c.name == "web01");
    CHECK(c.memoryMiB == 256u);
    CHECK(c.vcpus == 2u);
    REQUIRE(c.disks.size() == 2);
    CHECK(c.disks[0].disk.target == "/srv/a.img");
    CHECK(c.disks[1].disk.devType == DiskDevType::Cdrom);
    CHECK(c.boot == "dc");
    CHECK(c.bios == "seabios");
    CHECK(c.vga == "stdvga");
    CHECK(c.videoRamMiB == 16u);
    CHECK(c.vnc == "127.0.0.1:3");
    CHECK(c.serial == "pty");
    CHECK(c.onPoweroff == LifecycleAction::Destroy);
    CHECK(c.onReboot == LifecycleAction::Restart);
    CHECK(c.onCrash == LifecycleAction::Preserve);
    CHECK(c.xenPlatformPci == true);
    CHECK(c.deviceId == 2u);
    REQUIRE(c.warnings.size() == 1);
    CHECK(c.warnings[0] == "line 18: unknown key 'cpus' ignored");
}

TEST_CASE("xl.cfg: firmware= and bios= agree, VNC defaults", "[xlcfg]") {
    CHECK(interpretOk("firmware = 'uefi'").bios == "ovmf");
    CHECK(interpretOk("firmware = 'bios'\nbios = 'seabios'").bios == "seabios");
    CHECK(interpretOk("name = 'x'").vnc == std::nullopt);
    CHECK(interpretOk("vnc = 1").vnc == "127.0.0.1:0");
    CHECK(interpretOk("vnc = 1\nvncdisplay = 5").vnc == "127.0.0.1:5");
    CHECK(interpretOk("vnclisten = 'unix:/run/x.vnc'").vnc == "unix:/run/x.vnc");
    CHECK(interpretOk("vnc = 0\nvnclisten = '127.0.0.1'").vnc == std::nullopt);
    CHECK(interpretOk("serial = 'file:/tmp/s.log'").serial == "file:/tmp/s.log");
    CHECK(interpretOk("stdvga = 1").vga == "stdvga");
}

TEST_CASE("xl.cfg: malformed values are errors naming the line", "[xlcfg]") {
    CHECK(interpretError("type = 'pv'").rfind("line 1: type:", 0) == 0);
    CHECK(interpretError("\nmemory = '12'") == "line 2: memory: expected a number");
    CHECK(interpretError("memory = 0").rfind("line 1: memory: '0' is not between", 0) == 0);
    CHECK(interpretError("vcpus = 999").rfind("line 1: vcpus:", 0) == 0);
    CHECK(interpretError("vga = 'qxl'").rfind("line 1: vga: 'qxl' is not", 0) == 0);
    CHECK(interpretError("videoram = 64").rfind("line 1: videoram:", 0) == 0);
    CHECK(interpretError("disk = '/a.img,raw,hda'").rfind("line 1: disk: expected a list", 0) == 0);
    CHECK(interpretError("disk = [ '/a.img,raw,hda',\n '/b.img,vhd,hdb' ]")
              .rfind("line 2: disk: ", 0) == 0);
    CHECK(interpretError("boot = 'x'").rfind("line 1: boot:", 0) == 0);
    CHECK(interpretError("bios = 'rombios'").rfind("line 1: bios:", 0) == 0);
    CHECK(interpretError("bios = 'ovmf'\nfirmware = 'bios'").rfind("line 2: firmware:", 0) == 0);
    CHECK(interpretError("on_crash = 'coredump-destroy'").rfind("line 1: on_crash:", 0) == 0);
    CHECK(interpretError("serial = 'tcp:1.2.3.4:5'").rfind("line 1: serial:", 0) == 0);
    CHECK(interpretError("serial = [ 'pty', 'pty' ]").rfind("line 1: serial:", 0) == 0);
    CHECK(interpretError("xen_platform_pci = 2").rfind("line 1: xen_platform_pci:", 0) == 0);
    CHECK(interpretError("device_id = '0003'").rfind("line 1: device_id:", 0) == 0);
    CHECK(interpretError("name = 'a/b'").rfind("line 1: name:", 0) == 0);
    CHECK(interpretError("firmware_override = 'rel.elf'").rfind("line 1: firmware_override", 0) ==
          0);
    CHECK(interpretError("vnc = 1\nvnclisten = '1.2.3.4:0,password=off'").rfind("vnclisten", 0) ==
          0);
}

TEST_CASE("xl.cfg: smbios = [ 'KEY=VALUE', ... ]", "[xlcfg][smbios]") {
    auto c = interpretOk("smbios = [ 'bios_vendor=Acme', \"system_serial_number=XYZ 1\",\n"
                         "           'oem=first', 'oem=second', ]\n");
    CHECK(c.smbios == std::vector<std::string>{"bios_vendor=Acme", "system_serial_number=XYZ 1",
                                               "oem=first", "oem=second"});
    CHECK(c.warnings.empty());
    CHECK(interpretOk("name = 'a'").smbios.empty());
    // The last setting wins, as for every key.
    CHECK(interpretOk("smbios = ['bios_vendor=a']\nsmbios = ['bios_version=2']").smbios ==
          std::vector<std::string>{"bios_version=2"});

    // Each error names the line of the item at fault.
    CHECK(interpretError("smbios = 'bios_vendor=Acme'") ==
          "line 1: smbios: expected a list: smbios = [ 'KEY=VALUE', ... ]");
    CHECK(interpretError("smbios = [ 'bios_vendor=Acme',\n 12 ]") ==
          "line 2: smbios: item 2 is not a \"string\"");
    CHECK_THAT(interpretError("name = 'a'\nsmbios = [\n 'bios_vendor=Acme',\n 'colour=blue' ]"),
               Catch::StartsWith("line 4: smbios key 'colour' is unknown; it must be one of "
                                 "bios_vendor, bios_version,"));
    CHECK(interpretError("smbios = [ 'system_version' ]") ==
          "line 1: smbios 'system_version' is not KEY=VALUE");
    CHECK(interpretError("smbios = [ 'system_version=' ]") ==
          "line 1: smbios 'system_version': empty value not allowed");
    CHECK(interpretError("smbios = [ 'system_version=1',\n'system_version=2' ]") ==
          "line 2: smbios key 'system_version' is given twice");
    CHECK_THAT(interpretError("smbios = [ 'bios_vendor=a\\tb' ]"),
               Catch::Contains("printable ASCII"));
    std::string many = "smbios = [";
    for (int i = 0; i < 100; ++i)
        many += "'oem=" + std::to_string(i) + "',";
    CHECK_THAT(interpretError(many + "]"), Catch::Contains("at most 99 OEM strings"));
}
