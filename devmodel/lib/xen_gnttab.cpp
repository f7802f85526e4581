// libxengnttab.so.1: grant maps and grant copies for QEMU's PV backends
// (xen-block, the console, 9pfs), through the core's grant host. The core
// keeps the GTF protocol (reading and flagging the guest's grant entries); this
// side only moves pages and bytes.
//
// Worked example (xen-block reads one sector into a guest grant, ref 8):
//   grant_copy([{source.virt=buf, dest.foreign={ref 8, offset 512, domid 1},
//               len 512, flags GNTCOPY_dest_gref}])
//   -> GrantCopy{count 1} + segment{1, 8, 512, 512, toGuest 1} + 512 bytes of buf
//   <- status [GNTST_okay]         (no bytes follow: nothing was copied from a guest)
//   segs[0].status = GNTST_okay; the call returns 0.
// A segment whose two sides are both grants (guest to guest) is not sent and
// gets GNTST_general_error; one whose two sides are both local fails the whole
// call with EINVAL, as Linux's gntdev does.

#include "devmodel/lib/active_handle.h"
#include "devmodel/lib/dm_client.h"

// Xen's tools headers declare C functions without extern "C" themselves.
extern "C" {
#include <xengnttab.h>
}

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <sys/mman.h>

using namespace basalt;
using namespace basalt::devmodel;

struct xengntdev_handle {
    Xentoolcore__Active_Handle toolcore;
    std::mutex mutex;
    // Mapping start -> (page count, the host's map handles for its pieces).
    struct Mapping {
        uint32_t count;
        std::vector<uint64_t> handles;
    };
    std::map<void*, Mapping> mappings;
    uint32_t maxGrants = 0; // 0: no limit
    uint64_t mappedPages = 0;
};

