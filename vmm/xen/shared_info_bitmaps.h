#pragma once
// EventBitmaps over the domain's SharedInfo page.

#include "vmm/xen/event_bitmaps.h"
#include "vmm/xen/shared_info.h"

namespace basalt::xen {

class SharedInfoBitmaps final : public EventBitmaps {
public:
    explicit SharedInfoBitmaps(SharedInfo& si) : si_(si) {}
    uint32_t maxPorts() const override { return si_.maxPorts(); }
    uint32_t bitsPerWord() const override { return si_.bitsPerWord(); }
    bool testAndSetPending(uint32_t port) override { return si_.testAndSetPending(port); }
    void clearPending(uint32_t port) override { si_.testAndClearPending(port); }
    bool isPending(uint32_t port) const override { return si_.isPending(port); }
    bool isMasked(uint32_t port) const override { return si_.isMasked(port); }
    void clearMask(uint32_t port) override { si_.clearMask(port); }
    bool testAndSetSelector(uint32_t vcpu, uint32_t word) override {
        return si_.testAndSetPendingSelector(vcpu, word);
    }
    bool testAndSetUpcallPending(uint32_t vcpu) override {
        return si_.testAndSetUpcallPending(vcpu);
    }
    bool isUpcallPending(uint32_t vcpu) const override { return si_.isUpcallPending(vcpu); }

private:
    SharedInfo& si_;
};

} // namespace basalt::xen
