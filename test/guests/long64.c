/*
 * long64: the long-mode boot state (EFER.LMA, CR4.PAE, CR0.PG, CR3 = 0x1000,
 * CS = 0x18), then the guest's own 4-level page tables at 0x200000: they
 * identity-map 0-8 MiB with 2 MiB pages and map the 4 KiB page at virtual
 * 0x7000_0000_0000 (above 4 GiB) to physical 0x300000. After switching CR3 it
 * writes through the alias and reads through the identity map (and back), takes
 * a #PF on the unmapped next page (CR2 and error code checked, the handler
 * resumes after the access), maps that page, INVLPGs it and writes again.
 * basalt-vmm --entry long --memory 16. About 2 500 guest instructions.
 */
#include "rt/rt.h"

const char guest_name[] = "long64";

#define MSR_EFER 0xC0000080u
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define CR0_PE (1ull << 0)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define VMM_CR3 0x1000u
#define CODE_SELECTOR 0x18
#define VECTOR_PF 14

#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_PS (1ull << 7)
#define PF_ERR_WRITE (1ull << 1)

#define PAGE_SIZE 4096u
#define LARGE_PAGE (2ull << 20)
#define IDENTITY_LARGE_PAGES 4 /* 0-8 MiB: code, stack, these tables, the targets */

/* The guest's own tables: well clear of the VMM's at 0x1000-0x6FFF. */
#define PML4 0x200000ull
#define PDPT_LO 0x201000ull
#define PD_LO 0x202000ull
#define PDPT_HI 0x203000ull
#define PD_HI 0x204000ull
#define PT_HI 0x205000ull
#define TABLE_PAGES 6

#define ALIAS_VA 0x0000700000000000ull /* PML4 slot 0xE0 */
#define ALIAS_PA 0x300000ull
#define SECOND_VA (ALIAS_VA + PAGE_SIZE) /* unmapped until after the #PF */
#define SECOND_PA 0x301000ull

static volatile u64* table(u64 pa) {
    return (volatile u64*)(uptr)pa;
}

static u32 index_of(u64 va, u32 level_shift) {
    return (u32)(va >> level_shift) & 0x1FF;
}

static u16 read_cs(void) {
    u16 v;
    __asm__ volatile("mov %%cs, %0" : "=r"(v));
    return v;
}

static void check_boot_state(u32 nr_vcpus) {
    u64 efer = rdmsr(MSR_EFER);
    u64 cr0 = read_cr0(), cr4 = read_cr4(), cr3 = read_cr3();
    print("efer ");
    print_hex(efer);
    print(" cr0 ");
    print_hex(cr0);
    print(" cr3 ");
    print_hex(cr3);
    print(" cr4 ");
    print_hex(cr4);
    print(" vcpus ");
    print_dec(nr_vcpus);
    print("\n");
    if (!(efer & EFER_LMA) || !(efer & EFER_LME))
        fail_hex("EFER.LMA/LME clear", efer);
    if (!(cr4 & CR4_PAE))
        fail_hex("CR4.PAE clear", cr4);
    if (!(cr0 & CR0_PG) || !(cr0 & CR0_PE))
        fail_hex("CR0.PG/PE clear", cr0);
    if ((cr3 & ~0xFFFull) != VMM_CR3)
        fail_hex("CR3 is not the VMM's 0x1000", cr3);
    if (read_cs() != CODE_SELECTOR)
        fail_hex("CS is not 0x18", read_cs());
    if (nr_vcpus != 1)
        fail_hex("RSI is not the vCPU count 1", nr_vcpus);
}

static void build_tables(void) {
    void* dst = (void*)(uptr)PML4;
    u64 count = TABLE_PAGES * PAGE_SIZE / 8;
    __asm__ volatile("cld; rep stosq" : "+D"(dst), "+c"(count) : "a"(0ull) : "memory");

    table(PML4)[0] = PDPT_LO | PTE_P | PTE_W;
    table(PDPT_LO)[0] = PD_LO | PTE_P | PTE_W;
    for (u32 i = 0; i < IDENTITY_LARGE_PAGES; i++)
        table(PD_LO)[i] = (u64)i * LARGE_PAGE | PTE_P | PTE_W | PTE_PS;

    table(PML4)[index_of(ALIAS_VA, 39)] = PDPT_HI | PTE_P | PTE_W;
    table(PDPT_HI)[index_of(ALIAS_VA, 30)] = PD_HI | PTE_P | PTE_W;
    table(PD_HI)[index_of(ALIAS_VA, 21)] = PT_HI | PTE_P | PTE_W;
    table(PT_HI)[index_of(ALIAS_VA, 12)] = ALIAS_PA | PTE_P | PTE_W;
}

static volatile u64 pf_count, pf_cr2, pf_error;
volatile u64 pf_resume; /* set next to the access that is meant to fault */

static void pf_hook(struct isr_frame* f) {
    pf_count++;
    pf_cr2 = read_cr2();
    pf_error = f->error_code;
    if (pf_count > 1 || !pf_resume)
        fail_hex("unexpected #PF", read_cr2());
    f->ip = pf_resume;
}

static void check_alias(void) {
    volatile u64* alias = (volatile u64*)ALIAS_VA;
    volatile u64* ident = (volatile u64*)(uptr)ALIAS_PA;
    ident[0] = 0;
    ident[511] = 0;
    alias[0] = 0x1122334455667788ull;
    alias[511] = 0x99AABBCCDDEEFF00ull;
    if (ident[0] != 0x1122334455667788ull || ident[511] != 0x99AABBCCDDEEFF00ull)
        fail_hex("write through the alias not seen at the physical page", ident[0]);
    ident[7] = 0x0123456789ABCDEFull;
    if (alias[7] != 0x0123456789ABCDEFull)
        fail_hex("write to the physical page not seen through the alias", alias[7]);
}

static void check_page_fault(void) {
    __asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
                     "movq %%rax, pf_resume(%%rip)\n\t"
                     "movb $0x5a, (%0)\n"
                     "1:"
                     :
                     : "r"(SECOND_VA)
                     : "rax", "memory");
    pf_resume = 0;
    if (pf_count != 1)
        fail("no #PF for the unmapped page");
    if (pf_cr2 != SECOND_VA)
        fail_hex("#PF CR2 is not the faulting address", pf_cr2);
    if (pf_error != PF_ERR_WRITE)
        fail_hex("#PF error code is not write/not-present/supervisor", pf_error);

    /* Map it now; INVLPG drops any cached not-present translation. */
    table(PT_HI)[index_of(SECOND_VA, 12)] = SECOND_PA | PTE_P | PTE_W;
    __asm__ volatile("invlpg (%0)" ::"r"(SECOND_VA) : "memory");
    volatile u8* second = (volatile u8*)SECOND_VA;
    *(volatile u8*)(uptr)SECOND_PA = 0;
    second[0] = 0xA5;
    if (*(volatile u8*)(uptr)SECOND_PA != 0xA5)
        fail("write after mapping the faulted page not seen");
}

void guest_main(u32 nr_vcpus) {
    check_boot_state(nr_vcpus);
    idt_init(CODE_SELECTOR);
    isr_hooks[VECTOR_PF] = pf_hook;

    build_tables();
    write_cr3(PML4);
    if (read_cr3() != PML4)
        fail_hex("CR3 did not take the new tables", read_cr3());
    print("own page tables live\n");
    check_alias();
    print("alias above 4 GiB ok\n");
    check_page_fault();
    print("page fault ok\n");
    pass();
}
