// SMBIOS strings (vmm/builder/smbios_strings.h): xl's KEY=VALUE entries, their
// checks, the spec's firmware/smbios node and the bios-strings/* keys
// hvmloader reads.
#include "firmware/hvmloader_keys.h"
#include "test/unit/builder/spec_tree.h"
#include "vmm/builder/domain_spec.h"
#include "vmm/builder/smbios_strings.h"

#include <catch2/catch.hpp>

#include <map>

using namespace basalt;
using namespace basalt::test;

namespace {

SmbiosStrings addAll(std::initializer_list<const char*> entries) {
    SmbiosStrings strings;
    for (const char* entry : entries) {
        Status added = addSmbiosEntry(strings, entry);
        INFO(entry << ": " << (added.ok() ? std::string() : added.error().message));
        REQUIRE(added.ok());
    }
    return strings;
}

std::string addError(SmbiosStrings strings, const std::string& entry) {
    Status added = addSmbiosEntry(strings, entry);
    REQUIRE_FALSE(added.ok());
    CHECK(added.error().code == EINVAL);
    return added.error().message;
}

DomainSpec firmwareSpec(SmbiosStrings strings) {
    DomainSpec spec;
    spec.name = "guest";
    spec.memoryBytes = 64ull << 20;
    FirmwareSpec firmware;
    firmware.smbios = std::move(strings);
    spec.firmware = std::move(firmware);
    return spec;
}

// validTree() with the kernel swapped for firmware and an smbios node.
TreeNode smbiosTree(std::vector<std::pair<std::string, std::string>> props) {
    TreeNode root = validTree();
    TreeNode& domain = root.child("domain");
    std::erase_if(domain.children, [](const TreeNode& n) { return n.name == "kernel"; });
    TreeNode& firmware = domain.child("firmware");
    firmware.set("compatible", str("basalt,hvmloader"))
        .set("path", str("/usr/lib/xen-4.17/boot/hvmloader"))
        .set("bios", str("seabios"))
        .set("bios-path", str("/usr/share/seabios/bios-256k.bin"));
    TreeNode& smbios = firmware.child("smbios");
    for (auto& [name, value] : props)
        smbios.props.emplace_back(name, str(value));
    return root;
}

Result<DomainSpec> parseTree(const TreeNode& tree) {
    const Bytes blob = serialize(tree);
    return parseSpecBlob(blob);
}

} // namespace

TEST_CASE("smbios entries: xl's keys become hvmloader's", "[smbios]") {
    auto strings = addAll({"bios_vendor=Acme Corp.", "System_Serial_Number=XYZ-1", "oem=first",
                           "battery_device_name=BAT0", "oem=second=with=equals"});
    const SmbiosStrings expected = {{"bios-vendor", "Acme Corp."},
                                    {"system-serial-number", "XYZ-1"},
                                    {"oem-1", "first"},
                                    {"battery-device-name", "BAT0"},
                                    {"oem-2", "second=with=equals"}};
    CHECK(strings == expected);
    CHECK(smbiosKeyFromXlName("baseboard_location_in_chassis") == "baseboard-location-in-chassis");
    CHECK(smbiosKeyFromXlName("bios-vendor").empty()); // xl spells it with underscores
    CHECK(smbiosKeyFromXlName("oem").empty());
    CHECK(smbiosXenstorePath(expected[0]) == "bios-strings/bios-vendor");
    CHECK(smbiosXenstorePath(expected[2]) == "bios-strings/oem-1");
    CHECK(validateSmbiosStrings(strings).ok());
}

