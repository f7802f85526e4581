// The domain UUID (vmm/builder/domain_uuid.h): its text form, the spec's
// uuid property, --uuid and xl.cfg uuid=, the default made once, and the
// bytes XENVER_guest_handle gives the guest.

#include "npt/guest_memory.h"
#include "npt/phys_map.h"
#include "test/unit/builder/spec_tree.h"
#include "test/unit/npt/fake_memslot_backend.h"
#include "toolstack/xlcfg/xl_config_file.h"
#include "toolstack/xlcfg/xl_domain_config.h"
#include "vmm/builder/domain_spec.h"
#include "vmm/builder/domain_uuid.h"
#include "vmm/console.h"
#include "vmm/options.h"
#include "vmm/xen/xen_headers.h"
#include "vmm/xen/xen_platform.h"

#include <catch2/catch.hpp>

#include <set>
#include <unistd.h>

using namespace basalt;
using namespace basalt::test;

namespace {

constexpr const char* kText = "00112233-4455-6677-8899-aabbccddeeff";
constexpr DomainUuid kBytes = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                               0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

std::string parseError(std::string_view text) {
    auto uuid = parseDomainUuid(text);
    REQUIRE_FALSE(uuid.ok());
    CHECK(uuid.error().code == EINVAL);
    return uuid.error().message;
}

Result<DomainSpec> parseTree(const TreeNode& tree) {
    const Bytes blob = serialize(tree);
    return parseSpecBlob(blob);
}

DomainSpec kernelSpec() {
    DomainSpec spec;
    spec.name = "guest";
    spec.memoryBytes = 64ull << 20;
    spec.kernel.path = "/guests/hello.elf";
    return spec;
}

Result<VmmOptions> parseConfig(const std::string& text, std::vector<std::string> flags = {}) {
    char path[] = "/tmp/basalt-uuid-XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    close(fd);
    std::vector<std::string> args = {"--config", path, "--write-spec", "/tmp/unused"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto o = parseVmmOptions(args);
    unlink(path);
    return o;
}

} // namespace

TEST_CASE("domain uuid: the canonical form, bytes in string order", "[uuid]") {
    auto uuid = parseDomainUuid(kText);
    REQUIRE(uuid.ok());
    CHECK(*uuid == kBytes);
    CHECK(formatDomainUuid(*uuid) == kText);
    // Either case in, lower case out (as libxl prints it).
    auto upper = parseDomainUuid("00112233-4455-6677-8899-AABBCCDDEEFF");
    REQUIRE(upper.ok());
    CHECK(*upper == kBytes);
    CHECK(formatDomainUuid(DomainUuid{}) == "00000000-0000-0000-0000-000000000000");
}

TEST_CASE("domain uuid: malformed text is refused with a reason", "[uuid]") {
    CHECK_THAT(parseError(""), Catch::Contains("36 characters, not 0"));
    CHECK_THAT(parseError("00112233445566778899aabbccddeeff"),
               Catch::Contains("36 characters, not 32"));
    CHECK_THAT(parseError(std::string(kText) + "0"), Catch::Contains("not 37"));
    CHECK_THAT(parseError("{0112233-4455-6677-8899-aabbccddeeff"),
               Catch::Contains("character 1 of the UUID is not a hex digit"));
    CHECK_THAT(parseError("00112233-4455-6677-8899-aabbccddeefg"),
               Catch::Contains("character 36 of the UUID is not a hex digit"));
    CHECK_THAT(parseError("001122334-455-6677-8899-aabbccddeeff"),
               Catch::Contains("character 9 of the UUID is not '-'"));
    CHECK_THAT(parseError("00112233-4455-6677-8899_aabbccddeeff"),
               Catch::Contains("character 24 of the UUID is not '-'"));
    CHECK_THAT(parseError(" 0112233-4455-6677-8899-aabbccddeeff"),
               Catch::Contains("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"));
    CHECK_THAT(parseError("00112233-4455-6677-8899-aabbccddee\xff\xff"),
               Catch::Contains("not a hex digit"));
}

TEST_CASE("domain uuid: generated ones are RFC 4122 version 4 and differ", "[uuid]") {
    std::set<DomainUuid> seen;
    for (int i = 0; i < 8; ++i) {
        auto uuid = generateDomainUuid();
        REQUIRE(uuid.ok());
        CHECK(((*uuid)[6] >> 4) == 4);      // version
        CHECK(((*uuid)[8] & 0xC0) == 0x80); // variant 10xx
        CHECK(formatDomainUuid(*uuid)[14] == '4');
        seen.insert(*uuid);
    }
    CHECK(seen.size() == 8);
}

TEST_CASE("ensureDomainUuid: made once, then kept; a given one is kept", "[uuid]") {
    DomainSpec spec = kernelSpec();
    auto made = ensureDomainUuid(spec);
    REQUIRE(made.ok());
    CHECK(*made);
    REQUIRE(spec.uuid);
    const DomainUuid first = *spec.uuid;
    // A restart rebuilds from the same spec: the second call changes nothing.
    auto again = ensureDomainUuid(spec);
    REQUIRE(again.ok());
    CHECK_FALSE(*again);
    CHECK(*spec.uuid == first);

    DomainSpec given = kernelSpec();
    given.uuid = kBytes;
    auto kept = ensureDomainUuid(given);
    REQUIRE(kept.ok());
    CHECK_FALSE(*kept);
    CHECK(*given.uuid == kBytes);
}

TEST_CASE("spec blob: the uuid property round-trips and is checked", "[uuid]") {
    DomainSpec spec = kernelSpec();
    spec.uuid = kBytes;
    auto blob = buildSpecBlob(spec);
    REQUIRE(blob.ok());
    const std::string text(blob->begin(), blob->end());
    CHECK(text.find(kText) != std::string::npos);
    auto parsed = parseSpecBlob(*blob);
    REQUIRE(parsed.ok());
    CHECK(*parsed == spec);

    // Optional: a spec without it has none (basalt-vmm makes one per run).
    auto none = parseTree(validTree());
    REQUIRE(none.ok());
    CHECK_FALSE(none->uuid);

    auto withUuid = [](Bytes value) {
        TreeNode tree = validTree();
        tree.child("domain").set("uuid", std::move(value));
        return parseTree(tree);
    };
    auto upper = withUuid(str("00112233-4455-6677-8899-AABBCCDDEEFF"));
    REQUIRE(upper.ok());
    CHECK(upper->uuid == kBytes);
    auto error = [&](Bytes value) {
        auto p = withUuid(std::move(value));
        REQUIRE_FALSE(p.ok());
        return p.error().message;
    };
    CHECK_THAT(error(str("not-a-uuid")), Catch::StartsWith("/domain/uuid: a UUID is 36"));
    CHECK_THAT(error(cellU32(7)), Catch::Contains("uuid"));
    CHECK_THAT(error(Bytes(kBytes.begin(), kBytes.end())), Catch::Contains("uuid"));
    TreeNode twice = validTree();
    twice.child("domain").props.emplace_back("uuid", str(kText));
    twice.child("domain").props.emplace_back("uuid", str(kText));
    auto dup = parseTree(twice);
    REQUIRE_FALSE(dup.ok());
    CHECK_THAT(dup.error().message, Catch::Contains("duplicate property 'uuid'"));
}

TEST_CASE("--uuid sets the spec's uuid; a bad one is refused", "[uuid][options]") {
    auto o =
        parseVmmOptions({"--kernel", "/k.elf", "--uuid", "00112233-4455-6677-8899-AABBCCDDEEFF"});
    REQUIRE(o.ok());
    CHECK(o->spec.uuid == kBytes);

    auto none = parseVmmOptions({"--kernel", "/k.elf"});
    REQUIRE(none.ok());
    CHECK_FALSE(none->spec.uuid); // made by main(), once, before the first build

    auto bad = parseVmmOptions({"--kernel", "/k.elf", "--uuid", "0011"});
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.error().message, Catch::StartsWith("--uuid '0011': a UUID is 36 characters"));
    auto withSpec = parseVmmOptions({"--spec", "/tmp/x.dtb", "--uuid", kText});
    REQUIRE_FALSE(withSpec.ok());
    CHECK(withSpec.error().message == "--uuid cannot be combined with --spec");
}

