#pragma once
// HVM parameters (xen/hvm/params.h): a table of values with Xen 4.17's rules
// for what the guest itself may read and write (hvm.c hvm_allow_get_param /
// hvm_allow_set_param). The toolstack side (the core) sets any of them.

#include <array>
#include <cstdint>
#include <mutex>

namespace basalt::xen {

class HvmParams {
public:
    static constexpr uint32_t kCount = 64; // >= HVM_NR_PARAMS

    // Guest access: 0 or a negative Xen errno (-EINVAL bad index, -EPERM not allowed).
    int guestGet(uint32_t index, uint64_t& value) const;
    int guestSet(uint32_t index, uint64_t value);

    // Toolstack access; indices are the core's own constants.
    uint64_t get(uint32_t index) const;
    void set(uint32_t index, uint64_t value);

    static bool guestMayGet(uint32_t index);
    static bool guestMaySet(uint32_t index);

private:
    mutable std::mutex mutex_;
    std::array<uint64_t, kCount> values_{};
};

} // namespace basalt::xen
