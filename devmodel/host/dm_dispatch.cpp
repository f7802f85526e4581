#include "devmodel/host/dm_request.h"

#include "vmm/ioreq/ioreq_servers.h"
#include "vmm/xen/event_channels.h"
#include "vmm/xen/grant_host.h"
#include "vmm/xen/xen_headers.h"

#include <xen/hvm/dm_op.h>

#include <cstring>

// The device-model host's dispatcher: the op table, the packet framing, and
// the session, event-channel and ioreq-server ops. Memory, interrupts and
// the domain/grant ops are in dm_memory_ops.cpp, dm_interrupt_ops.cpp and
// dm_domain_ops.cpp.

namespace basalt::devmodel {

BASALT_LOG_CATEGORY(DmHost, "dmhost");

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
    out.bytes.resize(sizeof h + r.reply.size());
    std::memcpy(out.bytes.data(), &h, sizeof h);
    if (!r.reply.empty())
        std::memcpy(out.bytes.data() + sizeof h, r.reply.data(), r.reply.size());
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

// --- event channels

int Dispatcher::bindInterdomain(Request& r) {
    DmBindInterdomainRequest q;
    if (int rc = r.fixedFor(s_.domid, q))
        return rc;
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
    if (int rc = r.fixedFor(s_.domid, q))
        return rc;
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
    if (int rc = r.fixedFor(s_.domid, q))
        return rc;
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
    if (int rc = r.fixedFor(s_.domid, q))
        return rc;
    if (!s_.ioreq)
        return ENOSYS;
    return s_.ioreq->destroyServer(q.id);
}

} // namespace basalt::devmodel
