// libxendevicemodel.so.1: Xen's dm_op calls, one wire op each. Xen returns
// 0 or -1 with errno for every one of them, and so does this library.

#include "devmodel/lib/active_handle.h"
#include "devmodel/lib/dm_client.h"

// Xen's tools headers declare C functions without extern "C" themselves.
extern "C" {
#include <xendevicemodel.h>
}

#include <algorithm>
#include <cstring>
#include <xen/hvm/dm_op.h>

using namespace basalt;
using namespace basalt::devmodel;

struct xendevicemodel_handle {
    Xentoolcore__Active_Handle toolcore;
};

namespace {

constexpr unsigned kBitsPerWord = 64;
// The most pages one TrackDirtyVram reply can report (a whole number of words).
constexpr uint32_t kDirtyPagesPerRequest =
    static_cast<uint32_t>(DmClient::kMaxBody / sizeof(uint64_t) * kBitsPerWord);

Result<DmReply> request(uint32_t domid, DmOp op, std::span<const uint8_t> body,
                        std::span<const uint8_t> tail = {}) {
    BASALT_TRY(DmClient::instance().bindDomain(domid));
    return DmClient::instance().call(op, body, tail);
}

template <typename T> int simpleOp(uint32_t domid, DmOp op, const T& body) {
    return guarded(-1, [&] {
        auto reply = request(domid, op, {reinterpret_cast<const uint8_t*>(&body), sizeof(T)});
        return reply ? 0 : failWith(reply.error());
    });
}

uint32_t ioRangeType(int isMmio) {
    return isMmio ? XEN_DMOP_IO_RANGE_MEMORY : XEN_DMOP_IO_RANGE_PORT;
}

} // namespace

