// console_io: CONSOLEIO_write puts guest text in the domain console log (as
// Xen's debug builds do for a domU); reading Xen's own console is refused.

#include "vmm/console.h"
#include "vmm/xen/handlers.h"
#include "vmm/xen/xen_headers.h"
#include "vmm/xen/xen_platform.h"

#include <vector>

namespace basalt::xen {

namespace {
constexpr uint64_t kMaxWriteBytes = 16 * 1024; // per call; longer writes are cut
}

int64_t hypercallConsoleIo(HypercallContext& ctx) {
    switch (ctx.arg(0)) {
    case CONSOLEIO_write: {
        uint64_t count = std::min<uint64_t>(ctx.arg(1), kMaxWriteBytes);
        std::vector<uint8_t> text(count);
        if (!ctx.copyFromGuest(ctx.arg(2), text).ok())
            return -XEN_EFAULT;
        ctx.xen().console().write(text);
        return 0;
    }
    case CONSOLEIO_read:
        return -XEN_EPERM; // only the control domain reads Xen's console ring
    default:
        reportUnknownOnce("console_io", __HYPERVISOR_console_io, ctx.arg(0));
        return -XEN_ENOSYS;
    }
}

} // namespace basalt::xen