TEST_CASE("xl.cfg uuid=: checked, naming the line; a flag wins", "[uuid][xlcfg]") {
    auto file = xlcfg::parseXlConfig("name = 'a'\nuuid = '00112233-4455-6677-8899-AABBCCDDEEFF'\n");
    REQUIRE(file.ok());
    auto config = xlcfg::interpretXlConfig(*file);
    REQUIRE(config.ok());
    CHECK(config->uuid == std::string(kText));
    CHECK(config->warnings.empty());

    auto bad = xlcfg::parseXlConfig("name = 'a'\n\nuuid = '00112233-4455-6677-8899'\n");
    REQUIRE(bad.ok());
    auto refused = xlcfg::interpretXlConfig(*bad);
    REQUIRE_FALSE(refused.ok());
    CHECK_THAT(refused.error().message, Catch::StartsWith("line 3: uuid: a UUID is 36"));
    auto number = xlcfg::parseXlConfig("uuid = 12\n");
    REQUIRE(number.ok());
    auto notString = xlcfg::interpretXlConfig(*number);
    REQUIRE_FALSE(notString.ok());
    CHECK(notString.error().message == "line 1: uuid: expected a \"string\"");

    auto o = parseConfig(std::string("uuid = \"") + kText + "\"\n", {"--kernel", "/k.elf"});
    INFO((o.ok() ? std::string() : o.error().message));
    REQUIRE(o.ok());
    CHECK(o->spec.uuid == kBytes);
    const std::string other = "ffeeddcc-bbaa-4988-b766-554433221100";
    auto flag = parseConfig(std::string("uuid = \"") + kText + "\"\n",
                            {"--kernel", "/k.elf", "--uuid", other});
    REQUIRE(flag.ok());
    REQUIRE(flag->spec.uuid);
    CHECK(formatDomainUuid(*flag->spec.uuid) == other);
    auto badFile = parseConfig("\nuuid = \"nope\"\n", {"--kernel", "/k.elf"});
    REQUIRE_FALSE(badFile.ok());
    CHECK_THAT(badFile.error().message, Catch::Contains(":2: uuid: a UUID is 36"));
}

