// Fuzzes the device-model host's request handling (devmodel/host/
// dm_dispatch.h): QEMU is untrusted, so any packet sequence must get
// well-formed replies (echoed seq, consistent length, at most
// kDmMaxFdsPerReply fds) and never crash the core. The input is a sequence of
// packets, each prefixed by a 2-byte little-endian length.

#include "devmodel/host/dm_dispatch.h"
#include "npt/phys_map.h"
#include "test/fuzz/fuzz_seeds.h"
#include "test/unit/npt/fake_memslot_backend.h"
#include "test/unit/xen/fake_event_bitmaps.h"
#include "vmm/ioreq/ioreq_servers.h"
#include "vmm/xen/event_channels.h"
#include "vmm/xen/grant_host.h"
#include "vmm/xen/grant_table.h"
#include "vmm/xen/hvm_params.h"

#include <cstdlib>
#include <cstring>

using namespace basalt;
using namespace basalt::devmodel;

namespace {

constexpr uint16_t kDomid = 1;
constexpr uint64_t kRam = 2 << 20;

void check(bool ok) {
    if (!ok)
        std::abort();
}

template <class T>
std::vector<uint8_t> packet(DmOp op, const T& body, uint64_t seq,
                            const std::vector<uint8_t>& extra = {}) {
    DmRequestHeader h{static_cast<uint32_t>(op),
                      static_cast<uint32_t>(sizeof(DmRequestHeader) + sizeof(T) + extra.size()),
                      seq};
    std::vector<uint8_t> p;
    const auto* hb = reinterpret_cast<const uint8_t*>(&h);
    const auto* bb = reinterpret_cast<const uint8_t*>(&body);
    p.insert(p.end(), hb, hb + sizeof h);
    p.insert(p.end(), bb, bb + sizeof body);
    p.insert(p.end(), extra.begin(), extra.end());
    return p;
}

void append(std::vector<uint8_t>& input, const std::vector<uint8_t>& p) {
    input.push_back(static_cast<uint8_t>(p.size()));
    input.push_back(static_cast<uint8_t>(p.size() >> 8));
    input.insert(input.end(), p.begin(), p.end());
}

template <class T> std::vector<uint8_t> asBytes(const T& v) {
    const auto* b = reinterpret_cast<const uint8_t*>(&v);
    return {b, b + sizeof v};
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    npt::test::FakeMemslotBackend backend(64);
    auto map = npt::PhysMap::create(backend, kRam);
    check(map.ok());
    xen::test::FakeEventBitmaps bits(1);
    xen::EventChannels channels(
        {kDomid, 1, 1023}, bits, [](uint32_t) {}, [] {});
    ioreq::IoreqConfig config;
    config.channels = &channels;
    auto ioreq = ioreq::IoreqServers::create(config);
    check(ioreq.ok());
    xen::HvmParams params;
    auto table = xen::GrantTable::create(1);
    check(table.ok());
    xen::GrantHost grants(**table, **map);

    HostServices s;
    s.domid = kDomid;
    s.physMap = map->get();
    s.ioreq = ioreq->get();
    s.channels = &channels;
    s.params = &params;
    s.grants = &grants;
    s.setGsi = [](uint32_t gsi, bool) -> Status {
        check(gsi < 24);
        return {};
    };
    s.signalMsi = [](uint64_t, uint32_t) -> Status { return {}; };
    s.shutdown = [](uint32_t reason) { check(reason <= SHUTDOWN_soft_reset); };
    Dispatcher dispatcher(s);

    size_t off = 0;
    while (off + 2 <= size) {
        size_t len = data[off] | (size_t{data[off + 1]} << 8);
        off += 2;
        len = std::min(len, size - off);
        DmReply reply = dispatcher.handle({data + off, len});
        check(reply.bytes.size() >= sizeof(DmReplyHeader) && reply.bytes.size() <= kDmMaxPacket);
        DmReplyHeader h;
        std::memcpy(&h, reply.bytes.data(), sizeof h);
        check(h.length == reply.bytes.size());
        check(h.fdCount == reply.fds.size() && h.fdCount <= kDmMaxFdsPerReply);
        check(h.error >= 0);
        check(h.error == 0 || (reply.fds.empty() && h.length == sizeof h));
        if (len >= sizeof(DmRequestHeader)) {
            DmRequestHeader q;
            std::memcpy(&q, data + off, sizeof q);
            check(h.seq == q.seq || h.error != 0);
        }
        off += len;
    }
    return 0;
}

std::vector<std::vector<uint8_t>> basalt::fuzz::seeds() {
    std::vector<std::vector<uint8_t>> all;
    std::vector<uint8_t> startup;
    append(startup, packet(DmOp::Hello, DmHelloRequest{kDmProtocolVersion, kDomid}, 1));
    append(startup, packet(DmOp::CreateIoreqServer, DmCreateIoreqServerRequest{kDomid, 2}, 2));
    append(startup, packet(DmOp::GetIoreqServerInfo, DmServerRequest{kDomid, 0}, 3));
    uint64_t pfns[3] = {ioreq::kIoreqGfnBase, ioreq::kIoreqGfnBase + 1, 0x10};
    append(startup, packet(DmOp::MapPfns, DmMapPfnsRequest{kDomid, 3, 3, 0}, 4, asBytes(pfns)));
    append(startup, packet(DmOp::MapIoRange, DmIoRangeRequest{kDomid, 0, 0, 0, 0x3F8, 0x3FF}, 5));
    append(startup, packet(DmOp::MapPciDev, DmPciDevRequest{kDomid, 0, 0, 0, 3, 0, {}}, 6));
    append(startup, packet(DmOp::SetIoreqServerState, DmServerStateRequest{kDomid, 0, 1, 0}, 7));
    append(startup, packet(DmOp::BindInterdomain, DmBindInterdomainRequest{kDomid, 1}, 8));
    append(startup, packet(DmOp::DestroyIoreqServer, DmServerRequest{kDomid, 0}, 9));
    all.push_back(startup);

    std::vector<uint8_t> irqs;
    append(irqs, packet(DmOp::SetPciLinkRoute, DmPciLinkRouteRequest{kDomid, 1, 5, {}}, 1));
    append(irqs, packet(DmOp::SetPciIntxLevel, DmPciIntxRequest{kDomid, 0, 0, 1, 0, 1, {}}, 2));
    append(irqs, packet(DmOp::SetIsaIrqLevel, DmIsaIrqRequest{kDomid, 8, 1, {}}, 3));
    append(irqs, packet(DmOp::InjectMsi, DmMsiRequest{kDomid, 0x41, 0xFEE00000}, 4));
    append(irqs, packet(DmOp::Shutdown, DmShutdownRequest{kDomid, 0}, 5));
    all.push_back(irqs);

    std::vector<uint8_t> memory;
    uint64_t vram[2] = {0x1000, 0x1001};
    append(memory, packet(DmOp::PopulatePhysmap, DmPopulatePhysmapRequest{kDomid, 0, 0, 2}, 1,
                          asBytes(vram)));
    append(memory, packet(DmOp::TrackDirtyVram, DmTrackDirtyVramRequest{kDomid, 2, 0x1000}, 2));
    DmExtent extent{0x1000, 1};
    append(memory,
           packet(DmOp::ModifiedMemory, DmModifiedMemoryRequest{kDomid, 1}, 3, asBytes(extent)));
    append(memory,
           packet(DmOp::RelocateMemory, DmRelocateMemoryRequest{kDomid, 2, 0x1000, 0x2000}, 4));
    append(memory, packet(DmOp::SetMemType, DmSetMemTypeRequest{kDomid, 0, 0x10, 2}, 5));
    append(memory, packet(DmOp::SetHvmParam, DmHvmParamRequest{kDomid, 2, 1}, 6));
    append(memory, packet(DmOp::GetHvmParam, DmHvmParamRequest{kDomid, 2, 0}, 7));
    all.push_back(memory);

    std::vector<uint8_t> grantOps;
    DmGrantRef ref{kDomid, 1};
    append(grantOps, packet(DmOp::MapGrants, DmMapGrantsRequest{1, 1}, 1, asBytes(ref)));
    DmGrantCopySegment seg{kDomid, 1, 0, 4, 0, {}};
    append(grantOps, packet(DmOp::GrantCopy, DmGrantCopyRequest{1, 0}, 2, asBytes(seg)));
    append(grantOps, packet(DmOp::UnmapGrants, DmUnmapGrantsRequest{1}, 3));
    all.push_back(grantOps);
    return all;
}
