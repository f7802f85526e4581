#include "vmm/devices/dirty_log_probe.h"

#include "base/log.h"
#include "npt/phys_map.h"

#include <cinttypes>
#include <cstring>

namespace basalt {

BASALT_LOG_CATEGORY(DirtyProbe, "dirty-probe");

namespace {
constexpr unsigned kPageShift = 12;
constexpr uint64_t kMaxWindowPages = 1u << 20; // 4 GiB: bounds what one CHECK scans
} // namespace

void DirtyLogProbe::read(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(mutex_);
    uint32_t value = offset == kCommand ? result_ : 0xFFFFFFFF;
    std::memset(data.data(), 0, data.size());
    std::memcpy(data.data(), &value, std::min(data.size(), sizeof value));
}

void DirtyLogProbe::write(uint64_t offset, std::span<const uint8_t> data) {
    uint32_t value = 0;
    std::memcpy(&value, data.data(), std::min(data.size(), sizeof value));
    std::lock_guard lock(mutex_);
    switch (offset) {
    case kCommand:
        if (value == kCommandBegin)
            begin();
        else if (value == kCommandCheck)
            check();
        else
            LOG_RATELIMITED(DirtyProbe, Warn, "unknown command %u", value);
        break;
    case kWindowStart:
        windowStart_ = value;
        break;
    case kWindowPages:
        windowPages_ = std::min<uint64_t>(value, kMaxWindowPages);
        break;
    case kDeclare:
        declared_.insert(value);
        break;
    default:
        LOG_RATELIMITED(DirtyProbe, Warn, "write to unknown register +%" PRIu64, offset);
    }
}

void DirtyLogProbe::begin() {
    declared_.clear();
    uint64_t gpa = windowStart_ << kPageShift;
    uint64_t end = gpa + (windowPages_ << kPageShift);
    for (const auto& region : physMap_.regions()) {
        if (region.gpa < end && gpa < region.gpa + region.size) {
            if (auto s = physMap_.setDirtyLogging(region.id, true); !s.ok())
                LOG(DirtyProbe, Error, "%s", s.error().message.c_str());
        }
    }
    // Discard whatever was logged before BEGIN.
    if (auto old = physMap_.fetchDirtyPages(gpa, windowPages_); !old.ok())
        LOG(DirtyProbe, Error, "%s", old.error().message.c_str());
}

void DirtyLogProbe::check() {
    auto dirty = physMap_.fetchDirtyPages(windowStart_ << kPageShift, windowPages_);
    if (!dirty.ok()) {
        LOG(DirtyProbe, Error, "%s", dirty.error().message.c_str());
        result_ = kResultMismatch;
        return;
    }
    std::set<uint64_t> logged(dirty->begin(), dirty->end());
    std::set<uint64_t> expected;
    for (uint64_t pfn : declared_)
        if (pfn >= windowStart_ && pfn < windowStart_ + windowPages_)
            expected.insert(pfn);

    result_ = logged == expected ? kResultMatch : kResultMismatch;
    for (uint64_t pfn : logged)
        if (!expected.count(pfn))
            LOG(DirtyProbe, Info, "pfn %#" PRIx64 " is dirty but was not declared", pfn);
    for (uint64_t pfn : expected)
        if (!logged.count(pfn))
            LOG(DirtyProbe, Info, "pfn %#" PRIx64 " was declared but is not dirty", pfn);
    LOG(DirtyProbe, Debug, "CHECK: %zu dirty, %zu declared: %s", logged.size(), expected.size(),
        result_ == kResultMatch ? "match" : "mismatch");
    declared_.clear();
}

} // namespace basalt
