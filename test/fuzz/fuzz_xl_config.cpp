// Fuzz target: xl.cfg files (basalt-vmm --config; later basaltd). Beyond "no
// crash", every parsed setting must print back to text that parses to the
// same setting, and the HVM-subset interpreter must never crash either.

#include "test/fuzz/fuzz_seeds.h"
#include "toolstack/xlcfg/xl_config_file.h"
#include "toolstack/xlcfg/xl_domain_config.h"

#include <cstdint>
#include <cstdlib>
#include <string>

using basalt::fuzz::require;

namespace {

bool sameValue(const basalt::xlcfg::XlValue& a, const basalt::xlcfg::XlValue& b) {
    if (a.kind != b.kind || a.text != b.text || a.items.size() != b.items.size())
        return false;
    for (size_t i = 0; i < a.items.size(); ++i)
        if (!sameValue(a.items[i], b.items[i]))
            return false;
    return true;
}

} // namespace

namespace basalt::fuzz {

std::vector<std::vector<uint8_t>> seeds() {
    return textSeeds({
        "type='hvm'\nname=\"web01\"\nmemory=256\nvcpus=2\n",
        "disk = [ '/srv/a.img,raw,hda,rw',\n  # c\n  '/srv/b.iso,,hdc,cdrom', ]\n",
        "vga='stdvga'; videoram=16; vnc=1; vnclisten='127.0.0.1:1'; vncpasswd=''\n",
        "serial=['pty']\non_poweroff='destroy'\non_reboot='restart'\non_crash='preserve'\n",
        "boot='dc'\nbios='seabios'\nfirmware='uefi'\ndevice_id='0002'\nxen_platform_pci=0\n",
        "firmware_override='/x.elf'\nesc=\"\\x41\\t\\\"\"\nn=0x10\n",
        "smbios=['bios_vendor=Acme', 'oem=a=b', \"system_serial_number=SN 1\", 'oem=c']\n",
        "uuid='5F3B9A2E-6c1d-4e8a-9b7f-0a1b2c3d4e5f'\nname='u'\n",
    });
}

} // namespace basalt::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    auto parsed = basalt::xlcfg::parseXlConfig(text);
    if (!parsed)
        return 0;
    for (const auto& setting : parsed->settings) {
        auto again = basalt::xlcfg::parseXlConfig(basalt::xlcfg::formatXlSetting(setting));
        require(again.ok());
        require(again->settings.size() == 1);
        require(again->settings[0].key == setting.key);
        require(sameValue(again->settings[0].value, setting.value));
    }
    (void)basalt::xlcfg::interpretXlConfig(*parsed);
    return 0;
}
