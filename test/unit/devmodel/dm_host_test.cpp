// The device-model host driven through its socketpair with hand-built
// packets, as the provider libraries in QEMU would send them, and with the
// hostile ones they should never send.

#include "devmodel/host/dm_host.h"
#include "npt/phys_map.h"
#include "test/unit/npt/fake_memslot_backend.h"
#include "test/unit/xen/fake_event_bitmaps.h"
#include "vmm/ioreq/ioreq_servers.h"
#include "vmm/xen/event_channels.h"
#include "vmm/xen/grant_host.h"
#include "vmm/xen/grant_table.h"
#include "vmm/xen/hvm_params.h"
#include "vmm/xen/xen_headers.h"

#include <xen/hvm/dm_op.h>
#include <xen/hvm/ioreq.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <mutex>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using namespace basalt;
using namespace basalt::devmodel;

namespace {

constexpr uint16_t kDomid = 1;
constexpr uint32_t kVcpus = 1;
constexpr uint64_t kRam = 16 << 20;

struct Reply {
    DmReplyHeader header{};
    std::vector<uint8_t> body;
    std::vector<UniqueFd> fds;
    int error() const { return header.error; }
    template <class T> T at(size_t index) const {
        T v;
        REQUIRE(body.size() >= (index + 1) * sizeof(T));
        std::memcpy(&v, body.data() + index * sizeof(T), sizeof(T));
        return v;
    }
};

struct Fixture {
    npt::test::FakeMemslotBackend backend;
    std::unique_ptr<npt::PhysMap> map = npt::PhysMap::create(backend, kRam).value();
    xen::test::FakeEventBitmaps bits{kVcpus};
    xen::EventChannels channels{{kDomid, kVcpus, 1023}, bits, [](uint32_t) {}, [] {}};
    std::unique_ptr<ioreq::IoreqServers> ioreq;
    xen::HvmParams params;
    std::unique_ptr<xen::GrantTable> table = xen::GrantTable::create(4).value();
    xen::GrantHost grants{*table, *map};
    std::mutex m;
    std::vector<std::pair<uint32_t, bool>> gsis;
    std::vector<uint32_t> shutdowns;
    std::vector<std::string> deaths;
    std::unique_ptr<Host> host;
    int fd = -1;
    uint64_t seq = 1;

    Fixture() {
        ioreq::IoreqConfig config;
        config.vcpuCount = kVcpus;
        config.channels = &channels;
        ioreq = ioreq::IoreqServers::create(config).value();
        HostServices s;
        s.domid = kDomid;
        s.vcpus = kVcpus;
        s.physMap = map.get();
        s.ioreq = ioreq.get();
        s.channels = &channels;
        s.params = &params;
        s.grants = &grants;
        s.setGsi = [this](uint32_t gsi, bool level) -> Status {
            std::lock_guard l(m);
            gsis.emplace_back(gsi, level);
            return {};
        };
        s.signalMsi = [](uint64_t address, uint32_t) -> Status {
            if ((address >> 20) != 0xFEE)
                return makeError(EINVAL, "not an MSI address");
            return {};
        };
        s.shutdown = [this](uint32_t reason) {
            std::lock_guard l(m);
            shutdowns.push_back(reason);
        };
        host = Host::start(s, [this](const std::string& why) {
                   std::lock_guard l(m);
                   deaths.push_back(why);
               }).value();
        fd = host->peerFd();
    }

