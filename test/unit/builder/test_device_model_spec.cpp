// The device-model part of the domain spec, the xl DISKSPEC parser and the
// QEMU command line built from them.

#include "devmodel/launcher/qemu_args.h"
#include "devmodel/launcher/xl_disk_spec.h"
#include "test/unit/builder/spec_tree.h"
#include "vmm/builder/domain_spec.h"

#include <algorithm>
#include <catch2/catch.hpp>

using namespace basalt;
using namespace basalt::devmodel;
using namespace basalt::test;

namespace {

constexpr uint64_t kMiB = 1024 * 1024;

DomainSpec dmSpec() {
    DomainSpec spec;
    spec.name = "web01";
    spec.memoryBytes = 128 * kMiB;
    spec.vcpus = 2;
    spec.kernel.path = "/guests/idle.elf";
    spec.deviceModel = DeviceModelSpec{};
    spec.deviceModel->vga = VgaKind::Std;
    spec.deviceModel->videoRamMiB = 16;
    spec.deviceModel->serial = SerialKind::Pty;
    spec.deviceModel->vnc = "unix:/run/basalt/web01.vnc";
    spec.disks.push_back(
        {0, "/srv/web01.img", DiskFormat::Raw, "hda", DiskAccess::ReadWrite, DiskDevType::Disk});
    spec.disks.push_back(
        {1, "/srv/tools,1.iso", DiskFormat::Raw, "hdc", DiskAccess::ReadOnly, DiskDevType::Cdrom});
    return spec;
}

std::string validateError(const DomainSpec& spec) {
    auto status = validateSpec(spec);
    return status ? std::string() : status.error().message;
}

std::string xlError(std::string_view text) {
    auto parsed = parseXlDiskSpec(text);
    return parsed ? std::string() : parsed.error().message;
}

bool hasPair(const std::vector<std::string>& args, const std::string& a, const std::string& b) {
    for (size_t i = 0; i + 1 < args.size(); ++i)
        if (args[i] == a && args[i + 1] == b)
            return true;
    return false;
}

} // namespace

TEST_CASE("a spec with a device model and disks survives the blob") {
    const DomainSpec spec = dmSpec();
    auto blob = buildSpecBlob(spec);
    REQUIRE(blob.ok());
    auto parsed = parseSpecBlob(*blob);
    REQUIRE(parsed.ok());
    CHECK(*parsed == spec);

    DomainSpec file = spec;
    file.deviceModel->serial = SerialKind::File;
    file.deviceModel->serialPath = "/var/log/basalt/web01-serial.log";
    file.deviceModel->vga = VgaKind::None;
    file.deviceModel->videoRamMiB = 0;
    file.deviceModel->platformDeviceId = 2;
    file.deviceModel->usbTablet = false;
    file.deviceModel->xenPlatformPci = false;
    file.disks[1].target.clear(); // empty cdrom
    auto again = parseSpecBlob(*buildSpecBlob(file));
    REQUIRE(again.ok());
    CHECK(*again == file);
}

