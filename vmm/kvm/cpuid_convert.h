#pragma once
// Converts between Basalt's CpuidTable and KVM's variable-length kvm_cpuid2.
// Private to vmm/kvm/.
//
// Why not struct kvm_cpuid2: its flexible array comes from the UAPI macro
// __DECLARE_FLEX_ARRAY, which in C++ inserts an empty struct of size 1. That
// moves `entries` to offset 12 and makes sizeof 12, so both the layout and
// the ioctl numbers derived from the type are wrong. This buffer keeps the
// kernel's real layout (an 8-byte header, then the entries) and the ioctl
// numbers are rebuilt from the 8-byte header.

#include "base/cpuid.h"

#include <cstdint>
#include <linux/kvm.h>
#include <vector>

namespace basalt::kvm {

struct CpuidHeader {
    uint32_t nent;
    uint32_t padding;
};
static_assert(sizeof(CpuidHeader) == 8, "kvm_cpuid2 header is two u32");

inline constexpr unsigned long kIoctlGetSupportedCpuid = _IOWR(KVMIO, 0x05, CpuidHeader);
inline constexpr unsigned long kIoctlSetCpuid2 = _IOW(KVMIO, 0x90, CpuidHeader);

class CpuidBuffer {
public:
    static CpuidBuffer create(size_t entries);
    static CpuidBuffer fromTable(const CpuidTable& table);

    // What the ioctls take: the header followed by `nent` kvm_cpuid_entry2.
    void* get() { return storage_.data(); }
    CpuidTable toTable() const;

private:
    CpuidHeader& header() { return *reinterpret_cast<CpuidHeader*>(storage_.data()); }
    const CpuidHeader& header() const {
        return *reinterpret_cast<const CpuidHeader*>(storage_.data());
    }
    kvm_cpuid_entry2* entries() { return reinterpret_cast<kvm_cpuid_entry2*>(storage_.data() + 1); }
    const kvm_cpuid_entry2* entries() const {
        return reinterpret_cast<const kvm_cpuid_entry2*>(storage_.data() + 1);
    }

    // Word 0 is the 8-byte header; the entries follow, suitably aligned.
    std::vector<uint64_t> storage_;
};

} // namespace basalt::kvm