namespace {

constexpr int kAllowedProt = PROT_READ | PROT_WRITE;

// Both the request (one DmGrantRef each) and the reply (one slot each) fit.
constexpr size_t kRefsPerRequest =
    std::min((DmClient::kMaxBody - sizeof(DmMapGrantsRequest)) / sizeof(DmGrantRef),
             DmClient::kMaxBody / sizeof(DmPfnSlot));

void unmapHandles(const std::vector<uint64_t>& handles) {
    for (uint64_t handle : handles) {
        DmUnmapGrantsRequest request{handle};
        auto reply = DmClient::instance().callWith(DmOp::UnmapGrants, request);
        (void)reply; // the pages are gone locally either way; the host logs
    }
}

void* mapRefsUnchecked(xengnttab_handle* xgt, uint32_t count, const uint32_t* domids,
                       uint32_t domid, const uint32_t* refs, int prot);

// Maps `count` grants (of `domids[i]`, or all of `domid`) into one range.
void* mapRefs(xengnttab_handle* xgt, uint32_t count, const uint32_t* domids, uint32_t domid,
              const uint32_t* refs, int prot) {
    if (count == 0 || !refs || (prot & ~kAllowedProt)) {
        errno = EINVAL;
        return nullptr;
    }
    for (uint32_t i = 0; i < count; ++i) {
        if (auto bound = DmClient::instance().bindDomain(domids ? domids[i] : domid); !bound)
            return failNull(bound.error());
    }
    {
        // The limit counts every page the handle has mapped, as gntdev's did.
        std::lock_guard lock(xgt->mutex);
        if (xgt->maxGrants && xgt->mappedPages + count > xgt->maxGrants) {
            errno = ENOMEM;
            return nullptr;
        }
        xgt->mappedPages += count;
    }
    void* result = mapRefsUnchecked(xgt, count, domids, domid, refs, prot);
    if (!result) {
        int saved = errno;
        std::lock_guard lock(xgt->mutex);
        xgt->mappedPages -= count;
        errno = saved;
    }
    return result;
}

void* mapRefsUnchecked(xengnttab_handle* xgt, uint32_t count, const uint32_t* domids,
                       uint32_t domid, const uint32_t* refs, int prot) {
    std::vector<DmPfnSlot> slots;
    std::vector<int> fds;
    std::vector<uint64_t> handles;
    for (uint32_t done = 0; done < count;) {
        const uint32_t batch =
            static_cast<uint32_t>(std::min<size_t>(count - done, kRefsPerRequest));
        std::vector<DmGrantRef> wire(batch);
        for (uint32_t i = 0; i < batch; ++i)
            wire[i] = {domids ? domids[done + i] : domid, refs[done + i]};
        DmMapGrantsRequest request{batch, static_cast<uint32_t>(prot)};
        auto reply = DmClient::instance().callWith(
            DmOp::MapGrants, request,
            {reinterpret_cast<const uint8_t*>(wire.data()), wire.size() * sizeof(DmGrantRef)},
            DmReplyBody::PfnSlots);
        if (!reply) {
            unmapHandles(handles);
            return failNull(reply.error());
        }
        handles.push_back(reply->value);
        auto batchSlots = bodyArray<DmPfnSlot>(*reply, batch);
        if (!batchSlots) {
            unmapHandles(handles);
            return failNull(batchSlots.error());
        }
        slots.insert(slots.end(), batchSlots->begin(), batchSlots->end());
        fds.insert(fds.end(), reply->slotFds.begin(), reply->slotFds.end());
        done += batch;
    }
    // Grant maps are all or nothing (err == nullptr).
    auto mapped = mapSlots(nullptr, 0, prot, slots, fds, nullptr);
    if (!mapped) {
        unmapHandles(handles);
        return failNull(mapped.error());
    }
    std::lock_guard lock(xgt->mutex);
    xgt->mappings[*mapped] = {count, std::move(handles)};
    return *mapped;
}

// One wire segment and where its bytes live in the caller's memory.
struct PlannedSegment {
    size_t index; // into the caller's segs[]
    DmGrantCopySegment wire;
    uint8_t* local;
};

// Sends one batch and writes statuses (and copied-out bytes) back.
int copyBatch(xengnttab_grant_copy_segment_t* segs, const std::vector<PlannedSegment>& batch) {
    std::vector<uint8_t> tail;
    tail.reserve(batch.size() * sizeof(DmGrantCopySegment));
    for (const auto& p : batch) {
        auto* raw = reinterpret_cast<const uint8_t*>(&p.wire);
        tail.insert(tail.end(), raw, raw + sizeof(p.wire));
    }
    for (const auto& p : batch) {
        if (p.wire.toGuest)
            tail.insert(tail.end(), p.local, p.local + p.wire.length);
    }
    DmGrantCopyRequest request{static_cast<uint32_t>(batch.size()), 0};
    auto reply = DmClient::instance().callWith(DmOp::GrantCopy, request, tail);
    if (!reply)
        return failWith(reply.error());
    const size_t statusBytes = batch.size() * sizeof(int16_t);
    if (reply->body.size() < statusBytes) {
        errno = EPROTO;
        return -1;
    }
    std::vector<int16_t> status(batch.size());
    memcpy(status.data(), reply->body.data(), statusBytes);
    size_t expected = statusBytes;
    for (size_t i = 0; i < batch.size(); ++i) {
        // GNTST_* codes are 0 or small negatives.
        if (status[i] > GNTST_okay || status[i] < GNTST_eagain - 64) {
            errno = EPROTO;
            return -1;
        }
        if (!batch[i].wire.toGuest && status[i] == GNTST_okay)
            expected += batch[i].wire.length;
    }
    if (reply->body.size() != expected) {
        errno = EPROTO;
        return -1;
    }
    size_t at = statusBytes;
    for (size_t i = 0; i < batch.size(); ++i) {
        segs[batch[i].index].status = status[i];
        if (!batch[i].wire.toGuest && status[i] == GNTST_okay) {
            memcpy(batch[i].local, reply->body.data() + at, batch[i].wire.length);
            at += batch[i].wire.length;
        }
    }
    return 0;
}

int grantCopy(uint32_t count, xengnttab_grant_copy_segment_t* segs) {
    if (count && !segs) {
        errno = EINVAL;
        return -1;
    }
    std::vector<PlannedSegment> plan;
    for (uint32_t i = 0; i < count; ++i) {
        auto& seg = segs[i];
        const bool fromGrant = seg.flags & GNTCOPY_source_gref;
        const bool toGrant = seg.flags & GNTCOPY_dest_gref;
        if (!fromGrant && !toGrant) {
            errno = EINVAL;
            return -1;
        }
        if (fromGrant && toGrant) {
            seg.status = GNTST_general_error;
            continue;
        }
        const auto& foreign = toGrant ? seg.dest.foreign : seg.source.foreign;
        if (foreign.offset + seg.len > kXenPageSize) {
            errno = EINVAL;
            return -1;
        }
        if (seg.len == 0) { // nothing to move; the host accepts no empty segment
            seg.status = GNTST_okay;
            continue;
        }
        if (auto bound = DmClient::instance().bindDomain(foreign.domid); !bound)
            return failWith(bound.error());
        PlannedSegment p{i, {}, static_cast<uint8_t*>(toGrant ? seg.source.virt : seg.dest.virt)};
        p.wire.domid = foreign.domid;
        p.wire.ref = foreign.ref;
        p.wire.offset = foreign.offset;
        p.wire.length = seg.len;
        p.wire.toGuest = toGrant ? 1 : 0;
        plan.push_back(p);
    }
    // Batches keep both packets within kDmMaxPacket: the request carries the
    // to-guest bytes, the reply the from-guest bytes.
    std::vector<PlannedSegment> batch;
    size_t requestBytes = sizeof(DmGrantCopyRequest);
    size_t replyBytes = 0;
    for (const auto& p : plan) {
        const size_t addRequest = sizeof(DmGrantCopySegment) + (p.wire.toGuest ? p.wire.length : 0);
        const size_t addReply = sizeof(int16_t) + (p.wire.toGuest ? 0 : p.wire.length);
        if (!batch.empty() && (requestBytes + addRequest > DmClient::kMaxBody ||
                               replyBytes + addReply > DmClient::kMaxBody)) {
            if (copyBatch(segs, batch) != 0)
                return -1;
            batch.clear();
            requestBytes = sizeof(DmGrantCopyRequest);
            replyBytes = 0;
        }
        batch.push_back(p);
        requestBytes += addRequest;
        replyBytes += addReply;
    }
    if (!batch.empty() && copyBatch(segs, batch) != 0)
        return -1;
    return 0;
}

} // namespace