    Reply raw(const std::vector<uint8_t>& packet) {
        REQUIRE(::send(fd, packet.data(), packet.size(), 0) == static_cast<ssize_t>(packet.size()));
        return receive();
    }
    Reply receive() {
        Reply r;
        std::vector<uint8_t> buf(kDmMaxPacket);
        alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(int) * kDmMaxFdsPerReply)];
        iovec iov{buf.data(), buf.size()};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        ssize_t n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
        REQUIRE(n >= static_cast<ssize_t>(sizeof(DmReplyHeader)));
        std::memcpy(&r.header, buf.data(), sizeof r.header);
        REQUIRE(r.header.length == static_cast<uint32_t>(n));
        r.body.assign(buf.begin() + sizeof r.header, buf.begin() + n);
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; ++i) {
                int got;
                std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
                r.fds.emplace_back(got);
            }
        }
        REQUIRE(r.fds.size() == r.header.fdCount);
        return r;
    }
    template <class T>
    Reply call(DmOp op, const T& body, const void* extra = nullptr, size_t extraLen = 0) {
        std::vector<uint8_t> packet(sizeof(DmRequestHeader) + sizeof(T) + extraLen);
        DmRequestHeader h{static_cast<uint32_t>(op), static_cast<uint32_t>(packet.size()), seq++};
        std::memcpy(packet.data(), &h, sizeof h);
        std::memcpy(packet.data() + sizeof h, &body, sizeof body);
        if (extraLen)
            std::memcpy(packet.data() + sizeof h + sizeof body, extra, extraLen);
        Reply r = raw(packet);
        CHECK(r.header.seq == h.seq);
        return r;
    }
    Reply mapPfns(const std::vector<uint64_t>& pfns, uint32_t prot = PROT_READ | PROT_WRITE) {
        DmMapPfnsRequest q{kDomid, prot, static_cast<uint32_t>(pfns.size()), 0};
        return call(DmOp::MapPfns, q, pfns.data(), pfns.size() * sizeof(uint64_t));
    }
    uint32_t createServer() {
        Reply r = call(DmOp::CreateIoreqServer,
                       DmCreateIoreqServerRequest{kDomid, HVM_IOREQSRV_BUFIOREQ_ATOMIC});
        REQUIRE(r.error() == 0);
        return static_cast<uint32_t>(r.header.value);
    }
};

} // namespace

TEST_CASE("hello and malformed packets", "[devmodel][host]") {
    Fixture f;
    Reply r = f.call(DmOp::Hello, DmHelloRequest{kDmProtocolVersion, kDomid});
    REQUIRE(r.error() == 0);
    auto hello = r.at<DmHelloReply>(0);
    CHECK(hello.domid == kDomid);
    CHECK(hello.vcpus == kVcpus);
    CHECK(f.call(DmOp::Hello, DmHelloRequest{kDmProtocolVersion, 7}).error() == ESRCH);
    CHECK(f.call(DmOp::Hello, DmHelloRequest{99, kDomid}).error() == EPROTO);
    // A body of the wrong size, an unknown op, a lying length, a runt.
    CHECK(f.call(DmOp::Hello, uint32_t{1}).error() == EINVAL);
    CHECK(f.call(static_cast<DmOp>(999), uint64_t{0}).error() == ENOSYS);
    std::vector<uint8_t> lying(sizeof(DmRequestHeader) + 8);
    DmRequestHeader h{static_cast<uint32_t>(DmOp::Hello), 4000, 5};
    std::memcpy(lying.data(), &h, sizeof h);
    CHECK(f.raw(lying).error() == EINVAL);
    CHECK(f.raw({1, 2, 3}).error() == EINVAL);
    std::vector<uint8_t> huge(kDmMaxPacket + 100);
    CHECK(f.raw(huge).error() == EINVAL);
    // Still serving.
    CHECK(f.call(DmOp::Hello, DmHelloRequest{kDmProtocolVersion, kDomid}).error() == 0);
}

