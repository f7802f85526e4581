// physdev_op: an HVM domU without PIRQs (Basalt never gives it
// XENFEAT_hvm_pirqs) gets -ENOSYS for every subop, as from Xen 4.17's
// hvm_physdev_op. Guests probe a few (get_free_pirq, map_pirq) and fall back.

#include "vmm/xen/handlers.h"
#include "vmm/xen/xen_headers.h"

namespace basalt::xen {

int64_t hypercallPhysdevOp(HypercallContext& ctx) {
    (void)ctx;
    return -XEN_ENOSYS;
}

} // namespace basalt::xen
