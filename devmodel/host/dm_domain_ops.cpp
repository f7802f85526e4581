#include "devmodel/host/dm_request.h"

#include "npt/phys_map.h"
#include "vmm/xen/grant_host.h"
#include "vmm/xen/hvm_params.h"
#include "vmm/xen/xen_headers.h"

// Domain ops of the device-model host (HVM params, shutdown) and its grant
// maps and copies through the core's GrantHost.

namespace basalt::devmodel {

namespace {
constexpr uint32_t kMaxShutdownReason = SHUTDOWN_soft_reset;
} // namespace

// --- domain

int Dispatcher::getHvmParam(Request& r) {
    DmHvmParamRequest q;
    if (int rc = r.fixedFor(s_.domid, q))
        return rc;
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
    if (int rc = r.fixedFor(s_.domid, q))
        return rc;
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
    if (int rc = r.fixedFor(s_.domid, q))
        return rc;
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
