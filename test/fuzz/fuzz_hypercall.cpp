// Fuzzes the Xen hypercall dispatcher (vmm/xen) the way a hostile guest
// drives it: arbitrary registers (hypercall number, arguments, paging state,
// 32- or 64-bit mode, CPL) and arbitrary contents of guest memory, which is
// where every argument structure and guest page table lives. The core must
// answer every input with a result in rax and never crash, hang or touch
// memory outside the guest's.

#include "npt/guest_memory.h"
#include "npt/phys_map.h"
#include "test/fuzz/fuzz_seeds.h"
#include "test/unit/npt/fake_memslot_backend.h"
#include "vmm/console.h"
#include "vmm/xen/xen_platform.h"

#include <cstdlib>
#include <cstring>

using namespace basalt;

namespace {

constexpr uint64_t kRamBytes = 4ull << 20;
// Input layout: the registers, then bytes copied into guest memory at
// kMemoryWindow (where the fuzzer's pointers most often land).
constexpr uint64_t kMemoryWindow = 0x10000;
constexpr size_t kMaxMemoryBytes = 64 * 1024;

struct RawRegisters {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, r8, r10, cr0, cr3, cr4, efer;
    uint8_t mode; // bit 0: long mode; bit 1: CPL 3
};

struct World {
    npt::test::FakeMemslotBackend backend;
    std::unique_ptr<npt::PhysMap> map;
    std::unique_ptr<npt::GuestMemory> memory;
    std::unique_ptr<Console> console;
    std::unique_ptr<xen::XenPlatform> xen;

    World() {
        auto created = npt::PhysMap::create(backend, kRamBytes);
        if (!created.ok())
            std::abort();
        map = std::move(created.value());
        memory = std::make_unique<npt::GuestMemory>(*map);
        auto opened = Console::open("", false);
        if (!opened.ok())
            std::abort();
        console = std::move(opened.value());
        xen::XenPlatformConfig config{1, 2, [](uint32_t, bool) {}};
        // No vCPU threads either: VCPUOP_initialise/up/down reach the
        // context parser and the state machine, and the hook does nothing.
        config.vcpuControl.load = [](uint32_t, const xen::VcpuContext&) {};
        config.vcpuControl.setOnline = [](uint32_t, bool) {};
        config.contextPolicy.cr4ValidBits = ~0ull;
        config.contextPolicy.longMode = config.contextPolicy.nx = true;
        xen = std::make_unique<xen::XenPlatform>(config, *map, *memory, *console,
                                                 [](xen::ShutdownReason, uint32_t) {});
        // No vCPU thread exists to wake a SCHEDOP_block or an untimed poll:
        // hold the vCPUs so those return at once instead of sleeping.
        xen->holdVcpus(true);
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static World world; // the platform state carries over, as in a long-lived guest
    RawRegisters raw{};
    std::memcpy(&raw, data, std::min(size, sizeof raw));
    if (size > sizeof raw) {
        size_t n = std::min(size - sizeof raw, kMaxMemoryBytes);
        (void)world.memory->write(kMemoryWindow, {data + sizeof raw, n});
    }
    // Bias the number towards real hypercalls so handlers get exercised.
    uint64_t number = raw.rax & 0x8000 ? raw.rax : raw.rax % 48;
    xen::XenPlatform::HypercallRegisters regs{number,
                                              raw.rbx,
                                              raw.rcx,
                                              raw.rdx,
                                              raw.rsi,
                                              raw.rdi,
                                              raw.r8,
                                              raw.r10,
                                              raw.cr0,
                                              raw.cr3,
                                              raw.cr4,
                                              raw.efer,
                                              (raw.mode & 1) != 0,
                                              static_cast<uint8_t>((raw.mode & 2) ? 3 : 0)};
    (void)world.xen->dispatch(raw.mode >> 2 & 1, regs);
    return 0;
}

std::vector<std::vector<uint8_t>> basalt::fuzz::seeds() {
    auto seed = [](uint64_t nr, uint64_t a1, uint64_t a2, bool longMode) {
        RawRegisters r{};
        r.rax = nr;
        if (longMode) {
            r.rdi = a1;
            r.rsi = a2;
        } else {
            r.rbx = a1;
            r.rcx = a2;
        }
        r.mode = longMode ? 1 : 0;
        std::vector<uint8_t> bytes(sizeof r + 64, 0);
        std::memcpy(bytes.data(), &r, sizeof r);
        return bytes;
    };
    return {
        seed(17, 0, 0, false),             // xen_version(version)
        seed(17, 6, kMemoryWindow, true),  // xen_version(get_features, buffer)
        seed(34, 1, kMemoryWindow, false), // hvm_op(get_param)
        seed(34, 0, kMemoryWindow, true),  // hvm_op(set_param)
        seed(13, kMemoryWindow, 2, true),  // multicall of two entries
        seed(18, 0, 16, false),            // console_io(write)
        seed(12, 2, kMemoryWindow, false), // memory_op(memory_map)
        seed(32, 6, kMemoryWindow, true),  // event_channel_op(alloc_unbound)
        seed(20, 2, kMemoryWindow, false), // grant_table_op(setup_table)
    };
}
