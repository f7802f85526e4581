#pragma once
// A MemslotBackend for unit tests: it keeps slots the way KVM does (rejecting
// what KVM would reject), records every call, and lets tests play the guest:
// guestWrite() writes through a slot and logs the pages as KVM's dirty log
// would.

#include "npt/memslot_backend.h"
#include "npt/page.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <span>
#include <vector>

namespace basalt::npt::test {

class FakeMemslotBackend : public MemslotBackend {
public:
    struct Call {
        enum class Kind { Set, Remove } kind;
        MemslotSpec spec; // for Set
        uint32_t slot = 0;
    };

    explicit FakeMemslotBackend(uint32_t maxSlots = 32) : maxSlots_(maxSlots) {}

    uint32_t maxSlots() const override { return maxSlots_; }

    Status setSlot(const MemslotSpec& spec) override {
        if (failNextSetSlot != 0) {
            int code = failNextSetSlot;
            failNextSetSlot = 0;
            return makeError(code, "injected setSlot failure");
        }
        if (spec.slot >= maxSlots_ || spec.size == 0 || !isPageAligned(spec.gpa) ||
            !isPageAligned(spec.size) || !isPageAligned(reinterpret_cast<uintptr_t>(spec.hva)))
            return makeError(EINVAL, "bad memslot spec");
        for (const auto& [slot, other] : slots) {
            if (slot != spec.slot && spec.gpa < other.gpa + other.size &&
                other.gpa < spec.gpa + spec.size)
                return makeError(EEXIST, "memslots overlap");
        }
        auto existing = slots.find(spec.slot);
        if (existing != slots.end()) {
            // Like KVM, an existing slot may only change its flags here.
            const MemslotSpec& old = existing->second;
            if (old.gpa != spec.gpa || old.size != spec.size || old.hva != spec.hva)
                return makeError(EINVAL, "memslot moved or resized");
        }
        bool wasLogging = existing != slots.end() && existing->second.logDirty;
        slots[spec.slot] = spec;
        if (spec.logDirty && !wasLogging)
            logs[spec.slot].assign(words(spec), 0);
        if (!spec.logDirty)
            logs.erase(spec.slot);
        calls.push_back({Call::Kind::Set, spec, spec.slot});
        return {};
    }

    Status removeSlot(uint32_t slot) override {
        if (slots.erase(slot) == 0)
            return makeError(EINVAL, "no such memslot");
        logs.erase(slot);
        calls.push_back({Call::Kind::Remove, {}, slot});
        return {};
    }

    Status fetchAndClearDirtyLog(uint32_t slot, std::span<uint64_t> bitmap) override {
        auto it = logs.find(slot);
        if (it == logs.end())
            return makeError(ENOENT, "memslot has no dirty log");
        if (bitmap.size() < it->second.size())
            return makeError(EINVAL, "dirty bitmap too small");
        std::copy(it->second.begin(), it->second.end(), bitmap.begin());
        std::fill(it->second.begin(), it->second.end(), 0);
        ++fetches;
        return {};
    }

    // The slot mapping `gpa`, or nullptr.
    const MemslotSpec* slotAt(uint64_t gpa) const {
        for (const auto& [slot, spec] : slots)
            if (gpa >= spec.gpa && gpa - spec.gpa < spec.size)
                return &spec;
        return nullptr;
    }

    // A guest store of one byte: fails on ROM or outside slots (KVM would exit
    // to userspace), otherwise writes through the slot and logs the page.
    bool guestWriteByte(uint64_t gpa, uint8_t value) {
        const MemslotSpec* spec = slotAt(gpa);
        if (!spec || spec->readOnly)
            return false;
        static_cast<uint8_t*>(spec->hva)[gpa - spec->gpa] = value;
        markDirty(gpa);
        return true;
    }

    // Marks the page holding `gpa` dirty if its slot logs.
    void markDirty(uint64_t gpa) {
        const MemslotSpec* spec = slotAt(gpa);
        if (!spec || !spec->logDirty)
            return;
        uint64_t page = (gpa - spec->gpa) >> kPageShift;
        logs[spec->slot][page / 64] |= uint64_t{1} << (page % 64);
    }

    int failNextSetSlot = 0; // errno for the next setSlot to fail with; 0 = succeed
    int fetches = 0;
    std::vector<Call> calls;
    std::map<uint32_t, MemslotSpec> slots;
    std::map<uint32_t, std::vector<uint64_t>> logs;

private:
    static size_t words(const MemslotSpec& spec) { return (bytesToPages(spec.size) + 63) / 64; }

    uint32_t maxSlots_;
};

} // namespace basalt::npt::test
