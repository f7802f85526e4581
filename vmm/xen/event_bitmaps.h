#pragma once
// The guest-visible bits event channels drive: evtchn_pending/evtchn_mask in
// shared_info and each vCPU's evtchn_pending_sel/evtchn_upcall_pending. An
// interface so the port logic is unit-tested without a domain; the domain's
// implementation forwards to SharedInfo (shared_info_bitmaps.h).

#include <cstdint>

namespace basalt::xen {

class EventBitmaps {
public:
    virtual ~EventBitmaps() = default;
    // 2-level ports the guest's layout can name (1024 or 4096), bits per word.
    virtual uint32_t maxPorts() const = 0;
    virtual uint32_t bitsPerWord() const = 0;
    // "testAnd" operations return the bit's previous value.
    virtual bool testAndSetPending(uint32_t port) = 0;
    virtual void clearPending(uint32_t port) = 0;
    virtual bool isPending(uint32_t port) const = 0;
    virtual bool isMasked(uint32_t port) const = 0;
    virtual void clearMask(uint32_t port) = 0;
    virtual bool testAndSetSelector(uint32_t vcpu, uint32_t word) = 0;
    virtual bool testAndSetUpcallPending(uint32_t vcpu) = 0;
    virtual bool isUpcallPending(uint32_t vcpu) const = 0;
};

// No shared_info page (its allocation failed): no port can be allocated,
// so no event is ever raised; sched_op and vcpu_op still work.
class NoEventBitmaps final : public EventBitmaps {
public:
    uint32_t maxPorts() const override { return 0; }
    uint32_t bitsPerWord() const override { return 64; }
    bool testAndSetPending(uint32_t) override { return true; }
    void clearPending(uint32_t) override {}
    bool isPending(uint32_t) const override { return false; }
    bool isMasked(uint32_t) const override { return true; }
    void clearMask(uint32_t) override {}
    bool testAndSetSelector(uint32_t, uint32_t) override { return true; }
    bool testAndSetUpcallPending(uint32_t) override { return true; }
    bool isUpcallPending(uint32_t) const override { return false; }
};

} // namespace basalt::xen
