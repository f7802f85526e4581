#pragma once
// Basalt's own copy of the x86 vCPU register state, so that code outside
// vmm/kvm/ can build and print it without <linux/kvm.h>.

#include <cstdint>
#include <string>

namespace basalt::kvm {

struct GeneralRegisters {
    uint64_t rax = 0, rbx = 0, rcx = 0, rdx = 0, rsi = 0, rdi = 0, rsp = 0, rbp = 0;
    uint64_t r8 = 0, r9 = 0, r10 = 0, r11 = 0, r12 = 0, r13 = 0, r14 = 0, r15 = 0;
    uint64_t rip = 0, rflags = 0;
};

struct Segment {
    uint64_t base = 0;
    uint32_t limit = 0;
    uint16_t selector = 0;
    uint8_t type = 0;
    bool present = false, s = false, db = false, l = false, g = false, avl = false;
    bool unusable = false;
    uint8_t dpl = 0;
};

struct DescriptorTable {
    uint64_t base = 0;
    uint16_t limit = 0;
};

struct SpecialRegisters {
    Segment cs, ds, es, fs, gs, ss, tr, ldt;
    DescriptorTable gdt, idt;
    uint64_t cr0 = 0, cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0, efer = 0, apicBase = 0;
};

// A multi-line dump for crash reports.
std::string formatRegisters(const GeneralRegisters& regs, const SpecialRegisters& sregs);

} // namespace basalt::kvm
