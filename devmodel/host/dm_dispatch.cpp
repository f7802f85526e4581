#include "devmodel/host/dm_dispatch.h"

#include "base/log.h"
#include "npt/page.h"
#include "npt/phys_map.h"
#include "vmm/ioreq/ioreq_servers.h"
#include "vmm/xen/event_channels.h"
#include "vmm/xen/grant_host.h"
#include "vmm/xen/hvm_params.h"
#include "vmm/xen/xen_headers.h"

#include <xen/hvm/dm_op.h>

#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <sys/mman.h>
#include <sys/stat.h>

namespace basalt::devmodel {

BASALT_LOG_CATEGORY(DmHost, "dmhost");

namespace {

constexpr uint32_t kProtMask = PROT_READ | PROT_WRITE;
constexpr size_t kMaxReplyBody = kDmMaxPacket - sizeof(DmReplyHeader);
constexpr uint64_t kMaxGfn = uint64_t{1} << 40; // 52-bit guest-physical space
// ISA IRQ 0 is wired to IOAPIC pin 2 (Xen's hvm_isa_irq_to_gsi).
constexpr uint32_t kIsaTimerIrq = 0;
constexpr uint32_t kIsaTimerGsi = 2;
constexpr uint8_t kIsaIrqs = 16;
constexpr uint8_t kPciDevices = 32;
constexpr uint8_t kPciFunctions = 8;
constexpr uint8_t kIntxPins = 4;
constexpr uint8_t kPciLinks = 4;
constexpr uint32_t kFirstPciGsi = 16;
constexpr uint32_t kPciGsis = 32;
// KVM's in-kernel IOAPIC (vm.h kIoapicPins).
constexpr uint32_t kKvmIoapicPins = 24;
// XEN_DOMCTL_MEM_CACHEATTR_* and XEN_DOMCTL_DELETE_MEM_CACHEATTR (domctl.h).
constexpr uint32_t kCacheattrUc = 0, kCacheattrWc = 1, kCacheattrWt = 4, kCacheattrWp = 5,
                   kCacheattrWb = 6, kCacheattrUcMinus = 7, kCacheattrDelete = ~0u;
constexpr uint32_t kMaxShutdownReason = SHUTDOWN_soft_reset;
// Xen's track_dirty_vram limit: 1 GiB of frames.
constexpr uint64_t kMaxTrackedVramPages = (uint64_t{1} << 30) >> 12;

template <class T> bool allZero(const T& pad) {
    for (auto b : pad)
        if (b)
            return false;
    return true;
}

} // namespace

struct Dispatcher::Request {
    DmRequestHeader header;
    std::span<const uint8_t> body;
    std::vector<uint8_t> reply; // body only
    std::vector<int> fds;
    uint64_t value = 0;