TEST_CASE("smbios entries: malformed ones are refused with a reason", "[smbios]") {
    CHECK_THAT(addError({}, "bios_vendor"), Catch::Contains("is not KEY=VALUE"));
    CHECK_THAT(addError({}, "bios_vendr=x"),
               Catch::Contains("key 'bios_vendr' is unknown; it must be one of bios_vendor"));
    CHECK_THAT(addError({}, "=x"), Catch::Contains("key '' is unknown"));
    CHECK_THAT(addError({}, "bios_vendor="), Catch::Contains("empty value not allowed"));
    CHECK_THAT(addError({}, "oem="), Catch::Contains("empty value not allowed"));
    CHECK_THAT(addError({}, "bios_vendor=tab\there"), Catch::Contains("printable ASCII"));
    CHECK_THAT(addError({}, std::string("bios_vendor=nul\0here", 20)),
               Catch::Contains("printable ASCII"));
    CHECK_THAT(addError({}, "bios_vendor=caf\xc3\xa9"), Catch::Contains("printable ASCII"));
    CHECK_THAT(addError({}, "system_version=" + std::string(kMaxSmbiosValueLength + 1, 'v')),
               Catch::Contains("513 bytes; at most 512"));

    auto vendor = addAll({"bios_vendor=a"});
    CHECK_THAT(addError(vendor, "BIOS_VENDOR=b"), Catch::Contains("is given twice"));

    SmbiosStrings full;
    for (size_t i = 0; i < kMaxSmbiosOemStrings; ++i)
        REQUIRE(addSmbiosEntry(full, "oem=o" + std::to_string(i)).ok());
    CHECK(full.back().key == "oem-99");
    CHECK_THAT(addError(full, "oem=one too many"), Catch::Contains("at most 99 OEM strings"));
}

TEST_CASE("smbios entries: the longest value is accepted", "[smbios]") {
    auto strings = addAll({});
    const std::string longest(kMaxSmbiosValueLength, '~');
    REQUIRE(addSmbiosEntry(strings, "enclosure_asset_tag=" + longest).ok());
    CHECK(strings.at(0).value == longest);
}

TEST_CASE("validateSmbiosStrings: keys, order and values from a spec", "[smbios]") {
    CHECK(validateSmbiosStrings({}).ok());
    CHECK(validateSmbiosStrings({{"oem-1", "a"}, {"bios-version", "1"}, {"oem-2", "b"}}).ok());
    auto error = [](const SmbiosStrings& strings) {
        Status status = validateSmbiosStrings(strings);
        REQUIRE_FALSE(status.ok());
        return status.error().message;
    };
    CHECK_THAT(error({{"bios_vendor", "a"}}), Catch::Contains("'bios_vendor' is unknown"));
    CHECK_THAT(error({{"oem-2", "a"}}), Catch::Contains("out of order"));
    CHECK_THAT(error({{"oem-1", "a"}, {"oem-01", "b"}}), Catch::Contains("out of order"));
    CHECK_THAT(error({{"oem-0", "a"}}), Catch::Contains("out of order"));
    CHECK_THAT(error({{"bios-vendor", "a"}, {"bios-vendor", "b"}}), Catch::Contains("given twice"));
    CHECK_THAT(error({{"system-version", ""}}), Catch::Contains("empty value"));
    CHECK_THAT(error({{"system-version", "a\nb"}}), Catch::Contains("printable ASCII"));
}

TEST_CASE("hvmloader keys: the SMBIOS strings land under bios-strings/", "[smbios]") {
    FirmwareSpec fw;
    auto none = firmware::hvmloaderKeys(fw, boot::kDefaultMmioHoleStart);
    for (const auto& [path, value] : none)
        CHECK(path.rfind("bios-strings/", 0) != 0);

    fw.smbios =
        addAll({"bios_vendor=BasaltTest", "system_serial_number=SN-12345", "oem=one", "oem=two"});
    auto keys = firmware::hvmloaderKeys(fw, boot::kDefaultMmioHoleStart);
    std::map<std::string, std::string> byPath(keys.begin(), keys.end());
    CHECK(byPath.at("bios-strings/bios-vendor") == "BasaltTest");
    CHECK(byPath.at("bios-strings/system-serial-number") == "SN-12345");
    CHECK(byPath.at("bios-strings/oem-1") == "one");
    CHECK(byPath.at("bios-strings/oem-2") == "two");
    CHECK(byPath.at("hvmloader/bios") == "seabios");
    CHECK(keys.size() == none.size() + 4);
}