extern "C" {

xengnttab_handle* xengnttab_open(xentoollog_logger*, unsigned) {
    return guarded<xengnttab_handle*>(nullptr, [&]() -> xengnttab_handle* {
        if (auto ok = DmClient::instance().available(); !ok)
            return failNull(ok.error());
        auto* xgt = new xengnttab_handle{};
        registerHandle(xgt->toolcore);
        return xgt;
    });
}

int xengnttab_close(xengnttab_handle* xgt) {
    if (!xgt)
        return 0;
    xentoolcore__deregister_active_handle(&xgt->toolcore);
    // Like closing gntdev: every mapping of the handle is released.
    guarded(0, [&] {
        for (auto& [addr, mapping] : xgt->mappings) {
            munmap(addr, static_cast<size_t>(mapping.count) * kXenPageSize);
            unmapHandles(mapping.handles);
        }
        return 0;
    });
    delete xgt;
    return 0;
}

// The most pages this handle may have mapped at once (classic gntdev's
// per-file limit); 0 leaves it unlimited.
int xengnttab_set_max_grants(xengnttab_handle* xgt, uint32_t nr_grants) {
    std::lock_guard lock(xgt->mutex);
    xgt->maxGrants = nr_grants;
    return 0;
}

void* xengnttab_map_grant_ref(xengnttab_handle* xgt, uint32_t domid, uint32_t ref, int prot) {
    return guarded<void*>(nullptr, [&] { return mapRefs(xgt, 1, nullptr, domid, &ref, prot); });
}

void* xengnttab_map_grant_refs(xengnttab_handle* xgt, uint32_t count, uint32_t* domids,
                               uint32_t* refs, int prot) {
    return guarded<void*>(nullptr, [&] {
        if (!domids) {
            errno = EINVAL;
            return static_cast<void*>(nullptr);
        }
        return mapRefs(xgt, count, domids, 0, refs, prot);
    });
}

void* xengnttab_map_domain_grant_refs(xengnttab_handle* xgt, uint32_t count, uint32_t domid,
                                      uint32_t* refs, int prot) {
    return guarded<void*>(nullptr, [&] { return mapRefs(xgt, count, nullptr, domid, refs, prot); });
}

int xengnttab_unmap(xengnttab_handle* xgt, void* start_address, uint32_t count) {
    return guarded(-1, [&] {
        xengntdev_handle::Mapping mapping;
        {
            std::lock_guard lock(xgt->mutex);
            auto it = xgt->mappings.find(start_address);
            if (!start_address || it == xgt->mappings.end() || it->second.count != count) {
                errno = EINVAL;
                return -1;
            }
            mapping = std::move(it->second);
            xgt->mappings.erase(it);
            xgt->mappedPages -= count;
        }
        int rc = munmap(start_address, static_cast<size_t>(count) * kXenPageSize);
        unmapHandles(mapping.handles);
        return rc;
    });
}

int xengnttab_grant_copy(xengnttab_handle*, uint32_t count, xengnttab_grant_copy_segment_t* segs) {
    return guarded(-1, [&] { return grantCopy(count, segs); });
}
}