TEST_CASE("ioreq server start-up as QEMU does it", "[devmodel][host]") {
    Fixture f;
    uint32_t id = f.createServer();
    Reply info = f.call(DmOp::GetIoreqServerInfo, DmServerRequest{kDomid, id});
    REQUIRE(info.error() == 0);
    auto i = info.at<DmIoreqServerInfoReply>(0);
    CHECK(i.bufioreqPort != 0);

    // The two server pages and a RAM page: three new backings, three fds.
    Reply m = f.mapPfns({i.ioreqGfn, i.bufioreqGfn, 0x100});
    REQUIRE(m.error() == 0);
    CHECK(m.fds.size() == 3);
    auto ioreqSlot = m.at<DmPfnSlot>(0);
    CHECK(ioreqSlot.error == 0);
    void* page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m.fds[0].get(),
                        static_cast<off_t>(ioreqSlot.offset));
    REQUIRE(page != MAP_FAILED);
    uint32_t eport = static_cast<shared_iopage_t*>(page)->vcpu_ioreq[0].vp_eport;
    CHECK(eport != 0);
    ::munmap(page, 4096);
    // Known backings are not sent again.
    Reply again = f.mapPfns({0x101, i.ioreqGfn});
    REQUIRE(again.error() == 0);
    CHECK(again.fds.empty());
    CHECK(again.at<DmPfnSlot>(0).backing == m.at<DmPfnSlot>(2).backing);
    CHECK(again.at<DmPfnSlot>(0).offset == 0x101000);

    // Per-page errors: a hole, beyond guest-physical space.
    Reply bad = f.mapPfns({0xF0000, uint64_t{1} << 41});
    REQUIRE(bad.error() == 0);
    CHECK(bad.at<DmPfnSlot>(0).error == ENOENT);
    CHECK(bad.at<DmPfnSlot>(1).error == EINVAL);
    // A count that disagrees with the packet; a bad prot.
    DmMapPfnsRequest lie{kDomid, PROT_READ, 5, 0};
    uint64_t one = 0x100;
    CHECK(f.call(DmOp::MapPfns, lie, &one, sizeof one).error() == EINVAL);
    CHECK(f.mapPfns({0x100}, 0x80).error() == EINVAL);

    // MapResource: frame 0 the buffered page, 1 the ioreq page.
    Reply res = f.call(DmOp::MapResource, DmMapResourceRequest{kDomid, XENMEM_resource_ioreq_server,
                                                               id, PROT_READ | PROT_WRITE, 0, 2});
    REQUIRE(res.error() == 0);
    CHECK(res.fds.empty());
    CHECK(res.at<DmPfnSlot>(1).backing == ioreqSlot.backing);
    CHECK(f.call(DmOp::MapResource,
                 DmMapResourceRequest{kDomid, XENMEM_resource_ioreq_server, id, PROT_READ, 1, 2})
              .error() == EINVAL);
    CHECK(f.call(DmOp::MapResource,
                 DmMapResourceRequest{kDomid, XENMEM_resource_ioreq_server, 7, PROT_READ, 0, 1})
              .error() == ENOENT);
    CHECK(f.call(DmOp::MapResource,
                 DmMapResourceRequest{kDomid, XENMEM_resource_grant_table, 0, PROT_READ, 0, 1})
              .error() == EOPNOTSUPP);

    // Binding the vCPU port gives the two eventfds; unbinding twice fails.
    Reply bind = f.call(DmOp::BindInterdomain, DmBindInterdomainRequest{kDomid, eport});
    REQUIRE(bind.error() == 0);
    CHECK(bind.fds.size() == 2);
    uint32_t local = static_cast<uint32_t>(bind.header.value);
    CHECK(f.call(DmOp::Unbind, DmPortRequest{local, 0}).error() == 0);
    CHECK(f.call(DmOp::Unbind, DmPortRequest{local, 0}).error() == EINVAL);
    // A guest port allocated for dom0 (a PV frontend's) binds through the
    // event channels; one that is not unbound for dom0 does not.
    int guestPort = f.channels.allocUnbound(DOMID_SELF, 0);
    REQUIRE(guestPort > 0);
    Reply pv = f.call(DmOp::BindInterdomain,
                      DmBindInterdomainRequest{kDomid, static_cast<uint32_t>(guestPort)});
    REQUIRE(pv.error() == 0);
    CHECK(pv.fds.size() == 2);
    CHECK(f.call(DmOp::BindInterdomain, DmBindInterdomainRequest{kDomid, 900}).error() != 0);

    // Ranges: overlap within the server, bad type, bad device.
    CHECK(f.call(DmOp::MapIoRange,
                 DmIoRangeRequest{kDomid, id, XEN_DMOP_IO_RANGE_PORT, 0, 0x3F8, 0x3FF})
              .error() == 0);
    CHECK(f.call(DmOp::MapIoRange,
                 DmIoRangeRequest{kDomid, id, XEN_DMOP_IO_RANGE_PORT, 0, 0x3FF, 0x400})
              .error() == EEXIST);
    CHECK(f.call(DmOp::MapIoRange, DmIoRangeRequest{kDomid, id, 3, 0, 0, 1}).error() == EINVAL);
    CHECK(f.call(DmOp::MapIoRange,
                 DmIoRangeRequest{kDomid, id, XEN_DMOP_IO_RANGE_PORT, 0, 0xFFFF, 0x10000})
              .error() == EINVAL);
    CHECK(f.call(DmOp::MapPciDev, DmPciDevRequest{kDomid, id, 0, 0, 3, 0, {}}).error() == 0);
    CHECK(f.call(DmOp::MapPciDev, DmPciDevRequest{kDomid, id, 0, 0, 32, 0, {}}).error() == EINVAL);
    CHECK(f.call(DmOp::UnmapPciDev, DmPciDevRequest{kDomid, id, 0, 0, 3, 0, {}}).error() == 0);
    CHECK(f.call(DmOp::UnmapPciDev, DmPciDevRequest{kDomid, id, 0, 0, 3, 0, {}}).error() == ENOENT);
    CHECK(f.call(DmOp::SetIoreqServerState, DmServerStateRequest{kDomid, id, 1, 0}).error() == 0);
    CHECK(f.call(DmOp::SetIoreqServerState, DmServerStateRequest{kDomid, id, 2, 0}).error() ==
          EINVAL);
    CHECK(f.call(DmOp::DestroyIoreqServer, DmServerRequest{kDomid, id}).error() == 0);
    CHECK(f.call(DmOp::DestroyIoreqServer, DmServerRequest{kDomid, id}).error() == ENOENT);
}

