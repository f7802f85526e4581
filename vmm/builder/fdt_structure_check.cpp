#include "vmm/builder/fdt_structure_check.h"

#include "vmm/builder/describe.h"

#include <cstring>
#include <libfdt.h>

namespace basalt {
namespace {

constexpr uint32_t kRequiredVersion = 17;
constexpr uint64_t kTagSize = FDT_TAGSIZE;
constexpr uint64_t kReserveMapAlignment = 8;
constexpr uint64_t kPropHeaderBytes = 8; // len, nameoff (after the tag)

uint32_t be32At(std::span<const uint8_t> bytes, uint64_t offset) {
    fdt32_t raw;
    std::memcpy(&raw, bytes.data() + offset, sizeof(raw));
    return fdt32_to_cpu(raw);
}

uint64_t alignTag(uint64_t offset) {
    return (offset + kTagSize - 1) & ~(kTagSize - 1);
}

Error malformed(const std::string& why) {
    return makeError(EINVAL, "domain spec blob is malformed: " + why);
}

// Offsets of one block relative to the blob; all arithmetic in 64 bits.
struct Block {
    uint64_t offset;
    uint64_t size;
    uint64_t end() const { return offset + size; }
};

// Walks the structure block tag by tag.
class StructureWalk {
public:
    StructureWalk(std::span<const uint8_t> fdt, Block structure, Block strings, int maxDepth)
        : fdt_(fdt), structure_(structure), strings_(strings), maxDepth_(maxDepth) {}

    Status run() {
        uint64_t pos = structure_.offset;
        for (;;) {
            if (pos > structure_.end() || structure_.end() - pos < kTagSize)
                return malformed("the structure block ends without FDT_END");
            const uint64_t tagAt = pos;
            const uint32_t tag = be32At(fdt_, pos);
            pos += kTagSize;
            switch (tag) {
            case FDT_BEGIN_NODE: {
                auto next = beginNode(tagAt, pos);
                if (!next)
                    return next.error();
                pos = *next;
                break;
            }
            case FDT_END_NODE:
                if (depth_ == 0)
                    return malformed("unbalanced FDT_END_NODE at " + hexString(tagAt));
                if (--depth_ == 0)
                    rootClosed_ = true;
                break;
            case FDT_PROP: {
                auto next = property(tagAt, pos);
                if (!next)
                    return next.error();
                pos = *next;
                break;
            }
            case FDT_NOP:
                break;
            case FDT_END:
                if (!rootClosed_ || depth_ != 0)
                    return malformed("FDT_END at " + hexString(tagAt) + " inside a node");
                return {};
            default:
                return malformed("unknown tag " + hexString(tag) + " at " + hexString(tagAt));
            }
        }
    }

private:
    Result<uint64_t> beginNode(uint64_t tagAt, uint64_t nameAt) {
        if (rootClosed_)
            return malformed("a second root node at " + hexString(tagAt));
        const void* nul =
            std::memchr(fdt_.data() + nameAt, 0, static_cast<size_t>(structure_.end() - nameAt));
        if (!nul)
            return malformed("the node name at " + hexString(nameAt) + " is not terminated");
        const uint64_t nameLength =
            static_cast<uint64_t>(static_cast<const uint8_t*>(nul) - (fdt_.data() + nameAt));
        if (depth_ == 0 && nameLength != 0)
            return malformed("the root node has a name");
        if (++depth_ > maxDepth_ + 1) // the root is depth 1 here
            return malformed("nodes are nested more than " + std::to_string(maxDepth_) + " deep");
        return alignTag(nameAt + nameLength + 1);
    }

    Result<uint64_t> property(uint64_t tagAt, uint64_t pos) {
        if (depth_ == 0)
            return malformed("a property outside any node at " + hexString(tagAt));
        if (structure_.end() - pos < kPropHeaderBytes)
            return malformed("the property at " + hexString(tagAt) + " is truncated");
        const uint64_t length = be32At(fdt_, pos);
        const uint64_t nameOffset = be32At(fdt_, pos + 4);
        pos += kPropHeaderBytes;
        if (length > structure_.end() - pos)
            return malformed("the property at " + hexString(tagAt) + " claims " +
                             std::to_string(length) + " bytes, past the structure block");
        if (nameOffset >= strings_.size ||
            !std::memchr(fdt_.data() + strings_.offset + nameOffset, 0,
                         static_cast<size_t>(strings_.size - nameOffset)))
            return malformed("the property at " + hexString(tagAt) +
                             " has a name outside the strings block");
        return alignTag(pos + length);
    }

    std::span<const uint8_t> fdt_;
    Block structure_;
    Block strings_;
    int maxDepth_;
    int depth_ = 0;
    bool rootClosed_ = false;
};

} // namespace

Status checkFdtStructure(std::span<const uint8_t> fdt, int maxDepth) {
    if (fdt.size() < sizeof(fdt_header))
        return malformed("it is smaller than an FDT header");
    fdt_header h;
    std::memcpy(&h, fdt.data(), sizeof(h));
    if (fdt32_to_cpu(h.magic) != FDT_MAGIC)
        return malformed("bad magic");
    if (fdt32_to_cpu(h.totalsize) != fdt.size())
        return malformed("its size does not match its header");
    const uint32_t version = fdt32_to_cpu(h.version);
    if (version < kRequiredVersion || fdt32_to_cpu(h.last_comp_version) > kRequiredVersion)
        return malformed("FDT version " + std::to_string(version) + " (last compatible " +
                         std::to_string(fdt32_to_cpu(h.last_comp_version)) + "); version " +
                         std::to_string(kRequiredVersion) + " is required");

    const Block structure{fdt32_to_cpu(h.off_dt_struct), fdt32_to_cpu(h.size_dt_struct)};
    const Block strings{fdt32_to_cpu(h.off_dt_strings), fdt32_to_cpu(h.size_dt_strings)};
    const uint64_t reserveMap = fdt32_to_cpu(h.off_mem_rsvmap);
    for (const auto& [block, name] : {std::pair{structure, "structure"}, {strings, "strings"}})
        if (block.offset < sizeof(fdt_header) || block.end() > fdt.size())
            return malformed(std::string("the ") + name + " block lies outside the blob");
    if (structure.offset % kTagSize != 0)
        return malformed("the structure block is not 4-byte aligned");
    if (reserveMap < sizeof(fdt_header) || reserveMap > fdt.size() ||
        reserveMap % kReserveMapAlignment != 0)
        return malformed("the memory reservation map is misplaced");

    return StructureWalk(fdt, structure, strings, maxDepth).run();
}

} // namespace basalt
