// libxenforeignmemory.so.1: guest pages mapped into QEMU. Xen maps them
// through privcmd; Basalt asks the host where each pfn lives (MapPfns) and
// mmaps the backing fd (guest RAM's memfd, ioreq pages) directly.

#include "devmodel/lib/active_handle.h"
#include "devmodel/lib/dm_client.h"

// Xen's tools headers declare C functions without extern "C" themselves.
extern "C" {
#include <xenforeignmemory.h>
}

#include <algorithm>
#include <new>
#include <sys/mman.h>

using namespace basalt;
using namespace basalt::devmodel;

struct xenforeignmemory_handle {
    Xentoolcore__Active_Handle toolcore;
};

struct xenforeignmemory_resource_handle {
    void* addr = nullptr;
    unsigned long nrFrames = 0;
};

namespace {

// The most pfns one MapPfns exchange carries: both the request (8 bytes per
// pfn) and the reply (one DmPfnSlot per pfn) must fit in a packet.
constexpr size_t kPfnsPerRequest =
    std::min((DmClient::kMaxBody - sizeof(DmMapPfnsRequest)) / sizeof(uint64_t),
             DmClient::kMaxBody / sizeof(DmPfnSlot));

// The page protections a device model may ask for.
constexpr int kAllowedProt = PROT_READ | PROT_WRITE;

Result<DmReply> mapPfnBatch(uint32_t dom, int prot, const xen_pfn_t* pfns, size_t count) {
    DmMapPfnsRequest request{dom, static_cast<uint32_t>(prot), static_cast<uint32_t>(count), 0};
    std::vector<uint64_t> wire(pfns, pfns + count);
    auto reply = DmClient::instance().callWith(
        DmOp::MapPfns, request,
        {reinterpret_cast<const uint8_t*>(wire.data()), wire.size() * sizeof(uint64_t)},
        DmReplyBody::PfnSlots);
    if (reply && reply->slotFds.size() != count)
        return makeError(EPROTO, "MapPfns reply has the wrong number of slots");
    return reply;
}

// A reply has room for kDmMaxFdsPerReply new backings; pages on further new
// backings come back with EMFILE and are asked for again, each round bringing
// more fds, until none is left or a round makes no progress.
Status retryFdOverflow(uint32_t dom, int prot, const xen_pfn_t* pfns, std::vector<DmPfnSlot>& slots,
                       std::vector<int>& fds) {
    for (;;) {
        std::vector<size_t> again;
        for (size_t i = 0; i < slots.size(); ++i) {
            if (slots[i].error == EMFILE)
                again.push_back(i);
        }
        if (again.empty())
            return {};
        std::vector<xen_pfn_t> retry;
        for (size_t i : again)
            retry.push_back(pfns[i]);
        auto reply = mapPfnBatch(dom, prot, retry.data(), retry.size());
        if (!reply)
            return reply.error();
        auto retrySlots = bodyArray<DmPfnSlot>(*reply, retry.size());
        if (!retrySlots)
            return retrySlots.error();
        bool progress = false;
        for (size_t k = 0; k < again.size(); ++k) {
            progress |= (*retrySlots)[k].error != EMFILE;
            slots[again[k]] = (*retrySlots)[k];
            fds[again[k]] = reply->slotFds[k];
        }
        if (!progress)
            return {};
    }
}

void* mapPfns(uint32_t dom, void* addr, int prot, int flags, size_t num, const xen_pfn_t arr[],
              int err[]) {
    if (num == 0 || !arr || (prot & ~kAllowedProt)) {
        errno = EINVAL;
        return nullptr;
    }
    if (auto bound = DmClient::instance().bindDomain(dom); !bound)
        return failNull(bound.error());
    std::vector<DmPfnSlot> slots;
    std::vector<int> fds;
    slots.reserve(num);
    fds.reserve(num);
    for (size_t done = 0; done < num;) {
        const size_t batch = std::min(num - done, kPfnsPerRequest);
        auto reply = mapPfnBatch(dom, prot, arr + done, batch);
        if (!reply)
            return failNull(reply.error());
        auto batchSlots = bodyArray<DmPfnSlot>(*reply, batch);
        if (!batchSlots)
            return failNull(batchSlots.error());
        if (auto retried = retryFdOverflow(dom, prot, arr + done, *batchSlots, reply->slotFds);
            !retried)
            return failNull(retried.error());
        slots.insert(slots.end(), batchSlots->begin(), batchSlots->end());
        fds.insert(fds.end(), reply->slotFds.begin(), reply->slotFds.end());
        done += batch;
    }
    auto mapped = mapSlots(addr, flags, prot, slots, fds, err);
    if (!mapped)
        return failNull(mapped.error());
    return *mapped;
}

} // namespace

