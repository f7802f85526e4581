/*
 * pci_enum: walks bus 0 through 0xCF8/0xCFC and checks that QEMU's xenfv
 * machine shows its i440FX host bridge, PIIX3 ISA bridge and IDE controller,
 * the VGA adapter of this build (VGA_VENDOR:VGA_DEVICE) and the Xen platform
 * device (5853:PLATFORM_DEVICE), or its absence when built with
 * EXPECT_PLATFORM=0 (xl's xen_platform_pci=0). Prints every function it finds.
 */
#include "devmodel/dm_rt.h"

const char guest_name[] = GUEST_NAME;

#ifndef EXPECT_PLATFORM
#define EXPECT_PLATFORM 1
#endif

#define PCI_DEVICES 32
#define PCI_FUNCTIONS 8

struct expected {
    const char* what;
    u16 vendor, device;
    u16 class_code; /* base class << 8 | subclass */
    u32 want;       /* how many times it must be on the bus */
    u32 found;
};

static struct expected expected[] = {
    {"i440FX host bridge", 0x8086, 0x1237, 0x0600, 1, 0},
    {"PIIX3 ISA bridge", 0x8086, 0x7000, 0x0601, 1, 0},
    {"PIIX3 IDE", 0x8086, 0x7010, 0x0101, 1, 0},
    {"VGA", VGA_VENDOR, VGA_DEVICE, 0x0300, 1, 0},
    {"Xen platform device", 0x5853, PLATFORM_DEVICE, 0xFF80, EXPECT_PLATFORM, 0},
};
#define EXPECTED (sizeof expected / sizeof expected[0])

static void check(u32 dev, u32 fn, u32 id) {
    u16 vendor = (u16)id, device = (u16)(id >> 16);
    u16 class_code = (u16)(pci_read32(dev, fn, PCI_REG_CLASS) >> 16);
    print("pci 00:");
    print_hex(dev);
    print(".");
    print_dec(fn);
    print(" ");
    print_hex(vendor);
    print(":");
    print_hex(device);
    print(" class ");
    print_hex(class_code);
    print("\n");
    for (u32 i = 0; i < EXPECTED; i++) {
        if (expected[i].vendor != vendor || expected[i].device != device)
            continue;
        if (expected[i].class_code != class_code)
            fail_hex(expected[i].what, class_code);
        expected[i].found++;
    }
}

void guest_main(u32 nr_vcpus) {
    (void)nr_vcpus;
    u32 functions = 0;
    for (u32 dev = 0; dev < PCI_DEVICES; dev++) {
        for (u32 fn = 0; fn < PCI_FUNCTIONS; fn++) {
            u32 id = pci_read32(dev, fn, PCI_REG_ID);
            if ((id & 0xFFFF) == PCI_VENDOR_NONE) {
                if (fn == 0)
                    break;
                continue;
            }
            functions++;
            check(dev, fn, id);
            if (fn == 0 && !(pci_read32(dev, 0, PCI_REG_HEADER) & PCI_HEADER_MULTIFUNCTION))
                break;
        }
    }
    for (u32 i = 0; i < EXPECTED; i++) {
        if (expected[i].found != expected[i].want) {
            print("missing, duplicated or unwanted: ");
            print(expected[i].what);
            print("\n");
            fail_hex("a device of QEMU's machine is not on bus 0 as often as expected",
                     expected[i].found);
        }
    }
    if (functions > PCI_DEVICES * PCI_FUNCTIONS)
        fail("impossible function count");
    pass();
}
