#pragma once
// What npt/ needs from the hypervisor to map guest-physical memory. vmm/kvm's
// Vm implements it with KVM memslots; unit tests implement it with a fake.
// npt/ never includes KVM headers (DESIGN.md decision 1).

#include "base/result.h"

#include <cstdint>
#include <span>

namespace basalt::npt {

struct MemslotSpec {
    uint32_t slot = 0;   // backend slot number, chosen by npt (0..maxSlots()-1)
    uint64_t gpa = 0;    // guest-physical base, page aligned
    uint64_t size = 0;   // bytes, page aligned, > 0
    void* hva = nullptr; // host mapping backing the whole range
    bool readOnly = false;
    bool logDirty = false;
};

class MemslotBackend {
public:
    virtual ~MemslotBackend() = default;

    virtual uint32_t maxSlots() const = 0;
    // Creates or replaces the slot `spec.slot`.
    virtual Status setSlot(const MemslotSpec& spec) = 0;
    virtual Status removeSlot(uint32_t slot) = 0;
    // Copies the slot's dirty bitmap (one bit per 4 KiB page, bit i of word i/64
    // = page i of the slot) into `bitmap` and clears it in the hypervisor.
    // `bitmap` holds at least ceil(pages / 64) words.
    virtual Status fetchAndClearDirtyLog(uint32_t slot, std::span<uint64_t> bitmap) = 0;
};

} // namespace basalt::npt
