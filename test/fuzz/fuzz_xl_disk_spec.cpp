// Fuzz target: xl DISKSPEC strings (user configs: --disk, xl.cfg `disk =`).
// Beyond "no crash", an accepted spec must print to a canonical form that
// parses back to the same thing.

#include "devmodel/launcher/xl_disk_spec.h"
#include "test/fuzz/fuzz_seeds.h"

#include <cstdint>
#include <cstdlib>
#include <string>

using basalt::fuzz::require;

namespace basalt::fuzz {

std::vector<std::vector<uint8_t>> seeds() {
    return textSeeds({
        "/dev/vg/guest-volume,,hda",
        "/dev/vg/guest-volume,raw,hda,rw",
        "format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume",
        "raw:/dev/vg/guest-volume,hda,w",
        "/root/image.iso,,hdc,cdrom",
        "/root/image.iso,raw,hdc,devtype=cdrom",
        "raw:/root/image.iso,hdc:cdrom,ro",
        ",,hdd,cdrom",
        "/a.qcow2,qcow2,hdb,w,backendtype=qdisk",
        "vdev=hda,target=/srv/a,b.img",
    });
}

} // namespace basalt::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    auto parsed = basalt::devmodel::parseXlDiskSpec(text);
    if (!parsed)
        return 0;
    require(!parsed->disk.vdev.empty());
    require(!parsed->disk.target.empty() || parsed->disk.devType == basalt::DiskDevType::Cdrom);
    auto again = basalt::devmodel::parseXlDiskSpec(basalt::devmodel::formatXlDiskSpec(*parsed));
    require(again.ok() && *again == *parsed);
    return 0;
}
