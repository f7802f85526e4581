// libxenctrl.so.4.17: the handful of libxenctrl calls QEMU makes for an HVM
// guest. The passthrough family (pirqs, passthrough IRQs, MSI binding, iomem
// and ioport access) has no meaning without PCI passthrough, which Basalt
// does not offer: those calls fail with EOPNOTSUPP, never a silent success.
//
// xenctrl.h needs GNU C++ (anonymous structs in Xen's public headers), which
// is why this file alone builds with -std=gnu++20.

// xenctrl.h first: it sets up the tools-only parts of Xen's public headers,
// which a header included before it would already have skipped. Xen's tools
// headers declare C functions without extern "C" themselves.
extern "C" {
#include <xenctrl.h>
}

#include "base/log.h"
#include "devmodel/lib/active_handle.h"
#include "devmodel/lib/dm_client.h"

#include <algorithm>

using namespace basalt;
using namespace basalt::devmodel;

struct xc_interface_core {
    Xentoolcore__Active_Handle toolcore;
};

namespace {

BASALT_LOG_CATEGORY(XenCtrl, "xenctrl");

// The most gpfns one PopulatePhysmap request carries.
constexpr size_t kGpfnsPerRequest =
    (DmClient::kMaxBody - sizeof(DmPopulatePhysmapRequest)) / sizeof(uint64_t);

int unsupported(const char* function) {
    LOG(XenCtrl, Warn, "%s: PCI passthrough is not supported by Basalt", function);
    errno = EOPNOTSUPP;
    return -1;
}

template <typename T> int simpleOp(uint32_t domid, DmOp op, const T& body, DmReply* out = nullptr) {
    return guarded(-1, [&] {
        if (auto bound = DmClient::instance().bindDomain(domid); !bound)
            return failWith(bound.error());
        auto reply = DmClient::instance().callWith(op, body);
        if (!reply)
            return failWith(reply.error());
        if (out)
            *out = std::move(*reply);
        return 0;
    });
}

} // namespace

extern "C" {

xc_interface* xc_interface_open(xentoollog_logger*, xentoollog_logger*, unsigned) {
    return guarded<xc_interface*>(nullptr, [&]() -> xc_interface* {
        if (auto ok = DmClient::instance().available(); !ok)
            return failNull(ok.error());
        auto* xch = new xc_interface{};
        registerHandle(xch->toolcore);
        return xch;
    });
}

int xc_interface_close(xc_interface* xch) {
    if (!xch)
        return 0;
    xentoolcore__deregister_active_handle(&xch->toolcore);
    delete xch;
    return 0;
}

// The host populates each packet's extents whole or not at all. A request
// larger than one packet goes in several, and a failure part-way leaves the
// earlier ones populated, as Xen's own partial progress does (it fails the
// call as well).
int xc_domain_populate_physmap_exact(xc_interface*, uint32_t domid, unsigned long nr_extents,
                                     unsigned int extent_order, unsigned int mem_flags,
                                     xen_pfn_t* extent_start) {
    return guarded(-1, [&] {
        if (nr_extents && !extent_start) {
            errno = EINVAL;
            return -1;
        }
        if (auto bound = DmClient::instance().bindDomain(domid); !bound)
            return failWith(bound.error());
        for (unsigned long done = 0; done < nr_extents;) {
            const size_t batch = std::min<size_t>(nr_extents - done, kGpfnsPerRequest);
            DmPopulatePhysmapRequest body{domid, extent_order, mem_flags,
                                          static_cast<uint32_t>(batch)};
            std::vector<uint64_t> gpfns(extent_start + done, extent_start + done + batch);
            auto reply = DmClient::instance().callWith(
                DmOp::PopulatePhysmap, body,
                {reinterpret_cast<const uint8_t*>(gpfns.data()), gpfns.size() * sizeof(uint64_t)});
            if (!reply)
                return failWith(reply.error());
            done += batch;
        }
        return 0;
    });
}

int xc_get_hvm_param(xc_interface*, uint32_t dom, int param, unsigned long* value) {
    DmReply reply;
    int rc = simpleOp(dom, DmOp::GetHvmParam,
                      DmHvmParamRequest{dom, static_cast<uint32_t>(param), 0}, &reply);
    if (rc == 0 && value)
        *value = reply.value;
    return rc;
}

int xc_set_hvm_param(xc_interface*, uint32_t dom, int param, unsigned long value) {
    return simpleOp(dom, DmOp::SetHvmParam,
                    DmHvmParamRequest{dom, static_cast<uint32_t>(param), value});
}

int xc_domain_shutdown(xc_interface*, uint32_t domid, int reason) {
    return simpleOp(domid, DmOp::Shutdown, DmShutdownRequest{domid, static_cast<uint32_t>(reason)});
}

int xc_physdev_map_pirq(xc_interface*, uint32_t, int, int*) {
    return unsupported(__func__);
}

int xc_physdev_map_pirq_msi(xc_interface*, uint32_t, int, int*, int, int, int, uint64_t) {
    return unsupported(__func__);
}

int xc_physdev_unmap_pirq(xc_interface*, uint32_t, int) {
    return unsupported(__func__);
}

int xc_domain_bind_pt_pci_irq(xc_interface*, uint32_t, uint8_t, uint8_t, uint8_t, uint8_t) {
    return unsupported(__func__);
}

int xc_domain_unbind_pt_irq(xc_interface*, uint32_t, uint8_t, uint8_t, uint8_t, uint8_t, uint8_t,
                            uint8_t) {
    return unsupported(__func__);
}

int xc_domain_update_msi_irq(xc_interface*, uint32_t, uint32_t, uint32_t, uint32_t, uint64_t) {
    return unsupported(__func__);
}

int xc_domain_unbind_msi_irq(xc_interface*, uint32_t, uint32_t, uint32_t, uint32_t) {
    return unsupported(__func__);
}

int xc_domain_iomem_permission(xc_interface*, uint32_t, unsigned long, unsigned long, uint8_t) {
    return unsupported(__func__);
}

int xc_domain_ioport_mapping(xc_interface*, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t) {
    return unsupported(__func__);
}

int xc_domain_memory_mapping(xc_interface*, uint32_t, unsigned long, unsigned long, unsigned long,
                             uint32_t) {
    return unsupported(__func__);
}
}