    // The fixed part of a request; `exact` when nothing may follow it.
    template <class T> bool fixed(T& out, bool exact = true) const {
        if (body.size() < sizeof(T) || (exact && body.size() != sizeof(T)))
            return false;
        std::memcpy(&out, body.data(), sizeof(T));
        return true;
    }
    // `count` items of E right after the fixed part T, and nothing else.
    template <class T, class E> bool array(size_t count, std::vector<E>& out) const {
        size_t room = (body.size() - sizeof(T)) / sizeof(E);
        if (count > room || body.size() != sizeof(T) + count * sizeof(E))
            return false;
        out.resize(count);
        if (count)
            std::memcpy(out.data(), body.data() + sizeof(T), count * sizeof(E));
        return true;
    }
    template <class T> void put(const T& v) {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        reply.insert(reply.end(), p, p + sizeof(T));
    }
};

const Dispatcher::OpEntry Dispatcher::kOps[] = {
    {DmOp::Hello, "hello", &Dispatcher::hello},
    {DmOp::MapPfns, "map_pfns", &Dispatcher::mapPfns},
    {DmOp::MapResource, "map_resource", &Dispatcher::mapResource},
    {DmOp::BindInterdomain, "bind_interdomain", &Dispatcher::bindInterdomain},
    {DmOp::Unbind, "unbind", &Dispatcher::unbind},
    {DmOp::CreateIoreqServer, "create_ioreq_server", &Dispatcher::createServer},
    {DmOp::GetIoreqServerInfo, "get_ioreq_server_info", &Dispatcher::getServerInfo},
    {DmOp::MapIoRange, "map_io_range", &Dispatcher::mapIoRange},
    {DmOp::UnmapIoRange, "unmap_io_range", &Dispatcher::unmapIoRange},
    {DmOp::MapPciDev, "map_pcidev", &Dispatcher::mapPciDev},
    {DmOp::UnmapPciDev, "unmap_pcidev", &Dispatcher::unmapPciDev},
    {DmOp::SetIoreqServerState, "set_ioreq_server_state", &Dispatcher::setServerState},
    {DmOp::DestroyIoreqServer, "destroy_ioreq_server", &Dispatcher::destroyServer},
    {DmOp::SetIsaIrqLevel, "set_isa_irq_level", &Dispatcher::setIsaIrqLevel},
    {DmOp::SetPciIntxLevel, "set_pci_intx_level", &Dispatcher::setPciIntxLevel},
    {DmOp::SetPciLinkRoute, "set_pci_link_route", &Dispatcher::setPciLinkRoute},
    {DmOp::InjectMsi, "inject_msi", &Dispatcher::injectMsi},
    {DmOp::TrackDirtyVram, "track_dirty_vram", &Dispatcher::trackDirtyVram},
    {DmOp::ModifiedMemory, "modified_memory", &Dispatcher::modifiedMemory},
    {DmOp::SetMemType, "set_mem_type", &Dispatcher::setMemType},
    {DmOp::RelocateMemory, "relocate_memory", &Dispatcher::relocateMemory},
    {DmOp::PinMemoryCacheattr, "pin_memory_cacheattr", &Dispatcher::pinCacheattr},
    {DmOp::PopulatePhysmap, "populate_physmap", &Dispatcher::populatePhysmap},
    {DmOp::GetHvmParam, "get_hvm_param", &Dispatcher::getHvmParam},
    {DmOp::SetHvmParam, "set_hvm_param", &Dispatcher::setHvmParam},
    {DmOp::Shutdown, "shutdown", &Dispatcher::shutdown},
    {DmOp::MapGrants, "map_grants", &Dispatcher::mapGrants},
    {DmOp::UnmapGrants, "unmap_grants", &Dispatcher::unmapGrants},
    {DmOp::GrantCopy, "grant_copy", &Dispatcher::grantCopy},
};

Dispatcher::Dispatcher(HostServices services) : s_(std::move(services)) {}

Dispatcher::~Dispatcher() {
    // The device model's grant mappings die with its connection.
    if (s_.grants)
        for (auto& [id, group] : grantGroups_)
            for (uint32_t h : group.handles)
                s_.grants->unmap(h);
}

DmReply Dispatcher::handle(std::span<const uint8_t> packet) {
    Request r{};
    int error = 0;
    const char* name = "?";
    if (packet.size() < sizeof(DmRequestHeader)) {
        error = EINVAL;
    } else {
        std::memcpy(&r.header, packet.data(), sizeof r.header);
        if (r.header.length != packet.size() || packet.size() > kDmMaxPacket) {
            error = EINVAL;
        } else {
            r.body = packet.subspan(sizeof(DmRequestHeader));
            error = ENOSYS;
            for (const auto& entry : kOps)
                if (static_cast<uint32_t>(entry.op) == r.header.op) {
                    name = entry.name;
                    error = (this->*entry.handler)(r);
                    break;
                }
        }
    }
    if (error) {
        LOG_RATELIMITED(DmHost, Debug, "device model op %u (%s): %s", r.header.op, name,
                        strerror(error));
        r.reply.clear();
        r.fds.clear();
        r.value = 0;
    }
    DmReply out;
    DmReplyHeader h{};
    h.seq = r.header.seq;
    h.error = error;
    h.fdCount = static_cast<uint32_t>(r.fds.size());
    h.value = r.value;
    h.length = static_cast<uint32_t>(sizeof h + r.reply.size());
    out.bytes.resize(sizeof h);
    std::memcpy(out.bytes.data(), &h, sizeof h);
    out.bytes.insert(out.bytes.end(), r.reply.begin(), r.reply.end());
    out.fds = std::move(r.fds);
    return out;
}

// --- session

int Dispatcher::hello(Request& r) {
    DmHelloRequest q;
    if (!r.fixed(q))
        return EINVAL;
    if (q.version != kDmProtocolVersion)
        return EPROTO;
    if (q.domid != s_.domid)
        return ESRCH;
    r.put(DmHelloReply{kDmProtocolVersion, s_.domid, s_.vcpus, 0});
    return 0;
}

// --- foreign memory

void Dispatcher::fillSlot(Request& r, DmPfnSlot& slot, int fd, uint64_t offset) {
    struct stat st;
    if (::fstat(fd, &st) < 0) {
        slot.error = EIO;
        return;
    }
    auto key = std::pair<uint64_t, uint64_t>(st.st_dev, st.st_ino);
    auto it = backings_.find(key);
    if (it == backings_.end()) {
        if (r.fds.size() >= kDmMaxFdsPerReply) {
            slot.error = EMFILE; // no room for another fd in this reply: ask again
            return;
        }
        it = backings_.emplace(key, nextBacking_++).first;
        r.fds.push_back(fd);
    }
    slot.backing = it->second;
    slot.error = 0;
    slot.offset = offset;
}

int Dispatcher::mapPfns(Request& r) {
    DmMapPfnsRequest q;
    std::vector<uint64_t> pfns;
    if (!r.fixed(q, false) || q.pad || !r.array<DmMapPfnsRequest>(q.count, pfns))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if ((q.prot & ~kProtMask) || !q.prot)
        return EINVAL;
    if (q.count > kMaxReplyBody / sizeof(DmPfnSlot))
        return E2BIG;
    if (!s_.physMap)
        return ENOSYS;
    for (uint64_t pfn : pfns) {
        DmPfnSlot slot{};
        ioreq::PageRef ref;
        if (s_.ioreq && s_.ioreq->pageForGfn(pfn, ref) == 0) {
            fillSlot(r, slot, ref.fd, ref.offset);
        } else if (pfn >= kMaxGfn) {
            slot.error = EINVAL;
        } else if (auto page = s_.physMap->pageAt(pfn << npt::kPageShift); !page) {
            slot.error = ENOENT; // a hole: nothing to map, as Xen's p2m_invalid
        } else if (page->kind == npt::RegionKind::Rom && (q.prot & PROT_WRITE)) {
            slot.error = EACCES; // ROMs are read-only for the device model too
        } else {
            fillSlot(r, slot, page->fd, page->fdOffset);
        }
        r.put(slot);
    }
    return 0;
}

int Dispatcher::mapResource(Request& r) {
    DmMapResourceRequest q;
    if (!r.fixed(q))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if ((q.prot & ~kProtMask) || !q.prot)
        return EINVAL;
    if (q.type != XENMEM_resource_ioreq_server)
        return EOPNOTSUPP;
    if (!s_.ioreq)
        return ENOSYS;
    // Frame 0 is the buffered page, frame 1 the ioreq page; nothing beyond.
    if (q.nrFrames == 0 || q.nrFrames > 2 || q.frame > 1 || q.frame + q.nrFrames > 2)
        return EINVAL;
    std::vector<DmPfnSlot> slots(q.nrFrames);
    for (uint64_t i = 0; i < q.nrFrames; ++i) {
        ioreq::PageRef ref;
        if (int rc = s_.ioreq->pageForResource(q.id, q.frame + i, ref))
            return rc;
        fillSlot(r, slots[i], ref.fd, ref.offset);
    }
    for (const auto& slot : slots)
        r.put(slot);
    return 0;
}

// --- event channels

int Dispatcher::bindInterdomain(Request& r) {
    DmBindInterdomainRequest q;
    if (!r.fixed(q))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    ioreq::IoreqPortFds fds;
    if (s_.ioreq && s_.ioreq->portFds(q.remotePort, fds) == 0) {
        uint32_t local = nextIoreqLocalPort_++;
        ports_[local] = BoundPort{};
        r.value = local;
        r.fds = {fds.fromGuest, fds.toGuest};
        return 0;
    }
    if (!s_.channels)
        return EINVAL;
    auto port = s_.channels->bindHostPort(q.remotePort);
    if (!port)
        return port.error().code;
    uint32_t local = (*port)->hostPort();
    r.value = local;
    r.fds = {(*port)->guestToHostFd(), (*port)->hostToGuestFd()};
    ports_[local] = BoundPort{std::move(*port)};
    return 0;
}

int Dispatcher::unbind(Request& r) {
    DmPortRequest q;
    if (!r.fixed(q) || q.pad)
        return EINVAL;
    return ports_.erase(q.port) ? 0 : EINVAL;
}

// --- ioreq servers

int Dispatcher::createServer(Request& r) {
    DmCreateIoreqServerRequest q;
    if (!r.fixed(q))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (!s_.ioreq)
        return ENOSYS;
    uint32_t id = 0;
    if (int rc = s_.ioreq->createServer(q.handleBufioreq, id))
        return rc;
    r.value = id;
    return 0;
}

int Dispatcher::getServerInfo(Request& r) {
    DmServerRequest q;
    if (!r.fixed(q))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (!s_.ioreq)
        return ENOSYS;
    ioreq::ServerInfo info;
    if (int rc = s_.ioreq->getInfo(q.id, true, info))
        return rc;
    r.put(DmIoreqServerInfoReply{info.ioreqGfn, info.bufioreqGfn, info.bufioreqPort, 0});
    return 0;
}

int Dispatcher::ioRange(Request& r, bool map) {
    DmIoRangeRequest q;
    if (!r.fixed(q) || q.pad)
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (!s_.ioreq)
        return ENOSYS;
    if (q.type > XEN_DMOP_IO_RANGE_PCI || q.start > q.end)
        return EINVAL;
    // Ports are 16 bits and sbdfs 32 bits; nothing larger can ever match.
    if ((q.type == XEN_DMOP_IO_RANGE_PORT && q.end > 0xFFFF) ||
        (q.type == XEN_DMOP_IO_RANGE_PCI && q.end > 0xFFFFFFFFu))
        return EINVAL;
    auto type = static_cast<ioreq::RangeType>(q.type);
    return map ? s_.ioreq->mapRange(q.id, type, q.start, q.end)
               : s_.ioreq->unmapRange(q.id, type, q.start, q.end);
}

int Dispatcher::mapIoRange(Request& r) {
    return ioRange(r, true);
}
int Dispatcher::unmapIoRange(Request& r) {
    return ioRange(r, false);
}

int Dispatcher::pciDev(Request& r, bool map) {
    DmPciDevRequest q;
    if (!r.fixed(q) || !allZero(q.pad))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (!s_.ioreq)
        return ENOSYS;
    if (q.device >= kPciDevices || q.function >= kPciFunctions)
        return EINVAL;
    uint64_t sbdf = ioreq::IoreqServers::sbdf(q.segment, q.bus, q.device, q.function);
    return map ? s_.ioreq->mapRange(q.id, ioreq::RangeType::Pci, sbdf, sbdf)
               : s_.ioreq->unmapRange(q.id, ioreq::RangeType::Pci, sbdf, sbdf);
}

int Dispatcher::mapPciDev(Request& r) {
    return pciDev(r, true);
}
int Dispatcher::unmapPciDev(Request& r) {
    return pciDev(r, false);
}

int Dispatcher::setServerState(Request& r) {
    DmServerStateRequest q;
    if (!r.fixed(q) || q.pad || q.enabled > 1)
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (!s_.ioreq)
        return ENOSYS;
    return s_.ioreq->setState(q.id, q.enabled != 0);
}

int Dispatcher::destroyServer(Request& r) {
    DmServerRequest q;
    if (!r.fixed(q))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (!s_.ioreq)
        return ENOSYS;
    return s_.ioreq->destroyServer(q.id);
}

// --- interrupts

void Dispatcher::raiseGsi(uint32_t gsi, bool level) {
    if (gsi >= kKvmIoapicPins) {
        if (!gsiWarned_[gsi]) {
            gsiWarned_[gsi] = true;
            LOG(DmHost, Warn,
                "GSI %u is beyond KVM's 24 IOAPIC pins: only its PCI link's ISA IRQ "
                "reaches the guest",
                gsi);
        }
        return;
    }
    if (s_.setGsi)
        if (Status st = s_.setGsi(gsi, level); !st)
            LOG_RATELIMITED(DmHost, Error, "GSI %u: %s", gsi, st.error().message.c_str());
}

void Dispatcher::gsiUp(uint32_t gsi) {
    if (gsiCount_[gsi]++ == 0)
        raiseGsi(gsi, true);
}

void Dispatcher::gsiDown(uint32_t gsi) {
    if (gsiCount_[gsi] && --gsiCount_[gsi] == 0)
        raiseGsi(gsi, false);
}

int Dispatcher::setIsaIrqLevel(Request& r) {
    DmIsaIrqRequest q;
    if (!r.fixed(q) || !allZero(q.pad))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (q.irq >= kIsaIrqs || q.level > 1)
        return EINVAL;
    uint32_t gsi = q.irq == kIsaTimerIrq ? kIsaTimerGsi : q.irq;
    if (q.level && !isaAsserted_[q.irq]) {
        isaAsserted_[q.irq] = true;
        gsiUp(gsi);
    } else if (!q.level && isaAsserted_[q.irq]) {
        isaAsserted_[q.irq] = false;
        gsiDown(gsi);
    }
    return 0;
}

int Dispatcher::setPciIntxLevel(Request& r) {
    DmPciIntxRequest q;
    if (!r.fixed(q) || !allZero(q.pad))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    // As Xen's dm.c: segment 0, bus 0 only.
    if (q.segment || q.bus || q.device >= kPciDevices || q.intx >= kIntxPins || q.level > 1)
        return EINVAL;
    bool& wire = intxAsserted_[q.device * kIntxPins + q.intx];
    if (wire == (q.level != 0))
        return 0;
    wire = q.level != 0;
    uint32_t gsi = kFirstPciGsi + (((q.device << 2) + (q.device >> 3) + q.intx) % kPciGsis);
    uint32_t link = (q.device + q.intx) % kPciLinks;
    if (wire) {
        gsiUp(gsi);
        if (linkCount_[link]++ == 0 && linkRoute_[link])
            gsiUp(linkRoute_[link]);
    } else {
        gsiDown(gsi);
        if (linkCount_[link] && --linkCount_[link] == 0 && linkRoute_[link])
            gsiDown(linkRoute_[link]);
    }
    return 0;
}

int Dispatcher::setPciLinkRoute(Request& r) {
    DmPciLinkRouteRequest q;
    if (!r.fixed(q) || !allZero(q.pad))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (q.link >= kPciLinks || q.irq >= kIsaIrqs)
        return EINVAL;
    uint8_t old = linkRoute_[q.link];
    if (old == q.irq)
        return 0;
    linkRoute_[q.link] = q.irq;
    // An asserted link moves its assertion to the new IRQ.
    if (linkCount_[q.link]) {
        if (old)
            gsiDown(old);
        if (q.irq)
            gsiUp(q.irq);
    }
    return 0;
}

int Dispatcher::injectMsi(Request& r) {
    DmMsiRequest q;
    if (!r.fixed(q))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (!s_.signalMsi)
        return ENOSYS;
    Status st = s_.signalMsi(q.address, q.data);
    return st ? 0 : st.error().code;
}

// --- memory the device model manages

// As Xen's hap_track_dirty_vram: one tracked range per domain. A call for a
// new range starts logging it and reports every page dirty; a call for the
// same range reports (and clears) what the guest wrote since; nr 0 forgets
// the range.
int Dispatcher::trackDirtyVram(Request& r) {
    DmTrackDirtyVramRequest q;
    if (!r.fixed(q))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (!s_.physMap)
        return ENOSYS;
    if (q.nr > kMaxTrackedVramPages || q.firstPfn >= kMaxGfn || q.nr > kMaxGfn - q.firstPfn)
        return EINVAL;
    if (q.nr == 0) {
        vramNr_ = 0;
        return 0;
    }
    uint64_t gpa = q.firstPfn << npt::kPageShift;
    auto region = s_.physMap->regionAt(gpa);
    if (!region)
        return ENOENT;
    if (gpa + uint64_t{q.nr} * npt::kPageSize > region->gpa + region->size || region->readOnly)
        return EINVAL;
    std::vector<uint64_t> bitmap((uint64_t{q.nr} + 63) / 64, 0);
    if (q.firstPfn != vramFirst_ || q.nr != vramNr_) {
        if (Status st = s_.physMap->setDirtyLogging(region->id, true); !st)
            return st.error().code;
        // Forget what was logged before: the device model redraws it all.
        if (auto old = s_.physMap->fetchDirtyPages(gpa, q.nr); !old)
            return old.error().code;
        vramFirst_ = q.firstPfn;
        vramNr_ = q.nr;
        std::fill(bitmap.begin(), bitmap.end(), ~uint64_t{0});
    } else {
        auto dirty = s_.physMap->fetchDirtyPages(gpa, q.nr);
        if (!dirty)
            return dirty.error().code;
        for (uint64_t pfn : *dirty) {
            uint64_t bit = pfn - q.firstPfn;
            bitmap[bit / 64] |= uint64_t{1} << (bit % 64);
        }
    }
    if (q.nr % 64)
        bitmap.back() &= (uint64_t{1} << (q.nr % 64)) - 1;
    for (uint64_t w : bitmap)
        r.put(w);
    return 0;
}

int Dispatcher::modifiedMemory(Request& r) {
    DmModifiedMemoryRequest q;
    std::vector<DmExtent> extents;
    if (!r.fixed(q, false) || !r.array<DmModifiedMemoryRequest>(q.count, extents))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (!s_.physMap)
        return ENOSYS;
    for (const auto& e : extents)
        if (e.firstPfn >= kMaxGfn || e.nr > kMaxGfn - e.firstPfn)
            return EINVAL;
    for (const auto& e : extents)
        if (Status st = s_.physMap->markDirty(e.firstPfn << npt::kPageShift, e.nr); !st)
            return st.error().code;
    return 0;
}

// Xen's set_mem_type with allow_p2m_type_change: RAM may become ram_rw,
// ram_ro or mmio_dm, a hole only mmio_dm. What KVM's memslots express is
// supported: RAM staying read-write, holes (which already reach the device
// model) becoming mmio_dm, ROMs staying read-only. Changing the guest's view
// of a RAM page is EOPNOTSUPP.
int Dispatcher::setMemType(Request& r) {
    DmSetMemTypeRequest q;
    if (!r.fixed(q))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (!s_.physMap)
        return ENOSYS;
    uint64_t maxGfn = s_.physMap->maxMappedEnd() >> npt::kPageShift; // one past
    if (q.nr == 0 || q.firstPfn >= maxGfn || q.nr > maxGfn - q.firstPfn)
        return EINVAL;
    // HVMMEM_ioreq_server needs a server mapped for that type, which this
    // wire never does: Xen answers EINVAL then.
    if (q.type == HVMMEM_unused || q.type >= HVMMEM_ioreq_server)
        return EINVAL;
    for (uint64_t i = 0; i < q.nr; ++i) {
        auto page = s_.physMap->pageAt((q.firstPfn + i) << npt::kPageShift);
        if (!page) {
            if (q.type != HVMMEM_mmio_dm)
                return EINVAL;
            continue;
        }
        bool rom = page->kind == npt::RegionKind::Rom;
        if ((q.type == HVMMEM_ram_rw && rom) || (q.type == HVMMEM_ram_ro && !rom) ||
            q.type == HVMMEM_mmio_dm)
            return EOPNOTSUPP;
    }
    return 0;
}

int Dispatcher::relocateMemory(Request& r) {
    DmRelocateMemoryRequest q;
    if (!r.fixed(q))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (!s_.physMap)
        return ENOSYS;
    if (q.size == 0 || q.srcGfn >= kMaxGfn || q.dstGfn >= kMaxGfn || q.size > kMaxGfn - q.srcGfn ||
        q.size > kMaxGfn - q.dstGfn)
        return EINVAL;
    // Only device-model memory moves (the VGA LFB when its BAR moves), and
    // only as a whole region.
    auto region = s_.physMap->regionAt(q.srcGfn << npt::kPageShift);
    if (!region)
        return ENOENT;
    if (region->kind != npt::RegionKind::Overlay || region->gpa != q.srcGfn << npt::kPageShift ||
        region->size != uint64_t{q.size} << npt::kPageShift)
        return EINVAL;
    if (Status st = s_.physMap->moveRegion(region->id, q.dstGfn << npt::kPageShift); !st)
        return st.error().code;
    if (s_.ioreq)
        s_.ioreq->broadcastInvalidate();
    return 0;
}

int Dispatcher::pinCacheattr(Request& r) {
    DmPinCacheattrRequest q;
    if (!r.fixed(q))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (q.start > q.end || q.end >= kMaxGfn)
        return EINVAL;
    switch (q.type) {
    case kCacheattrUc:
    case kCacheattrWc:
    case kCacheattrWt:
    case kCacheattrWp:
    case kCacheattrWb:
    case kCacheattrUcMinus:
    case kCacheattrDelete:
        // KVM follows the guest's own PAT and MTRRs; there is nothing to pin.
        return 0;
    default:
        return EINVAL;
    }
}

int Dispatcher::populatePhysmap(Request& r) {
    DmPopulatePhysmapRequest q;
    std::vector<uint64_t> gpfns;
    if (!r.fixed(q, false) || !r.array<DmPopulatePhysmapRequest>(q.count, gpfns))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (!s_.physMap)
        return ENOSYS;
    // QEMU populates order-0 extents with no flags (xen_ram_alloc).
    if (q.extentOrder != 0 || q.memFlags != 0)
        return EINVAL;
    if (q.count > kMaxPopulatedPages - populatedPages_)
        return ENOMEM;
    std::vector<uint64_t> sorted = gpfns;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
        return EINVAL;
    for (uint64_t gpfn : sorted) {
        if (gpfn >= kMaxGfn)
            return EINVAL;
        if (s_.physMap->pageAt(gpfn << npt::kPageShift))
            return EEXIST;
    }
    // Contiguous runs become one region each (one memslot, not one per page).
    std::vector<npt::RegionId> made;
    for (size_t i = 0; i < sorted.size();) {
        size_t j = i + 1;
        while (j < sorted.size() && sorted[j] == sorted[j - 1] + 1)
            ++j;
        auto id = s_.physMap->addDeviceRam(sorted[i] << npt::kPageShift, (j - i) << npt::kPageShift,
                                           "device-model memory");
        if (!id) {
            for (auto undo : made)
                (void)s_.physMap->removeRegion(undo);
            return id.error().code;
        }
        made.push_back(*id);
        i = j;
    }
    populatedPages_ += q.count;
    return 0;
}

// --- domain

int Dispatcher::getHvmParam(Request& r) {
    DmHvmParamRequest q;
    if (!r.fixed(q))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (!s_.params)
        return ENOSYS;
    if (q.index >= HVM_NR_PARAMS)
        return EINVAL;
    // A device model (another domain) may read every parameter.
    r.value = s_.params->get(q.index);
    return 0;
}

int Dispatcher::setHvmParam(Request& r) {
    DmHvmParamRequest q;
    if (!r.fixed(q))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (!s_.params)
        return ENOSYS;
    if (q.index >= HVM_NR_PARAMS)
        return EINVAL;
    // hvm_allow_set_param: another domain may set any parameter except the
    // deprecated ones, and these only once (a new non-zero value is EEXIST).
    switch (q.index) {
    case HVM_PARAM_PAE_ENABLED:
    case HVM_PARAM_DM_DOMAIN:
    case HVM_PARAM_MEMORY_EVENT_CR0:
    case HVM_PARAM_MEMORY_EVENT_CR3:
    case HVM_PARAM_MEMORY_EVENT_CR4:
    case HVM_PARAM_MEMORY_EVENT_INT3:
    case HVM_PARAM_NESTEDHVM:
    case HVM_PARAM_MEMORY_EVENT_SINGLE_STEP:
    case HVM_PARAM_BUFIOREQ_EVTCHN:
    case HVM_PARAM_MEMORY_EVENT_MSR:
        return EINVAL;
    case HVM_PARAM_VIRIDIAN:
    case HVM_PARAM_IOREQ_PFN:
    case HVM_PARAM_BUFIOREQ_PFN:
    case HVM_PARAM_IOREQ_SERVER_PFN:
    case HVM_PARAM_NR_IOREQ_SERVER_PAGES:
    case HVM_PARAM_ALTP2M:
    case HVM_PARAM_MCA_CAP: {
        uint64_t now = s_.params->get(q.index);
        if (now != 0 && now != q.value)
            return EEXIST;
        break;
    }
    default:
        break;
    }
    // hvm_set_param's value checks for what a device model might set.
    switch (q.index) {
    case HVM_PARAM_TIMER_MODE:
        if (q.value > HVMPTM_one_missed_tick_pending)
            return EINVAL;
        break;
    case HVM_PARAM_TRIPLE_FAULT_REASON:
        if (q.value > SHUTDOWN_MAX)
            return EINVAL;
        break;
    case HVM_PARAM_X87_FIP_WIDTH:
        if (q.value != 0 && q.value != 4 && q.value != 8)
            return EINVAL;
        break;
    case HVM_PARAM_ACPI_S_STATE:
        if (q.value != 0 && q.value != 3)
            return EINVAL;
        break;
    default:
        break;
    }
    s_.params->set(q.index, q.value);
    return 0;
}

int Dispatcher::shutdown(Request& r) {
    DmShutdownRequest q;
    if (!r.fixed(q))
        return EINVAL;
    if (q.domid != s_.domid)
        return ESRCH;
    if (q.reason > kMaxShutdownReason)
        return EINVAL;
    if (s_.shutdown)
        s_.shutdown(q.reason);
    return 0;
}

// --- grant tables

namespace {

int grantErrno(int16_t status) {
    switch (status) {
    case GNTST_bad_domain:
        return ESRCH;
    case GNTST_bad_page:
    case GNTST_bad_virt_addr:
        return EFAULT;
    case GNTST_permission_denied:
        return EPERM;
    case GNTST_no_device_space:
        return ENOMEM;
    default:
        return EINVAL;
    }
}

} // namespace

int Dispatcher::mapGrants(Request& r) {
    DmMapGrantsRequest q;
    std::vector<DmGrantRef> refs;
    if (!r.fixed(q, false) || !r.array<DmMapGrantsRequest>(q.count, refs))
        return EINVAL;
    if ((q.prot & ~kProtMask) || !(q.prot & PROT_READ) || q.count == 0)
        return EINVAL;
    if (q.count > kMaxReplyBody / sizeof(DmPfnSlot))
        return E2BIG;
    if (!s_.grants || !s_.physMap)
        return ENOSYS;
    for (const auto& ref : refs)
        if (ref.domid != s_.domid)
            return ESRCH;
    // Granted pages are guest RAM: they live in the RAM memfd.
    uint8_t* ramBase = s_.physMap->ramPage(0).hva;
    const uint64_t ramSize = s_.physMap->ramBytes();
    GrantGroup group;
    std::vector<DmPfnSlot> slots(q.count);
    int error = 0;
    for (uint32_t i = 0; i < q.count && !error; ++i) {
        xen::GrantMapping m;
        int16_t st = s_.grants->map(refs[i].ref, !(q.prot & PROT_WRITE), m);
        if (st != GNTST_okay) {
            error = grantErrno(st);
            break;
        }
        group.handles.push_back(m.handle);
        if (m.page < ramBase || m.page >= ramBase + ramSize) {
            error = EFAULT;
            break;
        }
        fillSlot(r, slots[i], s_.physMap->ramFd(), static_cast<uint64_t>(m.page - ramBase));
        if (slots[i].error)
            error = slots[i].error;
    }
    if (error) {
        for (uint32_t h : group.handles)
            s_.grants->unmap(h);
        return error;
    }
    uint64_t id = nextGrantGroup_++;
    grantGroups_[id] = std::move(group);
    r.value = id;
    for (const auto& slot : slots)
        r.put(slot);
    return 0;
}

int Dispatcher::unmapGrants(Request& r) {
    DmUnmapGrantsRequest q;
    if (!r.fixed(q))
        return EINVAL;
    auto it = grantGroups_.find(q.handle);
    if (it == grantGroups_.end())
        return EINVAL;
    if (s_.grants)
        for (uint32_t h : it->second.handles)
            s_.grants->unmap(h);
    grantGroups_.erase(it);
    return 0;
}

int Dispatcher::grantCopy(Request& r) {
    DmGrantCopyRequest q;
    if (!r.fixed(q, false) || q.pad)
        return EINVAL;
    size_t room = (r.body.size() - sizeof q) / sizeof(DmGrantCopySegment);
    if (q.count == 0 || q.count > room)
        return EINVAL;
    std::vector<DmGrantCopySegment> segs(q.count);
    std::memcpy(segs.data(), r.body.data() + sizeof q, q.count * sizeof(DmGrantCopySegment));
    size_t inBytes = 0, outBytes = 0;
    for (const auto& s : segs) {
        if (s.toGuest > 1 || !allZero(s.pad) || s.length == 0 ||
            uint32_t{s.offset} + s.length > npt::kPageSize)
            return EINVAL;
        (s.toGuest ? inBytes : outBytes) += s.length;
    }
    if (r.body.size() != sizeof q + q.count * sizeof(DmGrantCopySegment) + inBytes)
        return EINVAL;
    if (q.count * sizeof(int16_t) + outBytes > kMaxReplyBody)
        return E2BIG;
    if (!s_.grants)
        return ENOSYS;
    const uint8_t* in = r.body.data() + sizeof q + q.count * sizeof(DmGrantCopySegment);
    std::vector<int16_t> status(q.count);
    std::vector<uint8_t> out;
    for (uint32_t i = 0; i < q.count; ++i) {
        const auto& s = segs[i];
        if (s.domid != s_.domid) {
            status[i] = GNTST_bad_domain;
        } else if (s.toGuest) {
            status[i] = s_.grants->copyToGrant(s.ref, s.offset, {in, s.length});
        } else {
            std::vector<uint8_t> bytes(s.length);
            status[i] = s_.grants->copyFromGrant(s.ref, s.offset, bytes);
            if (status[i] == GNTST_okay)
                out.insert(out.end(), bytes.begin(), bytes.end());
        }
        if (s.toGuest)
            in += s.length;
    }
    for (int16_t st : status)
        r.put(st);
    r.reply.insert(r.reply.end(), out.begin(), out.end());
    return 0;
}

} // namespace basalt::devmodel
