// multicall: runs a batch of hypercalls and stores each result in its entry.
// Entries have the guest's word size (multicall_entry_t is 8 words of
// xen_ulong_t: 8 bytes for a 64-bit guest, 4 for a 32-bit one).

#include "vmm/xen/handlers.h"
#include "vmm/xen/xen_headers.h"
#include "vmm/xen/xen_platform.h"

#include <array>

namespace basalt::xen {

namespace {

constexpr uint64_t kMaxEntries = 256;  // Xen preempts long batches; Basalt caps them
constexpr unsigned kWordsPerEntry = 8; // op, result, args[6]
constexpr unsigned kArgsUsed = 5;

} // namespace

int64_t hypercallMulticall(HypercallContext& ctx) {
    uint64_t list = ctx.arg(0);
    uint64_t count = ctx.arg(1);
    if (count > kMaxEntries)
        return -XEN_EINVAL;
    const uint64_t wordBytes = ctx.longMode() ? 8 : 4;
    for (uint64_t i = 0; i < count; ++i) {
        uint64_t entry = list + i * kWordsPerEntry * wordBytes;
        std::array<uint64_t, kWordsPerEntry> words{};
        for (unsigned w = 0; w < kWordsPerEntry; ++w) {
            uint64_t word = 0;
            if (!ctx.copyFromGuest(entry + w * wordBytes,
                                   {reinterpret_cast<uint8_t*>(&word), wordBytes})
                     .ok())
                return -XEN_EFAULT;
            words[w] = word;
        }
        int64_t result;
        const HypercallEntry* target = findHypercall(static_cast<uint32_t>(words[0]));
        if (!target || words[0] == __HYPERVISOR_multicall) {
            result = -XEN_ENOSYS; // no nesting
        } else {
            std::array<uint64_t, kArgsUsed> args{words[2], words[3], words[4], words[5], words[6]};
            HypercallContext inner = ctx.withArgs(args);
            result = target->handler(inner);
        }
        uint64_t stored = static_cast<uint64_t>(result);
        if (!ctx.copyToGuest(entry + wordBytes, {reinterpret_cast<uint8_t*>(&stored), wordBytes})
                 .ok())
            return -XEN_EFAULT;
    }
    return 0;
}

} // namespace basalt::xen