TEST_CASE("device-model and disk nodes are checked like the rest of the binding") {
    TreeNode tree = validTree();
    TreeNode& domain = tree.child("domain");
    TreeNode& dm = domain.child("device-model");
    dm.set("compatible", str("basalt,qemu"));
    auto parse = [&] {
        auto parsed = parseSpecBlob(serialize(tree));
        return parsed ? std::string() : parsed.error().message;
    };
    SECTION("defaults as libxl: cirrus with 8 MiB") {
        auto parsed = parseSpecBlob(serialize(tree));
        REQUIRE(parsed.ok());
        CHECK(parsed->deviceModel->vga == VgaKind::Cirrus);
        CHECK(parsed->deviceModel->videoRamMiB == 8);
        CHECK(parsed->deviceModel->serial == SerialKind::None);
        CHECK(parsed->deviceModel->platformDeviceId == 1);
    }
    SECTION("stdvga defaults to 16 MiB") {
        dm.set("vga", str("stdvga"));
        auto parsed = parseSpecBlob(serialize(tree));
        REQUIRE(parsed.ok());
        CHECK(parsed->deviceModel->videoRamMiB == 16);
    }
    SECTION("unknown vga") {
        dm.set("vga", str("qxl"));
        CHECK(parse() == "property 'vga' in /domain/device-model is 'qxl'; it must be one of "
                         "'cirrus', 'stdvga', 'none'");
    }
    SECTION("wrong compatible") {
        dm.set("compatible", str("basalt,qemu-trad"));
        CHECK_THAT(parse(), Catch::Contains("unknown compatible 'basalt,qemu-trad'"));
    }
    SECTION("unknown property") {
        dm.set("soundhw", str("hda"));
        CHECK(parse() == "unknown property 'soundhw' in /domain/device-model");
    }
    SECTION("bad serial") {
        dm.set("serial", str("tcp:1.2.3.4:5"));
        CHECK_THAT(parse(), Catch::Contains("it must be 'none', 'pty' or 'file:/absolute/path'"));
    }
    SECTION("disk nodes") {
        TreeNode& disk = domain.child("disk@0");
        disk.set("compatible", str("basalt,vbd"))
            .set("target", str("/srv/a.img"))
            .set("format", str("raw"))
            .set("vdev", str("hda"))
            .set("access", str("rw"))
            .set("devtype", str("disk"));
        REQUIRE(parse().empty());
        SECTION("leading zero") {
            disk.name = "disk@01";
            CHECK_THAT(parse(), Catch::Contains("bad disk node 'disk@01'"));
        }
        SECTION("index too large") {
            disk.name = "disk@16";
            CHECK_THAT(parse(), Catch::Contains("bad disk node 'disk@16'"));
        }
        SECTION("missing format") {
            disk.remove("format");
            CHECK(parse() == "/domain/disk@0 is missing required property 'format'");
        }
        SECTION("bad format") {
            disk.set("format", str("vhd"));
            CHECK_THAT(parse(), Catch::Contains("property 'format' in /domain/disk@0 is 'vhd'"));
        }
        SECTION("disks without a device model") {
            domain.children.erase(
                std::find_if(domain.children.begin(), domain.children.end(),
                             [](const TreeNode& n) { return n.name == "device-model"; }));
            CHECK(parse() == "the spec has disks but no device-model node: QEMU's IDE serves them");
        }
    }
}

TEST_CASE("device-model validation names what is wrong") {
    DomainSpec spec = dmSpec();
    REQUIRE(validateError(spec).empty());
    SECTION("videoram above 16 MiB") {
        spec.deviceModel->videoRamMiB = 32;
        CHECK(validateError(spec) == "videoram 32 MiB is not valid for stdvga: it must be 16 MiB");
    }
    SECTION("cirrus takes 8 or 16") {
        spec.deviceModel->vga = VgaKind::Cirrus;
        spec.deviceModel->videoRamMiB = 4;
        CHECK_THAT(validateError(spec), Catch::Contains("it must be 8 or 16 MiB"));
    }
    SECTION("five IDE devices") {
        for (uint32_t i = 2; i < 5; ++i)
            spec.disks.push_back({i, "/srv/x.img", DiskFormat::Raw, "hdb", DiskAccess::ReadWrite,
                                  DiskDevType::Disk});
        CHECK(validateError(spec) ==
              "5 disks given; at most 4 IDE devices (hda-hdd) are supported");
    }
    SECTION("vdev used twice") {
        spec.disks[1].vdev = "hda";
        CHECK(validateError(spec) == "vdev 'hda' is used by disk@0 and disk@1");
    }
    SECTION("writable cdrom") {
        spec.disks[1].access = DiskAccess::ReadWrite;
        CHECK(validateError(spec) == "disk@1 (hdc) is a cdrom, which must be read-only (ro)");
    }
    SECTION("read-only IDE disk") {
        spec.disks[0].access = DiskAccess::ReadOnly;
        CHECK_THAT(validateError(spec), Catch::Contains("read-only IDE disk"));
    }
    SECTION("not IDE") {
        spec.disks[0].vdev = "xvda";
        CHECK(validateError(spec) ==
              "disk@0: vdev 'xvda' is not an IDE device (hda, hdb, hdc or hdd)");
    }
    SECTION("relative target") {
        spec.disks[0].target = "web01.img";
        CHECK_THAT(validateError(spec), Catch::Contains("is not absolute"));
    }
    SECTION("vnc with an option smuggled in") {
        spec.deviceModel->vnc = "127.0.0.1:0,password=on";
        CHECK(validateError(spec) == "the VNC address '127.0.0.1:0,password=on' contains a comma");
    }
    SECTION("vnc host:display") {
        spec.deviceModel->vnc = "127.0.0.1:3";
        CHECK(validateError(spec).empty());
        spec.deviceModel->vnc = "127.0.0.1";
        CHECK_THAT(validateError(spec), Catch::Contains("is not 'unix:/absolute/path'"));
    }
    SECTION("platform device id") {
        spec.deviceModel->platformDeviceId = 3;
        CHECK(validateError(spec) == "platform device id 3 is not 1 or 2");
    }
    SECTION("memory in whole MiB") {
        spec.memoryBytes = 128 * kMiB + 4096;
        CHECK_THAT(validateError(spec), Catch::Contains("QEMU's -m"));
    }
}