extern "C" {

xenforeignmemory_handle* xenforeignmemory_open(xentoollog_logger*, unsigned) {
    return guarded<xenforeignmemory_handle*>(nullptr, [&]() -> xenforeignmemory_handle* {
        if (auto ok = DmClient::instance().available(); !ok)
            return failNull(ok.error());
        auto* handle = new xenforeignmemory_handle{};
        registerHandle(handle->toolcore);
        return handle;
    });
}

int xenforeignmemory_close(xenforeignmemory_handle* fmem) {
    if (!fmem)
        return 0;
    xentoolcore__deregister_active_handle(&fmem->toolcore);
    delete fmem;
    return 0;
}

void* xenforeignmemory_map2(xenforeignmemory_handle*, uint32_t dom, void* addr, int prot, int flags,
                            size_t num, const xen_pfn_t arr[], int err[]) {
    return guarded<void*>(nullptr, [&] { return mapPfns(dom, addr, prot, flags, num, arr, err); });
}

void* xenforeignmemory_map(xenforeignmemory_handle*, uint32_t dom, int prot, size_t num,
                           const xen_pfn_t arr[], int err[]) {
    return guarded<void*>(nullptr, [&] { return mapPfns(dom, nullptr, prot, 0, num, arr, err); });
}

int xenforeignmemory_unmap(xenforeignmemory_handle*, void* addr, size_t num) {
    return munmap(addr, num << kXenPageShift);
}

int xenforeignmemory_restrict(xenforeignmemory_handle* fmem, domid_t domid) {
    return restrictToDomain(&fmem->toolcore, domid);
}

xenforeignmemory_resource_handle*
xenforeignmemory_map_resource(xenforeignmemory_handle*, domid_t domid, unsigned int type,
                              unsigned int id, unsigned long frame, unsigned long nr_frames,
                              void** paddr, int prot, int flags) {
    return guarded<xenforeignmemory_resource_handle*>(
        nullptr, [&]() -> xenforeignmemory_resource_handle* {
            // Xen accepts only the POSIX sharing flags here.
            if ((flags & ~(MAP_SHARED | MAP_PRIVATE)) || !paddr || (prot & ~kAllowedProt)) {
                errno = EINVAL;
                return nullptr;
            }
            // A size query (no address, no frames) has no wire op: Basalt's
            // resources have fixed sizes the device model already knows.
            if (nr_frames == 0 || nr_frames > DmClient::kMaxBody / sizeof(DmPfnSlot)) {
                errno = nr_frames == 0 ? EOPNOTSUPP : E2BIG;
                return nullptr;
            }
            if (auto bound = DmClient::instance().bindDomain(domid); !bound)
                return failNull(bound.error());
            DmMapResourceRequest request{domid, type,     id, static_cast<uint32_t>(prot),
                                         frame, nr_frames};
            auto reply = DmClient::instance().callWith(DmOp::MapResource, request, {},
                                                       DmReplyBody::PfnSlots);
            if (!reply)
                return failNull(reply.error());
            auto slots = bodyArray<DmPfnSlot>(*reply, nr_frames);
            if (!slots)
                return failNull(slots.error());
            // A resource maps whole or not at all (err == nullptr).
            auto mapped = mapSlots(*paddr, 0, prot, *slots, reply->slotFds, nullptr);
            if (!mapped)
                return failNull(mapped.error());
            auto* fres = new (std::nothrow) xenforeignmemory_resource_handle{*mapped, nr_frames};
            if (!fres) {
                munmap(*mapped, nr_frames << kXenPageShift);
                errno = ENOMEM;
                return nullptr;
            }
            *paddr = fres->addr;
            return fres;
        });
}

int xenforeignmemory_unmap_resource(xenforeignmemory_handle*,
                                    xenforeignmemory_resource_handle* fres) {
    if (!fres)
        return 0;
    int rc = munmap(fres->addr, fres->nrFrames << kXenPageShift);
    delete fres;
    return rc;
}
}
