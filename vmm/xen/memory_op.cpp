// memory_op: being implemented (issue "Xen HVM guest ABI"); answers -ENOSYS until then.

#include "vmm/xen/handlers.h"
#include "vmm/xen/xen_headers.h"

namespace basalt::xen {

int64_t hypercallMemoryOp(HypercallContext& ctx) {
    reportUnknownOnce("memory_op", 0, ctx.arg(0));
    return -XEN_ENOSYS;
}

} // namespace basalt::xen