TEST_CASE("xl DISKSPEC: the equivalent forms of xl-disk-configuration(5)") {
    const char* disks[] = {
        "/dev/vg/guest-volume,,hda",
        "/dev/vg/guest-volume,raw,hda,rw",
        "format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume",
        "raw:/dev/vg/guest-volume,hda,w",
    };
    for (const char* text : disks) {
        INFO(text);
        auto parsed = parseXlDiskSpec(text);
        REQUIRE(parsed.ok());
        CHECK(parsed->disk == DiskSpec{0, "/dev/vg/guest-volume", DiskFormat::Raw, "hda",
                                       DiskAccess::ReadWrite, DiskDevType::Disk});
    }
    const char* cdroms[] = {
        "/root/image.iso,,hdc,cdrom",
        "/root/image.iso,,hdc,,cdrom",
        "/root/image.iso,raw,hdc,devtype=cdrom",
        "format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso",
        "raw:/root/image.iso,hdc:cdrom,ro",
    };
    for (const char* text : cdroms) {
        INFO(text);
        auto parsed = parseXlDiskSpec(text);
        REQUIRE(parsed.ok());
        CHECK(parsed->disk == DiskSpec{0, "/root/image.iso", DiskFormat::Raw, "hdc",
                                       DiskAccess::ReadOnly, DiskDevType::Cdrom});
    }
}

TEST_CASE("xl DISKSPEC: details and errors") {
    SECTION("target= takes the rest, commas included") {
        auto parsed = parseXlDiskSpec("vdev=hda,target=/srv/a,b.img");
        REQUIRE(parsed.ok());
        CHECK(parsed->disk.target == "/srv/a,b.img");
    }
    SECTION("relative targets are under /dev") {
        CHECK(parseXlDiskSpec("sdb1,,hdb")->disk.target == "/dev/sdb1");
    }
    SECTION("an empty cdrom") {
        auto parsed = parseXlDiskSpec(",,hdc,cdrom");
        REQUIRE(parsed.ok());
        CHECK(parsed->disk.target.empty());
        CHECK(parsed->disk.access == DiskAccess::ReadOnly);
    }
    SECTION("qcow2") {
        CHECK(parseXlDiskSpec("/a.qcow2,qcow2,hda")->disk.format == DiskFormat::Qcow2);
    }
    SECTION("canonical form reads back") {
        auto parsed = parseXlDiskSpec("/root/image.iso,,hdc,cdrom");
        REQUIRE(parsed.ok());
        CHECK(formatXlDiskSpec(*parsed) ==
              "format=raw,vdev=hdc,access=ro,devtype=cdrom,target=/root/image.iso");
        CHECK(*parseXlDiskSpec(formatXlDiskSpec(*parsed)) == *parsed);
    }
    CHECK(xlError("/a.img") == "disk spec '/a.img': no vdev is given (e.g. hda); it is mandatory");
    CHECK(xlError("/a.img,vhd,hda") ==
          "disk spec '/a.img,vhd,hda': format 'vhd' is not supported by Basalt (raw or qcow2)");
    CHECK(xlError("/a.img,raw,hda,rw,extra") ==
          "disk spec '/a.img,raw,hda,rw,extra': too many positional parameters at 'extra'");
    CHECK(xlError("/a.img,,hda,format=raw") ==
          "disk spec '/a.img,,hda,format=raw': 'format' is given twice");
    CHECK(xlError("/a.img,,hda,x") ==
          "disk spec '/a.img,,hda,x': access 'x' is not ro, r, rw or w");
    CHECK(xlError("/a.img,,hda,script=iscsi") ==
          "disk spec '/a.img,,hda,script=iscsi': 'script' is not supported by Basalt");
    CHECK(xlError("/a.img,,hda,colour=red") ==
          "disk spec '/a.img,,hda,colour=red': unknown key 'colour'");
    CHECK(xlError(",,hda") == "disk spec ',,hda': no target is given; only a cdrom may be empty");
    CHECK(
        xlError("/a.img,,hda,devtype=floppy") ==
        "disk spec '/a.img,,hda,devtype=floppy': devtype 'floppy' is not supported (only 'cdrom')");
}

