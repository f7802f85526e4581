/*
 * ATA PIO on the primary master of QEMU's PIIX3 IDE (legacy ports
 * 0x1F0-0x1F7), polling the status register: what the device-model and
 * lifecycle test guests use to read and write one sector at a time.
 */
#pragma once

#include "devmodel/dm_rt.h"

#define ATA_DATA 0x1F0
#define ATA_SECTOR_COUNT 0x1F2
#define ATA_LBA_LOW 0x1F3
#define ATA_LBA_MID 0x1F4
#define ATA_LBA_HIGH 0x1F5
#define ATA_DRIVE 0x1F6
#define ATA_STATUS_COMMAND 0x1F7
#define ATA_DRIVE_MASTER_LBA 0xE0
#define ATA_CMD_READ_SECTORS 0x20
#define ATA_CMD_WRITE_SECTORS 0x30
#define ATA_CMD_FLUSH_CACHE 0xE7
#define ATA_STATUS_BSY 0x80
#define ATA_STATUS_DRQ 0x08
#define ATA_STATUS_ERR 0x01
#define ATA_POLL_LIMIT 1000000
#define ATA_SECTOR_WORDS 256

/* PIIX3 IDE: function 1 of the ISA bridge's slot; IDETIM enables the primary channel. */
#define PIIX_IDE_VENDOR_DEVICE 0x70108086u
#define PIIX_IDETIM_PRIMARY 0x40
#define PIIX_IDETIM_DECODE_ENABLE 0x8000

static inline void ata_enable_piix_ide(void) {
    for (u32 dev = 0; dev < 32; dev++) {
        if (pci_read32(dev, 1, 0) != PIIX_IDE_VENDOR_DEVICE)
            continue;
        /* As hvmloader does: I/O decode on, primary channel on. */
        pci_write16(dev, 1, PCI_REG_COMMAND, PCI_COMMAND_IO);
        pci_write16(dev, 1, PIIX_IDETIM_PRIMARY, PIIX_IDETIM_DECODE_ENABLE);
        return;
    }
    fail("no PIIX3 IDE controller on bus 0");
}

static inline u8 ata_wait_not_busy(void) {
    for (u32 i = 0; i < ATA_POLL_LIMIT; i++) {
        u8 status = inb(ATA_STATUS_COMMAND);
        if (!(status & ATA_STATUS_BSY))
            return status;
    }
    fail("ATA: BSY did not clear");
}

/* Issues `command` for one sector at `lba` (LBA28). */
static inline void ata_command(u32 lba, u8 command) {
    ata_wait_not_busy();
    outb(ATA_DRIVE, (u8)(ATA_DRIVE_MASTER_LBA | ((lba >> 24) & 0x0F)));
    outb(ATA_SECTOR_COUNT, 1);
    outb(ATA_LBA_LOW, (u8)lba);
    outb(ATA_LBA_MID, (u8)(lba >> 8));
    outb(ATA_LBA_HIGH, (u8)(lba >> 16));
    outb(ATA_STATUS_COMMAND, command);
}

/* Reads (write = 0) or writes one sector through the data port. */
static inline void ata_transfer(u16 sector[ATA_SECTOR_WORDS], u32 lba, int write) {
    ata_command(lba, write ? ATA_CMD_WRITE_SECTORS : ATA_CMD_READ_SECTORS);
    u8 status = ata_wait_not_busy();
    if (status & ATA_STATUS_ERR)
        fail_hex("ATA command failed, status", status);
    if (!(status & ATA_STATUS_DRQ))
        fail_hex("ATA: no data request (DRQ clear), status", status);
    for (u32 i = 0; i < ATA_SECTOR_WORDS; i++) {
        if (write)
            outw(ATA_DATA, sector[i]);
        else
            sector[i] = inw(ATA_DATA);
    }
    status = ata_wait_not_busy();
    if (status & ATA_STATUS_ERR)
        fail_hex("ATA transfer failed, status", status);
}