TEST_CASE("INTx, links and ISA IRQs follow Xen's assertion counts", "[devmodel][host]") {
    Fixture f;
    auto intx = [&](uint8_t dev, uint8_t pin, uint8_t level) {
        return f.call(DmOp::SetPciIntxLevel, DmPciIntxRequest{kDomid, 0, 0, dev, pin, level, {}})
            .error();
    };
    auto route = [&](uint8_t link, uint8_t irq) {
        return f.call(DmOp::SetPciLinkRoute, DmPciLinkRouteRequest{kDomid, link, irq, {}}).error();
    };
    REQUIRE(route(3, 10) == 0);
    // Device 3 INTA: GSI 28 (beyond KVM's pins, not raised), link 3 -> IRQ 10.
    REQUIRE(intx(3, 0, 1) == 0);
    REQUIRE(intx(3, 0, 1) == 0); // already asserted: nothing changes
    // Device 0 INTD shares link 3; IRQ 10 is already up.
    REQUIRE(intx(0, 3, 1) == 0);
    REQUIRE(route(3, 11) == 0); // moves the assertion
    REQUIRE(intx(3, 0, 0) == 0);
    REQUIRE(intx(0, 3, 0) == 0);
    std::vector<std::pair<uint32_t, bool>> want = {{10, true}, {19, true},  {10, false},
                                                   {11, true}, {19, false}, {11, false}};
    CHECK(f.gsis == want);

    f.gsis.clear();
    REQUIRE(f.call(DmOp::SetIsaIrqLevel, DmIsaIrqRequest{kDomid, 4, 1, {}}).error() == 0);
    REQUIRE(f.call(DmOp::SetIsaIrqLevel, DmIsaIrqRequest{kDomid, 4, 0, {}}).error() == 0);
    REQUIRE(f.call(DmOp::SetIsaIrqLevel, DmIsaIrqRequest{kDomid, 0, 1, {}}).error() == 0);
    want = {{4, true}, {4, false}, {2, true}};
    CHECK(f.gsis == want);

    CHECK(f.call(DmOp::SetIsaIrqLevel, DmIsaIrqRequest{kDomid, 16, 1, {}}).error() == EINVAL);
    CHECK(f.call(DmOp::SetIsaIrqLevel, DmIsaIrqRequest{kDomid, 3, 2, {}}).error() == EINVAL);
    CHECK(intx(32, 0, 1) == EINVAL);
    CHECK(intx(1, 4, 1) == EINVAL);
    CHECK(f.call(DmOp::SetPciIntxLevel, DmPciIntxRequest{kDomid, 0, 1, 1, 0, 1, {}}).error() ==
          EINVAL); // bus 1
    CHECK(route(4, 5) == EINVAL);
    CHECK(route(0, 16) == EINVAL);
    CHECK(f.call(DmOp::InjectMsi, DmMsiRequest{kDomid, 0x4041, 0xFEE00000}).error() == 0);
    CHECK(f.call(DmOp::InjectMsi, DmMsiRequest{kDomid, 0x4041, 0x1000}).error() == EINVAL);
}

