#include "vmm/kvm/cpuid_convert.h"

namespace basalt::kvm {

CpuidBuffer CpuidBuffer::create(size_t entries) {
    CpuidBuffer b;
    size_t bytes = sizeof(CpuidHeader) + entries * sizeof(kvm_cpuid_entry2);
    b.storage_.assign((bytes + sizeof(uint64_t) - 1) / sizeof(uint64_t), 0);
    b.header().nent = static_cast<uint32_t>(entries);
    return b;
}

CpuidBuffer CpuidBuffer::fromTable(const CpuidTable& table) {
    CpuidBuffer b = create(table.size());
    for (size_t i = 0; i < table.size(); ++i) {
        kvm_cpuid_entry2& e = b.entries()[i];
        e.function = table[i].function;
        e.index = table[i].index;
        e.flags = table[i].significantIndex ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
        e.eax = table[i].eax;
        e.ebx = table[i].ebx;
        e.ecx = table[i].ecx;
        e.edx = table[i].edx;
    }
    return b;
}

CpuidTable CpuidBuffer::toTable() const {
    CpuidTable table;
    table.reserve(header().nent);
    for (uint32_t i = 0; i < header().nent; ++i) {
        const kvm_cpuid_entry2& e = entries()[i];
        table.push_back(CpuidEntry{e.function, e.index,
                                   (e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0, e.eax, e.ebx,
                                   e.ecx, e.edx});
    }
    return table;
}

} // namespace basalt::kvm