extern "C" {

xendevicemodel_handle* xendevicemodel_open(xentoollog_logger*, unsigned int) {
    return guarded<xendevicemodel_handle*>(nullptr, [&]() -> xendevicemodel_handle* {
        if (auto ok = DmClient::instance().available(); !ok)
            return failNull(ok.error());
        auto* dmod = new xendevicemodel_handle{};
        registerHandle(dmod->toolcore);
        return dmod;
    });
}

int xendevicemodel_close(xendevicemodel_handle* dmod) {
    if (!dmod)
        return 0;
    xentoolcore__deregister_active_handle(&dmod->toolcore);
    delete dmod;
    return 0;
}

int xendevicemodel_restrict(xendevicemodel_handle* dmod, domid_t domid) {
    return restrictToDomain(&dmod->toolcore, domid);
}

int xendevicemodel_create_ioreq_server(xendevicemodel_handle*, domid_t domid, int handle_bufioreq,
                                       ioservid_t* id) {
    return guarded(-1, [&] {
        DmCreateIoreqServerRequest body{domid, static_cast<uint32_t>(handle_bufioreq)};
        auto reply = request(domid, DmOp::CreateIoreqServer,
                             {reinterpret_cast<const uint8_t*>(&body), sizeof(body)});
        if (!reply)
            return failWith(reply.error());
        if (reply->value > UINT16_MAX) {
            errno = EPROTO;
            return -1;
        }
        if (id)
            *id = static_cast<ioservid_t>(reply->value);
        return 0;
    });
}

int xendevicemodel_get_ioreq_server_info(xendevicemodel_handle*, domid_t domid, ioservid_t id,
                                         xen_pfn_t* ioreq_gfn, xen_pfn_t* bufioreq_gfn,
                                         evtchn_port_t* bufioreq_port) {
    return guarded(-1, [&] {
        DmServerRequest body{domid, id};
        auto reply = request(domid, DmOp::GetIoreqServerInfo,
                             {reinterpret_cast<const uint8_t*>(&body), sizeof(body)});
        if (!reply)
            return failWith(reply.error());
        auto info = bodyArray<DmIoreqServerInfoReply>(*reply, 1);
        if (!info)
            return failWith(info.error());
        if (ioreq_gfn)
            *ioreq_gfn = (*info)[0].ioreqGfn;
        if (bufioreq_gfn)
            *bufioreq_gfn = (*info)[0].bufioreqGfn;
        if (bufioreq_port)
            *bufioreq_port = (*info)[0].bufioreqPort;
        return 0;
    });
}

int xendevicemodel_map_io_range_to_ioreq_server(xendevicemodel_handle*, domid_t domid,
                                                ioservid_t id, int is_mmio, uint64_t start,
                                                uint64_t end) {
    return simpleOp(domid, DmOp::MapIoRange,
                    DmIoRangeRequest{domid, id, ioRangeType(is_mmio), 0, start, end});
}

int xendevicemodel_unmap_io_range_from_ioreq_server(xendevicemodel_handle*, domid_t domid,
                                                    ioservid_t id, int is_mmio, uint64_t start,
                                                    uint64_t end) {
    return simpleOp(domid, DmOp::UnmapIoRange,
                    DmIoRangeRequest{domid, id, ioRangeType(is_mmio), 0, start, end});
}

int xendevicemodel_map_pcidev_to_ioreq_server(xendevicemodel_handle*, domid_t domid, ioservid_t id,
                                              uint16_t segment, uint8_t bus, uint8_t device,
                                              uint8_t function) {
    return simpleOp(domid, DmOp::MapPciDev,
                    DmPciDevRequest{domid, id, segment, bus, device, function, {}});
}

int xendevicemodel_unmap_pcidev_from_ioreq_server(xendevicemodel_handle*, domid_t domid,
                                                  ioservid_t id, uint16_t segment, uint8_t bus,
                                                  uint8_t device, uint8_t function) {
    return simpleOp(domid, DmOp::UnmapPciDev,
                    DmPciDevRequest{domid, id, segment, bus, device, function, {}});
}

int xendevicemodel_destroy_ioreq_server(xendevicemodel_handle*, domid_t domid, ioservid_t id) {
    return simpleOp(domid, DmOp::DestroyIoreqServer, DmServerRequest{domid, id});
}

int xendevicemodel_set_ioreq_server_state(xendevicemodel_handle*, domid_t domid, ioservid_t id,
                                          int enabled) {
    return simpleOp(domid, DmOp::SetIoreqServerState,
                    DmServerStateRequest{domid, id, enabled ? 1u : 0u, 0});
}

int xendevicemodel_set_pci_intx_level(xendevicemodel_handle*, domid_t domid, uint16_t segment,
                                      uint8_t bus, uint8_t device, uint8_t intx,
                                      unsigned int level) {
    return simpleOp(
        domid, DmOp::SetPciIntxLevel,
        DmPciIntxRequest{domid, segment, bus, device, intx, static_cast<uint8_t>(level), {}});
}

int xendevicemodel_set_isa_irq_level(xendevicemodel_handle*, domid_t domid, uint8_t irq,
                                     unsigned int level) {
    return simpleOp(domid, DmOp::SetIsaIrqLevel,
                    DmIsaIrqRequest{domid, irq, static_cast<uint8_t>(level), {}});
}

int xendevicemodel_set_pci_link_route(xendevicemodel_handle*, domid_t domid, uint8_t link,
                                      uint8_t irq) {
    return simpleOp(domid, DmOp::SetPciLinkRoute, DmPciLinkRouteRequest{domid, link, irq, {}});
}

int xendevicemodel_inject_msi(xendevicemodel_handle*, domid_t domid, uint64_t msi_addr,
                              uint32_t msi_data) {
    return simpleOp(domid, DmOp::InjectMsi, DmMsiRequest{domid, msi_data, msi_addr});
}

int xendevicemodel_track_dirty_vram(xendevicemodel_handle*, domid_t domid, uint64_t first_pfn,
                                    uint32_t nr, unsigned long* dirty_bitmap) {
    static_assert(sizeof(unsigned long) == sizeof(uint64_t));
    return guarded(-1, [&] {
        if (nr == 0) // stops tracking
            return simpleOp(domid, DmOp::TrackDirtyVram,
                            DmTrackDirtyVramRequest{domid, 0, first_pfn});
        if (!dirty_bitmap) {
            errno = EINVAL;
            return -1;
        }
        // Each chunk covers whole words, so its bitmap lands at a word boundary.
        for (uint32_t done = 0; done < nr;) {
            const uint32_t chunk = std::min(nr - done, kDirtyPagesPerRequest);
            DmTrackDirtyVramRequest body{domid, chunk, first_pfn + done};
            auto reply = request(domid, DmOp::TrackDirtyVram,
                                 {reinterpret_cast<const uint8_t*>(&body), sizeof(body)});
            if (!reply)
                return failWith(reply.error());
            const size_t words = (chunk + kBitsPerWord - 1) / kBitsPerWord;
            if (reply->body.size() != words * sizeof(uint64_t)) {
                errno = EPROTO;
                return -1;
            }
            memcpy(dirty_bitmap + done / kBitsPerWord, reply->body.data(), reply->body.size());
            done += chunk;
        }
        return 0;
    });
}

int xendevicemodel_modified_memory(xendevicemodel_handle*, domid_t domid, uint64_t first_pfn,
                                   uint32_t nr) {
    return guarded(-1, [&] {
        DmModifiedMemoryRequest body{domid, 1};
        DmExtent extent{first_pfn, nr};
        auto reply = request(domid, DmOp::ModifiedMemory,
                             {reinterpret_cast<const uint8_t*>(&body), sizeof(body)},
                             {reinterpret_cast<const uint8_t*>(&extent), sizeof(extent)});
        return reply ? 0 : failWith(reply.error());
    });
}

int xendevicemodel_set_mem_type(xendevicemodel_handle*, domid_t domid, hvmmem_type_t mem_type,
                                uint64_t first_pfn, uint32_t nr) {
    return simpleOp(domid, DmOp::SetMemType,
                    DmSetMemTypeRequest{domid, static_cast<uint32_t>(mem_type), first_pfn, nr});
}

int xendevicemodel_shutdown(xendevicemodel_handle*, domid_t domid, unsigned int reason) {
    return simpleOp(domid, DmOp::Shutdown, DmShutdownRequest{domid, reason});
}

int xendevicemodel_relocate_memory(xendevicemodel_handle*, domid_t domid, uint32_t size,
                                   uint64_t src_gfn, uint64_t dst_gfn) {
    return simpleOp(domid, DmOp::RelocateMemory,
                    DmRelocateMemoryRequest{domid, size, src_gfn, dst_gfn});
}

int xendevicemodel_pin_memory_cacheattr(xendevicemodel_handle*, domid_t domid, uint64_t start,
                                        uint64_t end, uint32_t type) {
    return simpleOp(domid, DmOp::PinMemoryCacheattr,
                    DmPinCacheattrRequest{domid, type, start, end});
}
}