TEST_CASE("device-model memory: populate, map, relocate, dirty tracking", "[devmodel][host]") {
    Fixture f;
    constexpr uint64_t kVram = 0x100000; // gfn of 4 GiB: beyond this guest's RAM
    std::vector<uint64_t> pfns;
    for (uint64_t i = 0; i < 16; ++i)
        pfns.push_back(kVram + i);
    auto populate = [&](const std::vector<uint64_t>& list, uint32_t order = 0) {
        DmPopulatePhysmapRequest q{kDomid, order, 0, static_cast<uint32_t>(list.size())};
        return f.call(DmOp::PopulatePhysmap, q, list.data(), list.size() * sizeof(uint64_t))
            .error();
    };
    REQUIRE(populate(pfns) == 0);
    CHECK(populate({kVram + 3}) == EEXIST);
    CHECK(populate({0x200}) == EEXIST); // RAM
    CHECK(populate({kVram + 100, kVram + 100}) == EINVAL);
    CHECK(populate({kVram + 100}, 1) == EINVAL);
    CHECK(f.map->ramPagesMapped() == npt::bytesToPages(kRam) - 32); // not guest RAM

    Reply m = f.mapPfns({kVram, kVram + 15});
    REQUIRE(m.error() == 0);
    CHECK(m.fds.size() == 1);
    CHECK(m.at<DmPfnSlot>(1).offset == 15 * 4096);

    // Dirty tracking: the first call reports everything, later ones what changed.
    auto track = [&](uint64_t first, uint32_t nr) {
        return f.call(DmOp::TrackDirtyVram, DmTrackDirtyVramRequest{kDomid, nr, first});
    };
    Reply t1 = track(kVram, 16);
    REQUIRE(t1.error() == 0);
    CHECK(t1.at<uint64_t>(0) == 0xFFFF);
    Reply t2 = track(kVram, 16);
    REQUIRE(t2.error() == 0);
    CHECK(t2.at<uint64_t>(0) == 0);
    DmExtent extent{kVram + 2, 2};
    REQUIRE(f.call(DmOp::ModifiedMemory, DmModifiedMemoryRequest{kDomid, 1}, &extent, sizeof extent)
                .error() == 0);
    Reply t3 = track(kVram, 16);
    REQUIRE(t3.error() == 0);
    CHECK(t3.at<uint64_t>(0) == 0xC);
    // Another range is a new start: all dirty again; nr 0 forgets the range.
    Reply t4 = track(kVram + 8, 8);
    REQUIRE(t4.error() == 0);
    CHECK(t4.at<uint64_t>(0) == 0xFF);
    CHECK(track(kVram + 8, 8).at<uint64_t>(0) == 0);
    CHECK(track(kVram + 8, 0).error() == 0);
    CHECK(track(kVram + 8, 8).at<uint64_t>(0) == 0xFF);
    CHECK(track(kVram, 17).error() == EINVAL);             // leaves the region
    CHECK(track(kVram, (1u << 18) + 1).error() == EINVAL); // over Xen's 1 GiB
    CHECK(track(0xF0000, 1).error() == ENOENT);

    // The guest moved the BAR: the whole region moves.
    CHECK(
        f.call(DmOp::RelocateMemory, DmRelocateMemoryRequest{kDomid, 16, kVram, 0xE0000}).error() ==
        0);
    CHECK(f.map->pageAt(0xE0000ull << 12).ok());
    CHECK_FALSE(f.map->pageAt(kVram << 12).ok());
    CHECK(f.call(DmOp::RelocateMemory, DmRelocateMemoryRequest{kDomid, 4, 0xE0000, 0x300000})
              .error() == EINVAL); // part of a region
    CHECK(
        f.call(DmOp::RelocateMemory, DmRelocateMemoryRequest{kDomid, 1, 0x10, 0x300000}).error() ==
        EINVAL); // guest RAM stays

    // Memory types: RAM stays read-write, holes may be MMIO.
    auto memType = [&](uint32_t type, uint64_t first, uint64_t nr) {
        return f.call(DmOp::SetMemType, DmSetMemTypeRequest{kDomid, type, first, nr}).error();
    };
    CHECK(memType(HVMMEM_ram_rw, 0x100, 4) == 0);
    CHECK(memType(HVMMEM_mmio_dm, 0xF0000, 4) == 0);
    CHECK(memType(HVMMEM_ram_rw, 0xF0000, 1) == EINVAL); // a hole cannot become RAM
    CHECK(memType(HVMMEM_mmio_dm, 0x100, 1) == EOPNOTSUPP);
    CHECK(memType(HVMMEM_ram_ro, 0x100, 1) == EOPNOTSUPP);
    CHECK(memType(HVMMEM_unused, 0x100, 1) == EINVAL);
    CHECK(memType(HVMMEM_ioreq_server, 0x100, 1) == EINVAL);
    CHECK(memType(HVMMEM_ram_rw, 0x100, 0) == EINVAL);
    CHECK(memType(HVMMEM_ram_rw, ~0ull - 1, 4) == EINVAL);
    CHECK(memType(HVMMEM_mmio_dm, 0x400000, 1) == EINVAL); // beyond the highest gfn
    CHECK(f.call(DmOp::PinMemoryCacheattr, DmPinCacheattrRequest{kDomid, 6, 0xE0000, 0xE000F})
              .error() == 0);
    CHECK(f.call(DmOp::PinMemoryCacheattr, DmPinCacheattrRequest{kDomid, 2, 0xE0000, 0xE000F})
              .error() == EINVAL);
}