TEST_CASE("spec blob: the smbios node round-trips", "[smbios]") {
    const DomainSpec spec = firmwareSpec(
        addAll({"system_manufacturer=Acme", "oem=a b c", "baseboard_asset_tag=TAG 7"}));
    auto blob = buildSpecBlob(spec);
    REQUIRE(blob.ok());
    auto parsed = parseSpecBlob(*blob);
    INFO((parsed.ok() ? std::string() : parsed.error().message));
    REQUIRE(parsed.ok());
    CHECK(*parsed == spec);

    // No strings: no node, and the blob is what it was before SMBIOS support.
    auto plain = buildSpecBlob(firmwareSpec({}));
    REQUIRE(plain.ok());
    const std::string text(plain->begin(), plain->end());
    CHECK(text.find("smbios") == std::string::npos);

    SmbiosStrings bad = {{"bios-vendor", "a\x01"}};
    CHECK_FALSE(buildSpecBlob(firmwareSpec(bad)).ok());
}

TEST_CASE("spec blob: a hostile smbios node is refused", "[smbios]") {
    const std::string compatible = "basalt,smbios-strings";
    auto ok = parseTree(smbiosTree({{"compatible", compatible}, {"bios-vendor", "V"}}));
    REQUIRE(ok.ok());
    CHECK(ok->firmware->smbios == SmbiosStrings{{"bios-vendor", "V"}});

    auto error = [](const TreeNode& tree) {
        auto parsed = parseTree(tree);
        REQUIRE_FALSE(parsed.ok());
        return parsed.error().message;
    };
    CHECK_THAT(error(smbiosTree({{"bios-vendor", "V"}})),
               Catch::Contains("/domain/firmware/smbios is missing required property "
                               "'compatible'"));
    CHECK_THAT(error(smbiosTree({{"compatible", "basalt,other"}})),
               Catch::Contains("unknown compatible 'basalt,other'"));
    CHECK_THAT(error(smbiosTree({{"compatible", compatible}, {"compatible", compatible}})),
               Catch::Contains("duplicate property 'compatible'"));
    CHECK_THAT(error(smbiosTree({{"compatible", compatible}, {"chassis-color", "red"}})),
               Catch::Contains("'chassis-color' is unknown"));
    CHECK_THAT(
        error(smbiosTree({{"compatible", compatible}, {"bios-vendor", "a"}, {"bios-vendor", "b"}})),
        Catch::Contains("duplicate property 'bios-vendor'"));
    CHECK_THAT(error(smbiosTree({{"compatible", compatible}, {"oem-2", "x"}, {"oem-1", "y"}})),
               Catch::Contains("out of order"));
    CHECK_THAT(error(smbiosTree({{"compatible", compatible}, {"bios-version", "\x7f"}})),
               Catch::Contains("printable ASCII"));

    TreeNode twoStrings = smbiosTree({{"compatible", compatible}});
    twoStrings.child("domain")
        .child("firmware")
        .child("smbios")
        .props.emplace_back("bios-vendor", Bytes{'a', 0, 'b', 0});
    CHECK_THAT(error(twoStrings), Catch::Contains("must be one NUL-terminated string"));

    TreeNode nested = smbiosTree({{"compatible", compatible}});
    nested.child("domain").child("firmware").child("smbios").child("deeper");
    CHECK_THAT(error(nested), Catch::Contains("unknown node 'deeper'"));

    TreeNode other = smbiosTree({{"compatible", compatible}});
    other.child("domain").child("firmware").child("acpi");
    CHECK_THAT(error(other), Catch::Contains("unknown node 'acpi' under /domain/firmware"));
}
