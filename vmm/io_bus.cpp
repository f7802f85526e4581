#include "vmm/io_bus.h"

#include "base/format.h"
#include "base/log.h"

#include <cinttypes>
#include <cstring>
#include <mutex>

namespace basalt {

BASALT_LOG_CATEGORY(IoBusLog, "iobus");

namespace {

constexpr uint8_t kAllOnes = 0xFF;

const char* spaceName(AddressSpace space) {
    return space == AddressSpace::Pio ? "port" : "MMIO";
}

uint64_t valueOf(std::span<const uint8_t> data) {
    uint64_t v = 0;
    std::memcpy(&v, data.data(), std::min(data.size(), sizeof v));
    return v;
}

} // namespace

Status IoBus::add(AddressSpace space, uint64_t base, uint64_t length,
                  std::shared_ptr<BusDevice> device, std::string name) {
    if (length == 0 || base + length < base)
        return makeError(EINVAL, name + ": empty or wrapping " + spaceName(space) + " range");
    if (space == AddressSpace::Pio && base + length > kPioSpaceSize)
        return makeError(EINVAL, name + ": port range beyond 0xFFFF");
    if (!device)
        return makeError(EINVAL, name + ": no device");

    std::unique_lock lock(mutex_);
    RangeMap& ranges = map(space);
    // The only ranges that can overlap [base, base+length) are the last one
    // starting below base+length.
    auto next = ranges.lower_bound(base + length);
    if (next != ranges.begin()) {
        auto prev = std::prev(next);
        if (prev->first + prev->second.length > base)
            return makeError(EEXIST, formatString("%s: %s range %#" PRIx64 "+%#" PRIx64
                                                  " overlaps %s at %#" PRIx64 "+%#" PRIx64,
                                                  name.c_str(), spaceName(space), base, length,
                                                  prev->second.name.c_str(), prev->first,
                                                  prev->second.length));
    }
    ranges.emplace(base, Range{length, std::move(device), std::move(name)});
    return {};
}

Status IoBus::remove(AddressSpace space, uint64_t base) {
    std::unique_lock lock(mutex_);
    if (map(space).erase(base) == 0)
        return makeError(ENOENT, std::string("no ") + spaceName(space) + " range registered at " +
                                     std::to_string(base));
    return {};
}

std::shared_ptr<BusDevice> IoBus::find(AddressSpace space, uint64_t address, uint64_t size,
                                       uint64_t& offset) const {
    std::shared_lock lock(mutex_);
    const RangeMap& ranges = map(space);
    auto it = ranges.upper_bound(address);
    if (it == ranges.begin())
        return nullptr;
    --it;
    uint64_t start = it->first;
    uint64_t end = start + it->second.length;
    if (address >= end || address + size > end || address + size < address)
        return nullptr;
    offset = address - start;
    return it->second.device;
}

std::string IoBus::claimant(AddressSpace space, uint64_t address) const {
    std::shared_lock lock(mutex_);
    const RangeMap& ranges = map(space);
    auto it = ranges.upper_bound(address);
    if (it == ranges.begin())
        return {};
    --it;
    return address < it->first + it->second.length ? it->second.name : std::string();
}

// Separate call sites keep separate rate limiters: a flood of unclaimed port
// accesses must not hide the first unclaimed MMIO access, and vice versa.
void IoBus::unclaimedRead(AddressSpace space, uint64_t address, std::span<uint8_t> data) {
    std::memset(data.data(), kAllOnes, data.size());
    if (space == AddressSpace::Pio)
        LOG_RATELIMITED(IoBusLog, Warn, "unclaimed port read at %#" PRIx64 " (%zu bytes)", address,
                        data.size());
    else
        LOG_RATELIMITED(IoBusLog, Warn, "unclaimed MMIO read at %#" PRIx64 " (%zu bytes)", address,
                        data.size());
}

void IoBus::unclaimedWrite(AddressSpace space, uint64_t address, std::span<const uint8_t> data) {
    if (space == AddressSpace::Pio)
        LOG_RATELIMITED(IoBusLog, Warn,
                        "unclaimed port write at %#" PRIx64 " (%zu bytes, %#" PRIx64 ")", address,
                        data.size(), valueOf(data));
    else
        LOG_RATELIMITED(IoBusLog, Warn,
                        "unclaimed MMIO write at %#" PRIx64 " (%zu bytes, %#" PRIx64 ")", address,
                        data.size(), valueOf(data));
}

void IoBus::read(AddressSpace space, uint64_t address, std::span<uint8_t> data) const {
    uint64_t offset = 0;
    if (auto device = find(space, address, data.size(), offset))
        device->read(offset, data);
    else
        unclaimedRead(space, address, data);
}

void IoBus::write(AddressSpace space, uint64_t address, std::span<const uint8_t> data) const {
    uint64_t offset = 0;
    if (auto device = find(space, address, data.size(), offset))
        device->write(offset, data);
    else
        unclaimedWrite(space, address, data);
}

void IoBus::handlePio(uint16_t port, uint8_t size, bool isWrite, uint32_t count,
                      uint8_t* data) const {
    if (!tryHandlePio(port, size, isWrite, count, data))
        unclaimedPio(port, size, isWrite, count, data);
}

bool IoBus::tryHandlePio(uint16_t port, uint8_t size, bool isWrite, uint32_t count,
                         uint8_t* data) const {
    uint64_t offset = 0;
    auto device = find(AddressSpace::Pio, port, size, offset);
    if (!device)
        return false;
    for (uint32_t i = 0; i < count; ++i) {
        std::span<uint8_t> item(data + static_cast<size_t>(i) * size, size);
        if (isWrite)
            device->write(offset, item);
        else
            device->read(offset, item);
    }
    return true;
}

void IoBus::unclaimedPio(uint16_t port, uint8_t size, bool isWrite, uint32_t count,
                         uint8_t* data) const {
    // One log line per exit, even for a long rep ins/outs.
    std::span<uint8_t> all(data, static_cast<size_t>(count) * size);
    if (isWrite)
        unclaimedWrite(AddressSpace::Pio, port, all.first(size));
    else
        unclaimedRead(AddressSpace::Pio, port, all);
}

bool IoBus::tryAccess(AddressSpace space, uint64_t address, bool isWrite,
                      std::span<uint8_t> data) const {
    uint64_t offset = 0;
    auto device = find(space, address, data.size(), offset);
    if (!device)
        return false;
    if (isWrite)
        device->write(offset, data);
    else
        device->read(offset, data);
    return true;
}

void IoBus::unclaimedAccess(AddressSpace space, uint64_t address, bool isWrite,
                            std::span<uint8_t> data) const {
    if (isWrite)
        unclaimedWrite(space, address, data);
    else
        unclaimedRead(space, address, data);
}

} // namespace basalt
