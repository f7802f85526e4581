// XenPlatform's memory accessors (declared at its "[memory, shared info,
// time, grants]" anchors): the platform owns one XenMemory.

#include "base/log.h"
#include "vmm/xen/xen_memory.h"
#include "vmm/xen/xen_platform.h"

namespace basalt::xen {

BASALT_LOG_CATEGORY(XenPlatformMem, "xen");

void XenPlatform::initMemory() {
    XenMemory::Config config;
    config.vcpuCount = config_.vcpuCount;
    auto memory = XenMemory::create(config, physMap_, systemTimeNs());
    if (!memory) {
        LOG(XenPlatformMem, Error, "shared_info and grant table: %s",
            memory.error().message.c_str());
        return;
    }
    xenMemory_ = std::move(memory).value();
}

XenMemory* XenPlatform::xenMemory() const {
    return xenMemory_.get();
}

SharedInfo* XenPlatform::sharedInfo() const {
    return xenMemory_ ? &xenMemory_->sharedInfo() : nullptr;
}

int XenPlatform::registerVcpuInfo(uint32_t vcpu, uint64_t gfn, uint32_t offset) {
    return xenMemory_ ? xenMemory_->registerVcpuInfo(vcpu, gfn, offset) : -XEN_ENOMEM;
}

void XenPlatform::refreshTime(uint32_t vcpu) {
    if (xenMemory_)
        xenMemory_->refreshTime(vcpu);
}

void XenPlatform::setTsc(uint64_t tscKhz, int64_t guestTscOffset) {
    if (xenMemory_)
        xenMemory_->setTsc(tscKhz, guestTscOffset, systemTimeNs());
}

void XenPlatform::latchSharedInfoLayout(bool longMode) {
    if (xenMemory_)
        xenMemory_->sharedInfo().latchLayout(longMode);
}

} // namespace basalt::xen