TEST_CASE("QEMU's command line follows libxl for qemu-xen") {
    DomainSpec spec = dmSpec();
    spec.deviceModel->platformDeviceId = 2;
    const auto args = buildQemuArgs(spec, {7, "/run/basalt/qemu-7/qmp.sock"});
    CHECK(hasPair(args, "-xen-domid", "7"));
    CHECK(hasPair(args, "-machine", "xenfv,suppress-vmdesc=on"));
    CHECK(hasPair(args, "-m", "128"));
    CHECK(hasPair(args, "-smp", "2"));
    CHECK(hasPair(args, "-device", "VGA,vgamem_mb=16"));
    CHECK(hasPair(args, "-serial", "pty"));
    CHECK(hasPair(args, "-vnc", "unix:/run/basalt/web01.vnc"));
    CHECK(hasPair(args, "-display", "none"));
    CHECK(hasPair(args, "-device", "usb-tablet"));
    CHECK(hasPair(args, "-net", "none"));
    CHECK(hasPair(args, "-drive",
                  "file=/srv/web01.img,if=ide,index=0,media=disk,format=raw,cache=writeback"));
    // hdc is libxl's device number 22 << 8; the path's comma is doubled.
    CHECK(hasPair(args, "-drive",
                  "if=none,readonly=on,id=ide-5632,file=/srv/tools,,1.iso,format=raw"));
    CHECK(hasPair(args, "-device", "ide-cd,id=ide-5632,drive=ide-5632,bus=ide.1,unit=0"));
    CHECK(hasPair(args, "-device", "xen-pvdevice,device-id=0x0002"));
    CHECK(hasPair(args, "-chardev",
                  "socket,id=basalt-qmp,path=/run/basalt/qemu-7/qmp.sock,server=on,wait=off"));
    CHECK(std::count(args.begin(), args.end(), "-nodefaults") == 1);

    // xl's xen_platform_pci=0: libxl's plain pc machine on the Xen accelerator.
    DomainSpec noPlatform = spec;
    noPlatform.deviceModel->xenPlatformPci = false;
    CHECK(hasPair(buildQemuArgs(noPlatform, {7, "/run/qmp.sock"}), "-machine",
                  "pc,accel=xen,suppress-vmdesc=on"));
    CHECK(std::count(args.begin(), args.end(), "-no-user-config") == 1);

    spec.deviceModel->vga = VgaKind::Cirrus;
    spec.deviceModel->videoRamMiB = 8;
    spec.deviceModel->vnc.reset();
    spec.vcpus = 1;
    spec.deviceModel->platformDeviceId = 1;
    spec.mmioHoleStart = 0xE0000000;
    const auto cirrus = buildQemuArgs(spec, {1, "/q"});
    CHECK(hasPair(cirrus, "-device", "cirrus-vga,vgamem_mb=8"));
    CHECK(hasPair(cirrus, "-vnc", "none"));
    CHECK(hasPair(cirrus, "-machine", "xenfv,suppress-vmdesc=on,max-ram-below-4g=3758096384"));
    CHECK(std::find(cirrus.begin(), cirrus.end(), "-smp") == cirrus.end());
    CHECK(std::find(cirrus.begin(), cirrus.end(), "xen-pvdevice,device-id=0x0002") == cirrus.end());
}
