#include "vmm/kvm/registers.h"

#include <cstdio>

namespace basalt::kvm {

namespace {

void appendf(std::string& out, const char* fmt, unsigned long long a, unsigned long long b,
             unsigned long long c, unsigned long long d) {
    char line[160];
    snprintf(line, sizeof line, fmt, a, b, c, d);
    out += line;
}

void appendSegment(std::string& out, const char* name, const Segment& s) {
    char line[160];
    snprintf(line, sizeof line,
             "  %-3s sel=%04x base=%016llx limit=%08x type=%x p=%d dpl=%d db=%d s=%d l=%d g=%d%s\n",
             name, s.selector, static_cast<unsigned long long>(s.base), s.limit, s.type, s.present,
             s.dpl, s.db, s.s, s.l, s.g, s.unusable ? " unusable" : "");
    out += line;
}

} // namespace

std::string formatRegisters(const GeneralRegisters& r, const SpecialRegisters& s) {
    std::string out;

    appendf(out, "  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n", r.rax, r.rbx, r.rcx, r.rdx);
    appendf(out, "  rsi=%016llx rdi=%016llx rsp=%016llx rbp=%016llx\n", r.rsi, r.rdi, r.rsp, r.rbp);
    appendf(out, "  r8 =%016llx r9 =%016llx r10=%016llx r11=%016llx\n", r.r8, r.r9, r.r10, r.r11);
    appendf(out, "  r12=%016llx r13=%016llx r14=%016llx r15=%016llx\n", r.r12, r.r13, r.r14, r.r15);
    appendf(out, "  rip=%016llx rflags=%016llx cr0=%016llx cr2=%016llx\n", r.rip, r.rflags, s.cr0,
            s.cr2);
    appendf(out, "  cr3=%016llx cr4=%016llx efer=%016llx apic_base=%016llx\n", s.cr3, s.cr4, s.efer,
            s.apicBase);
    appendSegment(out, "cs", s.cs);
    appendSegment(out, "ds", s.ds);
    appendSegment(out, "es", s.es);
    appendSegment(out, "ss", s.ss);
    appendSegment(out, "fs", s.fs);
    appendSegment(out, "gs", s.gs);
    appendSegment(out, "tr", s.tr);
    appendSegment(out, "ldt", s.ldt);
    appendf(out, "  gdt=%016llx/%04llx idt=%016llx/%04llx\n", s.gdt.base, s.gdt.limit, s.idt.base,
            s.idt.limit);
    return out;
}

} // namespace basalt::kvm