TEST_CASE("one reply carries at most kDmMaxFdsPerReply new fds", "[devmodel][host]") {
    Fixture f;
    std::vector<uint64_t> pages;
    for (uint64_t i = 0; i < kDmMaxFdsPerReply + 4; ++i)
        pages.push_back(0x200000 + 2 * i); // not contiguous: one region each
    for (uint64_t p : pages) {
        DmPopulatePhysmapRequest q{kDomid, 0, 0, 1};
        REQUIRE(f.call(DmOp::PopulatePhysmap, q, &p, sizeof p).error() == 0);
    }
    Reply m = f.mapPfns(pages);
    REQUIRE(m.error() == 0);
    CHECK(m.fds.size() == kDmMaxFdsPerReply);
    for (size_t i = 0; i < pages.size(); ++i)
        CHECK(m.at<DmPfnSlot>(i).error == (i < kDmMaxFdsPerReply ? 0 : EMFILE));
    // Asking again gets the rest.
    Reply rest = f.mapPfns(std::vector<uint64_t>(pages.begin() + kDmMaxFdsPerReply, pages.end()));
    REQUIRE(rest.error() == 0);
    CHECK(rest.fds.size() == 4);
}

TEST_CASE("HVM params, shutdown and grants", "[devmodel][host]") {
    Fixture f;
    CHECK(f.call(DmOp::SetHvmParam, DmHvmParamRequest{kDomid, HVM_PARAM_TIMER_MODE, 1}).error() ==
          0);
    Reply get = f.call(DmOp::GetHvmParam, DmHvmParamRequest{kDomid, HVM_PARAM_TIMER_MODE, 0});
    REQUIRE(get.error() == 0);
    CHECK(get.header.value == 1);
    CHECK(f.call(DmOp::SetHvmParam, DmHvmParamRequest{kDomid, HVM_PARAM_VIRIDIAN, 1}).error() == 0);
    CHECK(f.call(DmOp::SetHvmParam, DmHvmParamRequest{kDomid, HVM_PARAM_VIRIDIAN, 2}).error() ==
          EEXIST);
    CHECK(f.call(DmOp::SetHvmParam, DmHvmParamRequest{kDomid, HVM_PARAM_TIMER_MODE, 4}).error() ==
          EINVAL);
    CHECK(f.call(DmOp::SetHvmParam, DmHvmParamRequest{kDomid, HVM_PARAM_BUFIOREQ_EVTCHN, 1})
              .error() == EINVAL); // deprecated
    CHECK(f.call(DmOp::GetHvmParam, DmHvmParamRequest{kDomid, HVM_NR_PARAMS, 0}).error() == EINVAL);

    CHECK(f.call(DmOp::Shutdown, DmShutdownRequest{kDomid, SHUTDOWN_reboot}).error() == 0);
    CHECK(f.call(DmOp::Shutdown, DmShutdownRequest{kDomid, 9}).error() == EINVAL);
    CHECK(f.shutdowns == std::vector<uint32_t>{SHUTDOWN_reboot});

    // A grant to dom0, mapped, copied and unmapped.
    constexpr uint32_t kGfn = 0x234;
    f.table->entry(5)->frame = kGfn;
    f.table->entry(5)->domid = 0;
    std::atomic_ref<uint16_t>(f.table->entry(5)->flags).store(GTF_permit_access);
    DmGrantRef ref{kDomid, 5};
    Reply map =
        f.call(DmOp::MapGrants, DmMapGrantsRequest{1, PROT_READ | PROT_WRITE}, &ref, sizeof ref);
    REQUIRE(map.error() == 0);
    CHECK(map.at<DmPfnSlot>(0).offset == uint64_t{kGfn} << 12);
    CHECK(map.fds.size() == 1);
    DmGrantRef missing{kDomid, 9999};
    CHECK(f.call(DmOp::MapGrants, DmMapGrantsRequest{1, PROT_READ}, &missing, sizeof missing)
              .error() != 0);

    // Two segments (to the guest, then back), then the to-guest bytes.
    DmGrantCopySegment segs[2] = {{kDomid, 5, 16, 5, 1, {}}, {kDomid, 5, 16, 5, 0, {}}};
    std::vector<uint8_t> copy(sizeof segs + 5);
    std::memcpy(copy.data(), segs, sizeof segs);
    std::memcpy(copy.data() + sizeof segs, "hello", 5);
    Reply c = f.call(DmOp::GrantCopy, DmGrantCopyRequest{2, 0}, copy.data(), copy.size());
    REQUIRE(c.error() == 0);
    CHECK(c.at<int16_t>(0) == GNTST_okay);
    CHECK(c.at<int16_t>(1) == GNTST_okay);
    REQUIRE(c.body.size() == 4 + 5);
    CHECK(std::memcmp(c.body.data() + 4, "hello", 5) == 0);
    // A segment leaving the page; bytes missing.
    DmGrantCopySegment bad{kDomid, 5, 4090, 10, 0, {}};
    CHECK(f.call(DmOp::GrantCopy, DmGrantCopyRequest{1, 0}, &bad, sizeof bad).error() == EINVAL);
    DmGrantCopySegment in{kDomid, 5, 0, 10, 1, {}};
    CHECK(f.call(DmOp::GrantCopy, DmGrantCopyRequest{1, 0}, &in, sizeof in).error() == EINVAL);

    CHECK(f.grants.mappings() == 1);
    CHECK(f.call(DmOp::UnmapGrants, DmUnmapGrantsRequest{map.header.value}).error() == 0);
    CHECK(f.call(DmOp::UnmapGrants, DmUnmapGrantsRequest{map.header.value}).error() == EINVAL);
    CHECK(f.grants.mappings() == 0);
}

TEST_CASE("the device model closing its end is its death", "[devmodel][host]") {
    Fixture f;
    f.host->closePeerFd(); // our copy is the test's end: close that one
    f.fd = -1;
    for (int i = 0; i < 2000; ++i) {
        {
            std::lock_guard l(f.m);
            if (!f.deaths.empty())
                break;
        }
        ::usleep(1000);
    }
    std::lock_guard l(f.m);
    REQUIRE(f.deaths.size() == 1);
    CHECK(f.deaths[0] == "closed its connection");
}

TEST_CASE("stop is orderly and idempotent", "[devmodel][host]") {
    Fixture f;
    f.host->stop();
    f.host->stop();
    f.host->deviceModelDied("killed by signal 9");
    std::lock_guard l(f.m);
    CHECK(f.deaths.empty()); // already stopping: no crash
}
