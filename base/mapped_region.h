#pragma once
// Owns one mmap()ed region and unmaps it exactly once.

#include "base/result.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace basalt {

class MappedRegion {
public:
    MappedRegion() = default;
    MappedRegion(void* addr, size_t size) : addr_(addr), size_(size) {}
    ~MappedRegion() { reset(); }

    MappedRegion(const MappedRegion&) = delete;
    MappedRegion& operator=(const MappedRegion&) = delete;
    MappedRegion(MappedRegion&& other) noexcept
        : addr_(std::exchange(other.addr_, nullptr)), size_(std::exchange(other.size_, 0)) {}
    MappedRegion& operator=(MappedRegion&& other) noexcept {
        if (this != &other) {
            reset();
            addr_ = std::exchange(other.addr_, nullptr);
            size_ = std::exchange(other.size_, 0);
        }
        return *this;
    }

    // mmap(nullptr, size, prot, flags, fd, offset) with errors as Result.
    static Result<MappedRegion> map(size_t size, int prot, int flags, int fd, off_t offset);

    uint8_t* data() const { return static_cast<uint8_t*>(addr_); }
    size_t size() const { return size_; }
    bool valid() const { return addr_ != nullptr; }
    std::span<uint8_t> bytes() const { return {data(), size_}; }

    void reset();

private:
    void* addr_ = nullptr;
    size_t size_ = 0;
};

} // namespace basalt
