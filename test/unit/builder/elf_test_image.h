#pragma once
// Builds tiny x86 ELF executables in memory for the kernel loader's unit tests
// and fuzz seeds. Layout: ELF header, program headers, then each segment's
// bytes in order, so tests can patch headers at known offsets.

#include <cstdint>
#include <cstring>
#include <elf.h>
#include <vector>

namespace basalt::test {

struct TestSegment {
    uint64_t paddr = 0;
    std::vector<uint8_t> data;
    uint64_t memSize = 0; // 0: data.size()
    uint32_t type = PT_LOAD;
};

template <typename Ehdr, typename Phdr>
std::vector<uint8_t> makeElf(unsigned char elfClass, uint16_t machine, uint64_t entry,
                             const std::vector<TestSegment>& segments) {
    Ehdr eh{};
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = elfClass;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = machine;
    eh.e_version = EV_CURRENT;
    eh.e_entry = static_cast<decltype(eh.e_entry)>(entry);
    eh.e_phoff = sizeof(Ehdr);
    eh.e_ehsize = sizeof(Ehdr);
    eh.e_phentsize = sizeof(Phdr);
    eh.e_phnum = static_cast<uint16_t>(segments.size());

    std::vector<uint8_t> file(sizeof(Ehdr) + segments.size() * sizeof(Phdr));
    std::memcpy(file.data(), &eh, sizeof(eh));
    for (size_t i = 0; i < segments.size(); ++i) {
        const TestSegment& s = segments[i];
        Phdr ph{};
        ph.p_type = s.type;
        ph.p_offset = static_cast<decltype(ph.p_offset)>(file.size());
        ph.p_paddr = static_cast<decltype(ph.p_paddr)>(s.paddr);
        ph.p_vaddr = ph.p_paddr;
        ph.p_filesz = static_cast<decltype(ph.p_filesz)>(s.data.size());
        ph.p_memsz = static_cast<decltype(ph.p_memsz)>(s.memSize ? s.memSize : s.data.size());
        ph.p_flags = PF_R | PF_W | PF_X;
        std::memcpy(file.data() + sizeof(Ehdr) + i * sizeof(Phdr), &ph, sizeof(ph));
        file.insert(file.end(), s.data.begin(), s.data.end());
    }
    return file;
}

inline std::vector<uint8_t> makeElf32(uint64_t entry, const std::vector<TestSegment>& segments) {
    return makeElf<Elf32_Ehdr, Elf32_Phdr>(ELFCLASS32, EM_386, entry, segments);
}

inline std::vector<uint8_t> makeElf64(uint64_t entry, const std::vector<TestSegment>& segments) {
    return makeElf<Elf64_Ehdr, Elf64_Phdr>(ELFCLASS64, EM_X86_64, entry, segments);
}

// Read-modify-write of one header in a file made by makeElf.
template <typename Ehdr, typename F> void patchEhdr(std::vector<uint8_t>& file, F change) {
    Ehdr eh;
    std::memcpy(&eh, file.data(), sizeof(eh));
    change(eh);
    std::memcpy(file.data(), &eh, sizeof(eh));
}

template <typename Ehdr, typename Phdr, typename F>
void patchPhdr(std::vector<uint8_t>& file, size_t index, F change) {
    Phdr ph;
    const size_t offset = sizeof(Ehdr) + index * sizeof(Phdr);
    std::memcpy(&ph, file.data() + offset, sizeof(ph));
    change(ph);
    std::memcpy(file.data() + offset, &ph, sizeof(ph));
}

} // namespace basalt::test
