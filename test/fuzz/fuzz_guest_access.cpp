// Fuzzes the paths every guest-controlled address takes in the core: guest
// memory accesses by guest-physical address (GuestMemory over a PhysMap with
// RAM below and above the MMIO hole, the VGA hole and a ROM) and trap-bus
// dispatch of port I/O (any port, size, direction and rep count) and MMIO.
// The input is a list of operations; each must fail cleanly or succeed, and
// a write that succeeded must read back.

#include "npt/guest_memory.h"
#include "npt/phys_map.h"
#include "test/fuzz/fuzz_seeds.h"
#include "test/unit/npt/fake_memslot_backend.h"
#include "vmm/io_bus.h"

#include <cstdlib>
#include <cstring>

using namespace basalt;

namespace {

constexpr uint64_t kRamBytes = 8ull << 20;
constexpr uint64_t kHoleStart = 4ull << 20; // 4 MiB low, 4 MiB above 4 GiB
constexpr uint64_t kRomGpa = 0xFFFF0000;
constexpr uint64_t kMaxLen = 64 * 1024;

// Reads fixed-size fields from the input; zero once it runs out.
struct Reader {
    const uint8_t* data;
    size_t size;
    template <typename T> T take() {
        T v{};
        size_t n = std::min(sizeof v, size);
        std::memcpy(&v, data, n);
        data += n;
        size -= n;
        return v;
    }
};

class EchoDevice : public BusDevice {
public:
    void read(uint64_t offset, std::span<uint8_t> data) override {
        std::memset(data.data(), static_cast<int>(offset ^ last_), data.size());
    }
    void write(uint64_t, std::span<const uint8_t> data) override { last_ = data[0]; }

private:
    uint8_t last_ = 0;
};

struct World {
    npt::test::FakeMemslotBackend backend;
    std::unique_ptr<npt::PhysMap> map;
    std::unique_ptr<npt::GuestMemory> memory;
    IoBus bus;

    World() {
        auto created = npt::PhysMap::create(backend, kRamBytes, kHoleStart);
        if (!created.ok())
            std::abort();
        map = std::move(created.value());
        std::vector<uint8_t> rom(0x10000, 0x90);
        if (!map->addRom(kRomGpa, rom, "rom").ok())
            std::abort();
        memory = std::make_unique<npt::GuestMemory>(*map);
        auto dev = std::make_shared<EchoDevice>();
        (void)bus.add(AddressSpace::Pio, 0x3F8, 8, dev, "uart");
        (void)bus.add(AddressSpace::Mmio, 0xFEC00000, 0x1000, dev, "ioapic");
    }
};

// Addresses near the interesting edges: 0, the VGA hole, the hole start,
// 4 GiB, the end of RAM, the ROM, and the top of the address space.
uint64_t pickAddress(Reader& in) {
    static const uint64_t bases[] = {0,       0x9F000,      0xA0000,    0xBFFFF,
                                     0xC0000, kHoleStart,   1ull << 32, (1ull << 32) + (4ull << 20),
                                     kRomGpa, ~0ull - 0xFFF};
    uint8_t which = in.take<uint8_t>();
    int32_t delta = in.take<int16_t>();
    return bases[which % std::size(bases)] + static_cast<uint64_t>(static_cast<int64_t>(delta));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static World world; // mapping 8 MiB per input would dominate the run time
    Reader in{data, size};
    std::vector<uint8_t> buffer(kMaxLen), check(kMaxLen);
    for (int op = 0; op < 32 && in.size > 0; ++op) {
        uint8_t kind = in.take<uint8_t>() % 6;
        uint64_t gpa = pickAddress(in);
        uint64_t len = in.take<uint16_t>() % (kMaxLen + 1);
        switch (kind) {
        case 0:
            (void)world.memory->read(gpa, {buffer.data(), len});
            break;
        case 1:
            std::memset(buffer.data(), op, len);
            if (world.memory->write(gpa, {buffer.data(), len}).ok()) {
                if (!world.memory->read(gpa, {check.data(), len}).ok() ||
                    std::memcmp(buffer.data(), check.data(), len) != 0)
                    std::abort(); // a successful write must read back
            }
            break;
        case 2:
            (void)world.memory->copy(pickAddress(in), gpa, len);
            break;
        case 3:
            (void)world.memory->fill(gpa, static_cast<uint8_t>(op), len);
            break;
        case 4: {
            static const uint8_t sizes[] = {1, 2, 4};
            uint8_t ioSize = sizes[in.take<uint8_t>() % 3];
            uint32_t count = 1 + in.take<uint8_t>() % 64;
            auto port = static_cast<uint16_t>(0x3F0 + in.take<uint8_t>() % 32);
            world.bus.handlePio(port, ioSize, in.take<uint8_t>() & 1, count, buffer.data());
            break;
        }
        case 5: {
            uint8_t mmioLen = 1 + in.take<uint8_t>() % 8;
            uint64_t addr = 0xFEC00000 + (gpa & 0x1FFF) - 0x800;
            if (in.take<uint8_t>() & 1)
                world.bus.write(AddressSpace::Mmio, addr, {buffer.data(), mmioLen});
            else
                world.bus.read(AddressSpace::Mmio, addr, {buffer.data(), mmioLen});
            break;
        }
        }
    }
    return 0;
}

std::vector<std::vector<uint8_t>> basalt::fuzz::seeds() {
    return {
        {0, 0, 0, 0, 0x10, 0},           // read 16 bytes at 0
        {1, 1, 0xFF, 0xFF, 0x00, 0x10},  // write across the start of the VGA hole
        {1, 5, 0xF0, 0xFF, 0x20, 0x00},  // write across the MMIO hole start
        {1, 8, 0, 0, 4, 0},              // write to ROM
        {2, 6, 0, 0, 0, 0x10, 0, 0, 0},  // copy from high RAM to low
        {4, 0, 0, 0, 0, 0, 2, 63, 8, 1}, // rep outs to the UART
        {5, 0, 0, 0, 0, 0, 8, 1},        // 8-byte MMIO write
    };
}
