#pragma once
// Hypercall dispatch for HVM guests without KVM_CAP_XEN_HVM.
//
// The hypercall page holds one 32-byte stub per hypercall number:
//     mov eax, <nr> ; out 0xE4, eax ; ret
// The `out` exits to basalt-vmm; the core reads the vCPU's registers, takes
// the arguments per the guest's calling convention (64-bit: rdi, rsi, rdx,
// r10, r8; 32-bit: ebx, ecx, edx, esi, edi), runs the handler and puts the
// result in rax. Example: Linux's HYPERVISOR_xen_version(XENVER_version, NULL)
// lands here as nr=17, arg0=0 and returns 0x00040011 (4.17).
//
// Handlers get a HypercallContext and return a value for rax: a result, or a
// negative Xen errno (xen/errno.h). They must treat every argument as hostile.

#include "base/result.h"
#include "vmm/xen/page_walker.h"

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace basalt::npt {
class GuestMemory;
}

namespace basalt::xen {

class XenPlatform;

inline constexpr uint16_t kHypercallPort = 0xE4;
inline constexpr uint32_t kHypercallStubBytes = 32;
inline constexpr uint32_t kMaxHypercalls = 4096 / kHypercallStubBytes;

class HypercallContext {
public:
    HypercallContext(XenPlatform& xen, uint32_t vcpuId, npt::GuestMemory& memory,
                     const PagingState& paging, bool longMode, std::array<uint64_t, 5> args)
        : xen_(xen), vcpuId_(vcpuId), memory_(memory), paging_(paging), longMode_(longMode),
          args_(args) {}

    XenPlatform& xen() { return xen_; }
    uint32_t vcpuId() const { return vcpuId_; }
    npt::GuestMemory& memory() { return memory_; }
    // 64-bit guest: full registers; 32-bit guest: zero-extended 32-bit values.
    uint64_t arg(unsigned i) const { return args_[i]; }
    bool longMode() const { return longMode_; }
    // The same call with other arguments (multicall entries).
    HypercallContext withArgs(std::array<uint64_t, 5> args) const {
        HypercallContext inner = *this;
        inner.args_ = args;
        return inner;
    }

    // Copies to and from guest-virtual addresses, page by page through the
    // guest's page tables. Failures are EFAULT; nothing is partially copied
    // into host buffers the caller then trusts.
    Status copyFromGuest(uint64_t gva, std::span<uint8_t> out) const;
    Status copyToGuest(uint64_t gva, std::span<const uint8_t> in) const;
    template <typename T> Result<T> readGuest(uint64_t gva) const {
        static_assert(std::is_trivially_copyable_v<T>);
        T value{};
        BASALT_TRY(copyFromGuest(gva, {reinterpret_cast<uint8_t*>(&value), sizeof value}));
        return value;
    }
    template <typename T> Status writeGuest(uint64_t gva, const T& value) const {
        static_assert(std::is_trivially_copyable_v<T>);
        return copyToGuest(gva, {reinterpret_cast<const uint8_t*>(&value), sizeof value});
    }

private:
    XenPlatform& xen_;
    uint32_t vcpuId_;
    npt::GuestMemory& memory_;
    PagingState paging_;
    bool longMode_;
    std::array<uint64_t, 5> args_;
};

using HypercallHandler = int64_t (*)(HypercallContext& ctx);

struct HypercallEntry {
    uint32_t number;
    std::string_view name;
    HypercallHandler handler;
};

// The {name, handler} table: one row per hypercall family, defined in
// hypercall_table.cpp from the per-family files.
std::span<const HypercallEntry> hypercallTable();
const HypercallEntry* findHypercall(uint32_t number);

// Logs an unknown hypercall (subop 0) or an unknown subop of a known family,
// once per (family, number, subop), so a guest cannot flood the log.
void reportUnknownOnce(std::string_view family, uint32_t number, uint64_t subop);

// How a hypercall-page stub enters the core: `out 0xE4` (no KVM_CAP_XEN_HVM),
// or the vendor's hypercall instruction the kernel intercepts (xen_hvm.h).
enum class HypercallStub { PortIo, Vmcall, Vmmcall };

// Writes the stubs into a 4 KiB page image.
void fillHypercallPage(std::span<uint8_t, 4096> page, HypercallStub kind = HypercallStub::PortIo);

} // namespace basalt::xen
