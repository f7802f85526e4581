#include "test/unit/builder/spec_tree.h"
#include "vmm/builder/domain_spec.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <unistd.h>

using namespace basalt;
using namespace basalt::test;

namespace {

constexpr uint64_t kMiB = 1024 * 1024;

DomainSpec minimalSpec() {
    DomainSpec spec;
    spec.name = "test";
    spec.memoryBytes = 64 * kMiB;
    spec.vcpus = 2;
    spec.kernel.path = "/guests/hello.elf";
    spec.kernel.entryMode = EntryMode::Protected;
    return spec;
}

DomainSpec fullSpec() {
    DomainSpec spec = minimalSpec();
    spec.name = "web01";
    spec.memoryBytes = 6ull << 30; // above the hole too
    spec.vcpus = 4;
    spec.mmioHoleStart = 0xE0000000;
    spec.kernel.entryMode = EntryMode::Long;
    spec.kernel.loadAddress = 0x200000;
    spec.consoleLogPath = "/var/log/basalt/web01.log";
    spec.testExitPort = 0xF4;
    spec.testDirtyPort = 0x100;
    return spec;
}

// The error message of a failed parse, or "" if it succeeded.
std::string parseError(const Bytes& blob) {
    auto spec = parseSpecBlob(blob);
    return spec ? std::string() : spec.error().message;
}

std::string validateError(const DomainSpec& spec) {
    auto status = validateSpec(spec);
    return status ? std::string() : status.error().message;
}

std::string treeError(const TreeNode& tree) {
    return parseError(serialize(tree));
}

// A temporary file removed at scope exit.
struct TempFile {
    std::string path;
    explicit TempFile(const Bytes& content) {
        char name[] = "/tmp/basalt-spec-XXXXXX";
        int fd = mkstemp(name);
        REQUIRE(fd >= 0);
        REQUIRE(write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
        close(fd);
        path = name;
    }
    ~TempFile() { unlink(path.c_str()); }
};

} // namespace

TEST_CASE("spec blob round trip", "[domain_spec]") {
    for (const DomainSpec& spec : {minimalSpec(), fullSpec()}) {
        auto blob = buildSpecBlob(spec);
        REQUIRE(blob.ok());
        auto parsed = parseSpecBlob(*blob);
        REQUIRE(parsed.ok());
        CHECK(*parsed == spec);
    }
}

TEST_CASE("spec blob with each entry mode", "[domain_spec]") {
    for (EntryMode mode : {EntryMode::Real, EntryMode::Protected, EntryMode::Long}) {
        DomainSpec spec = minimalSpec();
        spec.kernel.entryMode = mode;
        auto blob = buildSpecBlob(spec);
        REQUIRE(blob.ok());
        auto parsed = parseSpecBlob(*blob);
        REQUIRE(parsed.ok());
        CHECK(parsed->kernel.entryMode == mode);
    }
}

TEST_CASE("the test tree helper matches the writer", "[domain_spec]") {
    auto parsed = parseSpecBlob(serialize(validTree()));
    REQUIRE(parsed.ok());
    CHECK(*parsed == minimalSpec());
}

TEST_CASE("spec blob followed by stream data", "[domain_spec]") {
    auto blob = buildSpecBlob(minimalSpec());
    REQUIRE(blob.ok());
    Bytes stream = *blob;
    stream.insert(stream.end(), {1, 2, 3, 4});
    CHECK(parseError(stream).empty());
}

TEST_CASE("buildSpecBlob refuses an invalid spec", "[domain_spec]") {
    DomainSpec spec = minimalSpec();
    spec.vcpus = 0;
    CHECK_FALSE(buildSpecBlob(spec).ok());
}

TEST_CASE("malformed spec blobs", "[domain_spec]") {
    auto good = buildSpecBlob(minimalSpec());
    REQUIRE(good.ok());
    const Bytes blob = *good;

    SECTION("shorter than a header") {
        CHECK_THAT(parseError(Bytes(blob.begin(), blob.begin() + 10)),
                   Catch::Contains("smaller than an FDT header"));
        CHECK_THAT(parseError({}), Catch::Contains("truncated"));
    }
    SECTION("truncated") {
        CHECK_THAT(parseError(Bytes(blob.begin(), blob.end() - 1)),
                   Catch::Contains("truncated: its header says"));
    }
    SECTION("bad magic") {
        Bytes bad = blob;
        bad[0] ^= 0xFF;
        CHECK_THAT(parseError(bad), Catch::Contains("bad magic"));
    }
    SECTION("totalsize too big") {
        Bytes bad = blob;
        fdt_set_totalsize(bad.data(), 0x7FFFFFFF);
        CHECK_THAT(parseError(bad), Catch::Contains("truncated"));
    }
    SECTION("totalsize smaller than the header") {
        Bytes bad = blob;
        fdt_set_totalsize(bad.data(), 8);
        CHECK_THAT(parseError(bad), Catch::Contains("smaller than the header"));
    }
    SECTION("structure offset out of range") {
        Bytes bad = blob;
        fdt_set_off_dt_struct(bad.data(), 0xFFFFFF00);
        CHECK_THAT(parseError(bad), Catch::Contains("malformed"));
    }
    SECTION("string block cut short") {
        Bytes bad = blob;
        fdt_set_size_dt_strings(bad.data(), 3);
        CHECK_FALSE(parseError(bad).empty());
    }
    SECTION("garbage after the header") {
        Bytes bad = blob;
        for (size_t i = sizeof(fdt_header); i < bad.size(); ++i)
            bad[i] = static_cast<uint8_t>(i * 7);
        CHECK_FALSE(parseError(bad).empty());
    }
    SECTION("forged property length") {
        // libfdt 1.6.1 loops forever on this one without our structure check.
        Bytes bad = blob;
        int node = fdt_path_offset(bad.data(), "/domain");
        int len = 0;
        const struct fdt_property* prop = fdt_get_property(bad.data(), node, "memory", &len);
        REQUIRE(prop);
        const size_t at =
            static_cast<size_t>(reinterpret_cast<const uint8_t*>(&prop->len) - bad.data());
        for (uint32_t forged : {0xFFFFFFF4u, 0xFFFFFFFFu, 0x7FFFFFFFu, 0x1000u}) {
            const fdt32_t be = cpu_to_fdt32(forged);
            std::memcpy(bad.data() + at, &be, sizeof(be));
            CHECK_THAT(parseError(bad), Catch::Contains("past the structure block"));
        }
    }
    SECTION("old FDT version") {
        Bytes bad = blob;
        fdt_set_version(bad.data(), 16);
        CHECK_THAT(parseError(bad), Catch::Contains("version 17 is required"));
    }
    SECTION("unknown tag") {
        Bytes bad = blob;
        const fdt32_t be = cpu_to_fdt32(0x42);
        std::memcpy(bad.data() + fdt_off_dt_struct(bad.data()), &be, sizeof(be));
        CHECK_THAT(parseError(bad), Catch::Contains("unknown tag 0x42"));
    }
    SECTION("too large") {
        Bytes big(kMaxSpecBytes + 64);
        std::copy(blob.begin(), blob.end(), big.begin());
        fdt_set_totalsize(big.data(), static_cast<uint32_t>(big.size()));
        CHECK_THAT(parseError(big), Catch::Contains("at most"));
    }
}

TEST_CASE("spec blobs that break the binding", "[domain_spec]") {
    TreeNode tree = validTree();
    TreeNode& domain = tree.child("domain");
    TreeNode& kernel = domain.child("kernel");

    SECTION("missing property") {
        domain.remove("memory");
        CHECK(treeError(tree) == "/domain is missing required property 'memory'");
    }
    SECTION("missing kernel path") {
        kernel.remove("path");
        CHECK(treeError(tree) == "/domain/kernel is missing required property 'path'");
    }
    SECTION("missing compatible") {
        tree.remove("compatible");
        CHECK(treeError(tree) == "/ is missing required property 'compatible'");
    }
    SECTION("non-terminated string") {
        domain.set("name", Bytes{'w', 'e', 'b'});
        CHECK(treeError(tree) == "property 'name' in /domain must be one NUL-terminated string");
    }
    SECTION("empty string property") {
        kernel.set("path", Bytes{});
        CHECK_THAT(treeError(tree), Catch::Contains("NUL-terminated"));
    }
    SECTION("string list instead of a string") {
        domain.set("compatible", Bytes{'a', 0, 'b', 0});
        CHECK_THAT(treeError(tree), Catch::Contains("NUL-terminated"));
    }
    SECTION("wrong cell size") {
        domain.set("memory", cellU32(64));
        CHECK(treeError(tree) ==
              "property 'memory' in /domain is 4 bytes; it must be two cells (8 bytes)");
        domain.set("memory", cellU64(64 * kMiB)).set("cpus", cellU64(2));
        CHECK(treeError(tree) ==
              "property 'cpus' in /domain is 8 bytes; it must be one cell (4 bytes)");
    }
    SECTION("unknown root compatible") {
        tree.set("compatible", str("basalt,domain-spec-v2"));
        CHECK(
            treeError(tree) ==
            "unknown compatible 'basalt,domain-spec-v2' for / (expected 'basalt,domain-spec-v1')");
    }
    SECTION("unknown domain compatible") {
        domain.set("compatible", str("xen,domain"));
        CHECK_THAT(treeError(tree), Catch::Contains("unknown compatible 'xen,domain' for /domain"));
    }
    SECTION("unknown property") {
        domain.set("vpl011", Bytes{});
        CHECK(treeError(tree) == "unknown property 'vpl011' in /domain");
    }
    SECTION("unknown node") {
        domain.child("vif@0").set("compatible", str("basalt,vif"));
        CHECK(treeError(tree) == "unknown node 'vif@0' under /domain");
    }
    SECTION("child under the kernel node") {
        kernel.child("initrd");
        CHECK(treeError(tree) == "unknown node 'initrd' under /domain/kernel");
    }
    SECTION("duplicate property") {
        domain.props.emplace_back("cpus", cellU32(4));
        CHECK(treeError(tree) == "duplicate property 'cpus' in /domain");
    }
    SECTION("duplicate node") {
        tree.children.push_back(tree.children.front());
        CHECK(treeError(tree) == "duplicate node /domain");
    }
    SECTION("missing domain node") {
        tree.children.clear();
        CHECK(treeError(tree) == "the domain spec is missing required node '/domain'");
    }
    SECTION("missing kernel node") {
        domain.children.clear();
        CHECK(treeError(tree) == "/domain needs exactly one of the nodes 'kernel' and 'firmware'");
    }
    SECTION("bad entry mode") {
        kernel.set("entry-mode", str("v86"));
        CHECK(treeError(tree) == "property 'entry-mode' in /domain/kernel is 'v86'; it must be "
                                 "'real', 'protected' or 'long'");
    }
    SECTION("port out of range") {
        tree.child("test").set("compatible", str("basalt,test")).set("exit-port", cellU32(0x10000));
        CHECK_THAT(treeError(tree), Catch::Contains("is 65536, which is not an I/O port"));
    }
    SECTION("console without log path") {
        domain.child("console").set("compatible", str("basalt,console"));
        CHECK(treeError(tree) == "/domain/console is missing required property 'log-path'");
    }
    SECTION("too deep") {
        TreeNode* node = &tree.child("test");
        for (int i = 0; i < 6; ++i)
            node = &node->child("n");
        CHECK_THAT(treeError(tree), Catch::Contains("nested"));
    }
    SECTION("unprintable names are quoted safely") {
        domain.set(std::string("bad\x01name"), Bytes{});
        CHECK(treeError(tree) == "unknown property 'bad?name' in /domain");
    }
    SECTION("semantic errors are reported on parse") {
        domain.set("cpus", cellU32(0));
        CHECK_THAT(treeError(tree), Catch::Contains("at least 1 vCPU"));
    }
    SECTION("optional mmio-hole-start defaults") {
        domain.remove("mmio-hole-start");
        auto parsed = parseSpecBlob(serialize(tree));
        REQUIRE(parsed.ok());
        CHECK(parsed->mmioHoleStart == 0xF0000000);
    }
}

TEST_CASE("memory reservations are rejected", "[domain_spec]") {
    Bytes blob(4096);
    fdt_create(blob.data(), static_cast<int>(blob.size()));
    fdt_add_reservemap_entry(blob.data(), 0x1000, 0x1000);
    fdt_finish_reservemap(blob.data());
    writeNode(blob.data(), validTree());
    REQUIRE(fdt_finish(blob.data()) == 0);
    blob.resize(fdt_totalsize(blob.data()));
    CHECK(parseError(blob) == "domain spec blob has memory reservations; none are allowed");
}

TEST_CASE("validateSpec limits", "[domain_spec]") {
    DomainSpec spec = minimalSpec();
    CHECK(validateError(spec).empty());

    SECTION("no memory") {
        spec.memoryBytes = 0;
        CHECK(validateError(spec) ==
              "memory size 0 MiB is too small: a guest needs at least 1 MiB");
    }
    SECTION("too little memory") {
        spec.memoryBytes = 512 * 1024;
        CHECK(validateError(spec) ==
              "memory size 512 KiB is too small: a guest needs at least 1 MiB");
    }
    SECTION("too much memory") {
        spec.memoryBytes = 2ull << 40;
        CHECK(validateError(spec) == "memory size 2 TiB is too large: at most 1 TiB is supported");
    }
    SECTION("memory not page-sized") {
        spec.memoryBytes = 64 * kMiB + 1;
        CHECK(validateError(spec) == "memory size 67108865 bytes is not a multiple of 4 KiB");
    }
    SECTION("no vcpus") {
        spec.vcpus = 0;
        CHECK(validateError(spec) == "a guest needs at least 1 vCPU; the spec asks for 0");
    }
    SECTION("too many vcpus") {
        spec.vcpus = 129;
        CHECK(validateError(spec) == "129 vCPUs is more than the maximum of 128");
        spec.vcpus = 128;
        CHECK(validateError(spec).empty());
    }
    SECTION("names") {
        spec.name = "";
        CHECK(validateError(spec) == "the domain name is empty");
        spec.name = std::string(65, 'a');
        CHECK_THAT(validateError(spec), Catch::Contains("at most 64"));
        spec.name = "tab\there";
        CHECK_THAT(validateError(spec), Catch::Contains("printable"));
    }
    SECTION("paths") {
        spec.kernel.path = "";
        CHECK(validateError(spec) == "the kernel path is empty");
        spec.kernel.path = std::string(5000, 'p');
        CHECK_THAT(validateError(spec), Catch::Contains("at most 4095"));
        spec.kernel.path = "/k";
        spec.consoleLogPath = "";
        CHECK(validateError(spec) == "the console log path is empty");
    }
    SECTION("mmio hole") {
        spec.mmioHoleStart = 0xF0000001;
        CHECK_THAT(validateError(spec), Catch::Contains("MMIO hole start 0xf0000001 is invalid"));
        spec.mmioHoleStart = 0xFEE00000;
        CHECK_FALSE(validateError(spec).empty());
        spec.mmioHoleStart = 0x8000000;
        CHECK_FALSE(validateError(spec).empty());
    }
    SECTION("entry mode") {
        spec.kernel.entryMode = static_cast<EntryMode>(7);
        CHECK_THAT(validateError(spec), Catch::Contains("entry mode is invalid"));
    }
    SECTION("load address") {
        spec.kernel.loadAddress = 64 * kMiB;
        CHECK(validateError(spec) == "kernel load address 0x4000000 is beyond the end of RAM "
                                     "below the MMIO hole (0x4000000)");
        spec.memoryBytes = 8ull << 30;
        spec.kernel.loadAddress = 0xF0000000;
        CHECK_THAT(validateError(spec), Catch::Contains("beyond the end of RAM"));
        spec.kernel.loadAddress = 0x100000;
        spec.kernel.entryMode = EntryMode::Real;
        CHECK(validateError(spec) ==
              "kernel load address 0x100000 is not below 1 MiB, which real mode requires");
    }
    SECTION("ports") {
        spec.testExitPort = 0xE9;
        CHECK(validateError(spec) == "test exit ports 0xe9-0xec include the console port 0xe9");
        spec.testExitPort = 0xE6; // a 32-bit exit port at 0xE6 would swallow 0xE9
        CHECK(validateError(spec) == "test exit ports 0xe6-0xe9 include the console port 0xe9");
        spec.testExitPort = 0xFFFE;
        CHECK_THAT(validateError(spec), Catch::Contains("past the last I/O port"));
        spec.testExitPort = 0xFC;
        spec.testDirtyPort = 0xF0; // the exit port's 0xFC-0xFF fall inside the probe
        CHECK(validateError(spec) == "test dirty ports 0xf0-0xff include the test exit port 0xfc");
        spec.testDirtyPort = 0xED; // the probe's 0xED-0xFC reach the exit port
        CHECK(validateError(spec) == "test dirty ports 0xed-0xfc include the test exit port 0xfc");
        spec.testExitPort = 0xF4;
        spec.testDirtyPort = 0xF0;
        CHECK(validateError(spec) == "test dirty ports 0xf0-0xff include the test exit port 0xf4");
        spec.testDirtyPort = 0xE0;
        CHECK(validateError(spec) == "test dirty ports 0xe0-0xef include the console port 0xe9");
        spec.testDirtyPort = 0xFFF8;
        CHECK_THAT(validateError(spec), Catch::Contains("past the last I/O port"));
        spec.testDirtyPort = 0x100;
        CHECK(validateError(spec).empty());
    }
}

TEST_CASE("loadSpecFile", "[domain_spec]") {
    auto blob = buildSpecBlob(fullSpec());
    REQUIRE(blob.ok());

    SECTION("round trip") {
        TempFile file(*blob);
        auto spec = loadSpecFile(file.path);
        REQUIRE(spec.ok());
        CHECK(*spec == fullSpec());
    }
    SECTION("missing file") {
        auto spec = loadSpecFile("/nonexistent/spec.dtb");
        REQUIRE_FALSE(spec.ok());
        CHECK(spec.error().message ==
              "cannot read domain spec '/nonexistent/spec.dtb': No such file or directory");
        CHECK(spec.error().code == ENOENT);
    }
    SECTION("directory") {
        auto spec = loadSpecFile("/tmp");
        REQUIRE_FALSE(spec.ok());
        CHECK_THAT(spec.error().message, Catch::Contains("not a regular file"));
    }
    SECTION("trailing bytes") {
        Bytes padded = *blob;
        padded.push_back(0);
        TempFile file(padded);
        auto spec = loadSpecFile(file.path);
        REQUIRE_FALSE(spec.ok());
        CHECK_THAT(spec.error().message,
                   Catch::Contains("has trailing data after the device tree (1 bytes)"));
    }
    SECTION("parse errors name the file") {
        Bytes bad = *blob;
        bad[0] = 0;
        TempFile file(bad);
        auto spec = loadSpecFile(file.path);
        REQUIRE_FALSE(spec.ok());
        CHECK(spec.error().message.rfind("domain spec '" + file.path + "': ", 0) == 0);
    }
}