TEST_CASE("XENVER_guest_handle returns the domain's UUID bytes", "[uuid][xen]") {
    constexpr uint64_t kRam = 4ull << 20;
    constexpr uint64_t kBuffer = 0x10000;
    constexpr uint64_t kCr0ProtectedMode = 1;
    npt::test::FakeMemslotBackend backend;
    auto map = npt::PhysMap::create(backend, kRam).value();
    npt::GuestMemory memory(*map);
    auto console = Console::open("", false).value();
    auto run = [&](const std::array<uint8_t, 16>& handle) {
        xen::XenPlatformConfig config{1, 1, [](uint32_t, bool) {}};
        config.handle = handle;
        xen::XenPlatform platform(config, *map, memory, *console,
                                  [](xen::ShutdownReason, uint32_t) {});
        std::array<uint8_t, 16> poison;
        poison.fill(0x5A);
        REQUIRE(memory.write(kBuffer, poison).ok());
        // 32-bit protected mode without paging (as hvmloader runs): the
        // arguments are in EBX and ECX, the buffer address is physical.
        xen::XenPlatform::HypercallRegisters regs{};
        regs.rax = __HYPERVISOR_xen_version;
        regs.rbx = XENVER_guest_handle;
        regs.rcx = kBuffer;
        regs.cr0 = kCr0ProtectedMode;
        std::array<uint8_t, 16> out{};
        const int64_t rc = platform.dispatch(0, regs);
        REQUIRE(memory.read(kBuffer, out).ok());
        return std::pair{rc, out};
    };
    auto [rc, out] = run(kBytes);
    CHECK(rc == 0);
    CHECK(out == kBytes);
    auto [rcNil, nil] = run(DomainUuid{});
    CHECK(rcNil == 0);
    CHECK(nil == DomainUuid{});
}
