#pragma once
// An in-memory EventBitmaps for unit tests: the 2-level bits of one domain.

#include "vmm/xen/event_bitmaps.h"

#include <mutex>
#include <vector>

namespace basalt::xen::test {

class FakeEventBitmaps final : public EventBitmaps {
public:
    explicit FakeEventBitmaps(uint32_t vcpus, bool is64 = true)
        : bits_(is64 ? 64 : 32), pending_(maxPorts()), mask_(maxPorts()),
          selector_(vcpus, std::vector<bool>(bits_)), upcall_(vcpus) {}

    uint32_t maxPorts() const override { return bits_ * bits_; }
    uint32_t bitsPerWord() const override { return bits_; }
    bool testAndSetPending(uint32_t p) override { return testAndSet(pending_, p); }
    void clearPending(uint32_t p) override {
        std::lock_guard l(m_);
        if (p < pending_.size())
            pending_[p] = false;
    }
    bool isPending(uint32_t p) const override {
        std::lock_guard l(m_);
        return p < pending_.size() && pending_[p];
    }
    bool isMasked(uint32_t p) const override {
        std::lock_guard l(m_);
        return p >= mask_.size() || mask_[p];
    }
    void clearMask(uint32_t p) override {
        std::lock_guard l(m_);
        if (p < mask_.size())
            mask_[p] = false;
    }
    bool testAndSetSelector(uint32_t v, uint32_t w) override {
        std::lock_guard l(m_);
        bool old = selector_.at(v).at(w);
        selector_[v][w] = true;
        return old;
    }
    bool testAndSetUpcallPending(uint32_t v) override {
        std::lock_guard l(m_);
        bool old = upcall_.at(v);
        upcall_[v] = true;
        return old;
    }
    bool isUpcallPending(uint32_t v) const override {
        std::lock_guard l(m_);
        return v < upcall_.size() && upcall_[v];
    }

    // What the guest does with its own memory.
    void setMask(uint32_t p) {
        std::lock_guard l(m_);
        mask_.at(p) = true;
    }
    // The guest's upcall handler: clears upcall_pending and the selectors.
    void guestAck(uint32_t v) {
        std::lock_guard l(m_);
        upcall_.at(v) = false;
        selector_.at(v).assign(bits_, false);
    }

private:
    bool testAndSet(std::vector<bool>& bits, uint32_t p) {
        std::lock_guard l(m_);
        if (p >= bits.size())
            return true;
        bool old = bits[p];
        bits[p] = true;
        return old;
    }
    mutable std::mutex m_;
    uint32_t bits_;
    std::vector<bool> pending_, mask_;
    std::vector<std::vector<bool>> selector_;
    std::vector<bool> upcall_;
};

} // namespace basalt::xen::test
