// XenPlatform's event-channel, timer and vCPU-op state (xen_events.h).

#include "base/log.h"
#include "vmm/xen/shared_info_bitmaps.h"
#include "vmm/xen/xen_events.h"
#include "vmm/xen/xen_platform.h"

namespace basalt::xen {

BASALT_LOG_CATEGORY(XenPlatformEvents, "xen");

void XenPlatform::initEvents() {
    if (SharedInfo* si = sharedInfo())
        eventBits_ = std::make_shared<SharedInfoBitmaps>(*si);
    else
        eventBits_ = std::make_shared<NoEventBitmaps>();
    XenEventsConfig config;
    config.domid = config_.domid;
    config.vcpuCount = config_.vcpuCount;
    config.now = [this] { return systemTimeNs(); };
    config.setGsiLevel = config_.setGsiLevel;
    config.shutdown = [this](ShutdownReason reason, uint32_t vcpu) { shutdown(reason, vcpu); };
    config.registerVcpuInfo = [this](uint32_t vcpu, uint64_t gfn, uint32_t offset) {
        return registerVcpuInfo(vcpu, gfn, offset);
    };
    events_ = std::make_shared<XenEvents>(config, *eventBits_);
}

XenEvents& XenPlatform::events() const {
    return *events_;
}

void XenPlatform::holdVcpus(bool held) {
    if (events_)
        events_->sleepers().setHeld(held);
}

} // namespace basalt::xen
