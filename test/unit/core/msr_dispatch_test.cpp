#include "vmm/msr_dispatch.h"

#include <catch2/catch.hpp>

using namespace basalt;

namespace {

struct MsrAccess {
    uint64_t result = 0;
    uint8_t error = 0;
    kvm::MsrExit exit;

    MsrAccess(uint32_t index, bool write, uint64_t value = 0) {
        exit.index = index;
        exit.isWrite = write;
        exit.value = value;
        exit.result = &result;
        exit.error = &error;
    }
};

} // namespace

TEST_CASE("MSR dispatch: handlers, deny rules and missing handlers", "[msr]") {
    MsrDispatcher msrs({
        {0x40000000, 1, MsrAction::Userspace, true, true, "hypercall page"},
        {0x480, 0x12, MsrAction::Deny, true, true, "nested VMX hidden"},
    });
    uint64_t written = 0;
    msrs.onWrite(0x40000000, [&](uint32_t, uint32_t, uint64_t v) {
        written = v;
        return true;
    });

    MsrAccess write(0x40000000, true, 0x1234000);
    msrs.handle(0, write.exit);
    CHECK(write.error == 0);
    CHECK(written == 0x1234000);

    MsrAccess read(0x40000000, false); // no read handler: #GP
    msrs.handle(0, read.exit);
    CHECK(read.error == 1);

    MsrAccess denied(0x485, false);
    msrs.handle(1, denied.exit);
    CHECK(denied.error == 1);

    MsrAccess unknown(0xC0000080, true, 1); // not in any rule: refused
    msrs.handle(0, unknown.exit);
    CHECK(unknown.error == 1);
}

TEST_CASE("MSR dispatch: read handler may refuse", "[msr]") {
    MsrDispatcher msrs({{0x40000000, 1, MsrAction::Userspace, true, true, "x"}});
    msrs.onRead(0x40000000, [](uint32_t vcpu, uint32_t) -> std::optional<uint64_t> {
        if (vcpu == 0)
            return 42;
        return std::nullopt;
    });
    MsrAccess ok(0x40000000, false);
    msrs.handle(0, ok.exit);
    CHECK(ok.error == 0);
    CHECK(ok.result == 42);
    MsrAccess refused(0x40000000, false);
    msrs.handle(1, refused.exit);
    CHECK(refused.error == 1);
}
