#include "vmm/xen/debug_keys.h"

#include "base/log.h"
#include "vmm/xen/xen_events.h"
#include "vmm/xen/xen_headers.h"
#include "vmm/xen/xen_platform.h"

namespace basalt::xen {

BASALT_LOG_CATEGORY(DebugKeys, "debug-keys");

bool handleDebugKey(XenPlatform& xen, char key) {
    if (key != kDebugKeyDumpDomains)
        return false;
    // VIRQ_DEBUG is a per-vCPU VIRQ: each vCPU's own binding, if any, fires.
    XenEvents& events = xen.events();
    for (uint32_t vcpu = 0; vcpu < events.vcpuCount(); ++vcpu) {
        LOG(DebugKeys, Info, "debug key '%c': notifying vCPU %u (VIRQ_DEBUG)", key, vcpu);
        events.channels().sendVirq(vcpu, VIRQ_DEBUG);
    }
    return true;
}

} // namespace basalt::xen
