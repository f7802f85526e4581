/* Helpers shared by the device-model test guests: PCI configuration mechanism #1. */
#pragma once

#include "rt/rt.h"

#define PCI_CONFIG_ADDRESS 0xCF8
#define PCI_CONFIG_DATA 0xCFC
#define PCI_CONFIG_ENABLE 0x80000000u
#define PCI_VENDOR_NONE 0xFFFF
#define PCI_REG_ID 0x00
#define PCI_REG_COMMAND 0x04
#define PCI_REG_CLASS 0x08 /* revision in bits 7:0, class code above */
#define PCI_REG_HEADER 0x0C
#define PCI_HEADER_MULTIFUNCTION (1u << 23)
#define PCI_COMMAND_IO 0x1

static inline u32 pci_address(u32 dev, u32 fn, u32 reg) {
    return PCI_CONFIG_ENABLE | dev << 11 | fn << 8 | (reg & 0xFC);
}
static inline u32 pci_read32(u32 dev, u32 fn, u32 reg) {
    outl(PCI_CONFIG_ADDRESS, pci_address(dev, fn, reg));
    return inl(PCI_CONFIG_DATA);
}
static inline void pci_write32(u32 dev, u32 fn, u32 reg, u32 value) {
    outl(PCI_CONFIG_ADDRESS, pci_address(dev, fn, reg));
    outl(PCI_CONFIG_DATA, value);
}
static inline void pci_write16(u32 dev, u32 fn, u32 reg, u16 value) {
    outl(PCI_CONFIG_ADDRESS, pci_address(dev, fn, reg));
    outw(PCI_CONFIG_DATA + (reg & 2), value);
}
