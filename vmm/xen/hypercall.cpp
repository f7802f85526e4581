#include "vmm/xen/hypercall.h"

#include "base/log.h"
#include "npt/guest_memory.h"

#include <algorithm>
#include <array>
#include <cinttypes>
#include <mutex>
#include <set>
#include <string>
#include <tuple>

namespace basalt::xen {

BASALT_LOG_CATEGORY(Hypercall, "hypercall");

namespace {

constexpr uint64_t kPageSize = 4096;
constexpr uint8_t kMovEaxImm32 = 0xB8;
constexpr uint8_t kOutImm8Eax = 0xE7;
constexpr uint8_t kRet = 0xC3;
constexpr uint8_t kInt3 = 0xCC;
constexpr std::array<uint8_t, 3> kVmcall = {0x0F, 0x01, 0xC1}; // Intel
constexpr uint8_t kVmmcallModRm = 0xD9;                        // AMD: 0F 01 D9
constexpr size_t kMaxReportedUnknown = 256; // bounds the memory a guest can make us use

// Copies [gva, gva+len) page by page; `fn(gpa, offset, chunk)` moves one chunk.
template <typename Fn>
Status forEachGuestPage(const npt::GuestMemory& memory, const PagingState& paging, uint64_t gva,
                        size_t len, AccessKind access, Fn&& fn) {
    size_t done = 0;
    while (done < len) {
        uint64_t linear = gva + done;
        size_t chunk = std::min<size_t>(len - done, kPageSize - (linear & (kPageSize - 1)));
        auto gpa = translateLinear(memory, paging, linear, access);
        if (!gpa.ok())
            return gpa.error();
        BASALT_TRY(fn(*gpa, done, chunk));
        done += chunk;
    }
    return {};
}

} // namespace

Status HypercallContext::copyFromGuest(uint64_t gva, std::span<uint8_t> out) const {
    return forEachGuestPage(memory_, paging_, gva, out.size(), AccessKind::Read,
                            [&](uint64_t gpa, size_t offset, size_t chunk) {
                                return memory_.read(gpa, out.subspan(offset, chunk));
                            });
}

Status HypercallContext::copyToGuest(uint64_t gva, std::span<const uint8_t> in) const {
    return forEachGuestPage(memory_, paging_, gva, in.size(), AccessKind::Write,
                            [&](uint64_t gpa, size_t offset, size_t chunk) {
                                return memory_.write(gpa, in.subspan(offset, chunk));
                            });
}

const HypercallEntry* findHypercall(uint32_t number) {
    for (const HypercallEntry& entry : hypercallTable())
        if (entry.number == number)
            return &entry;
    return nullptr;
}

void reportUnknownOnce(std::string_view family, uint32_t number, uint64_t subop) {
    static std::mutex mutex;
    static std::set<std::tuple<std::string, uint32_t, uint64_t>> seen;
    std::lock_guard lock(mutex);
    if (seen.size() >= kMaxReportedUnknown)
        return;
    if (!seen.emplace(std::string(family), number, subop).second)
        return;
    LOG(Hypercall, Info, "unsupported %.*s %u subop %" PRIu64 ": answered -ENOSYS",
        static_cast<int>(family.size()), family.data(), number, subop);
}

void fillHypercallPage(std::span<uint8_t, 4096> page, HypercallStub kind) {
    std::fill(page.begin(), page.end(), kInt3);
    for (uint32_t nr = 0; nr < kMaxHypercalls; ++nr) {
        uint8_t* stub = page.data() + nr * kHypercallStubBytes;
        stub[0] = kMovEaxImm32;
        stub[1] = static_cast<uint8_t>(nr);
        stub[2] = static_cast<uint8_t>(nr >> 8);
        stub[3] = 0;
        stub[4] = 0;
        switch (kind) {
        case HypercallStub::PortIo:
            stub[5] = kOutImm8Eax;
            stub[6] = kHypercallPort;
            stub[7] = kRet;
            break;
        case HypercallStub::Vmcall:
        case HypercallStub::Vmmcall:
            std::copy(kVmcall.begin(), kVmcall.end(), stub + 5);
            if (kind == HypercallStub::Vmmcall)
                stub[7] = kVmmcallModRm;
            stub[8] = kRet;
            break;
        }
    }
}

} // namespace basalt::xen
