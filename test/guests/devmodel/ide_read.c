/*
 * ide_read: reads two sectors of the primary master (QEMU's PIIX3 IDE, legacy
 * ports 0x1F0-0x1F7) with ATA READ SECTORS in PIO mode, polling the status
 * register, and checks them against the pattern make_disk.py wrote.
 */
#include "devmodel/disk_pattern.h"
#include "devmodel/dm_rt.h"

const char guest_name[] = "ide_read";

#define ATA_DATA 0x1F0
#define ATA_SECTOR_COUNT 0x1F2
#define ATA_LBA_LOW 0x1F3
#define ATA_LBA_MID 0x1F4
#define ATA_LBA_HIGH 0x1F5
#define ATA_DRIVE 0x1F6
#define ATA_STATUS_COMMAND 0x1F7
#define ATA_DRIVE_MASTER_LBA 0xE0
#define ATA_CMD_READ_SECTORS 0x20
#define ATA_STATUS_BSY 0x80
#define ATA_STATUS_DRDY 0x40
#define ATA_STATUS_DRQ 0x08
#define ATA_STATUS_ERR 0x01
#define ATA_POLL_LIMIT 1000000

/* PIIX3 IDE: function 1 of the ISA bridge's slot; IDETIM enables the primary channel. */
#define PIIX_IDE_VENDOR_DEVICE 0x70108086u
#define PIIX_IDETIM_PRIMARY 0x40
#define PIIX_IDETIM_DECODE_ENABLE 0x8000

static u16 sector[DISK_SECTOR_BYTES / 2];

static void enable_ide(void) {
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

static u8 wait_not_busy(void) {
    for (u32 i = 0; i < ATA_POLL_LIMIT; i++) {
        u8 status = inb(ATA_STATUS_COMMAND);
        if (!(status & ATA_STATUS_BSY))
            return status;
    }
    fail("ATA: BSY did not clear");
}

static void read_sector(u32 lba) {
    wait_not_busy();
    outb(ATA_DRIVE, (u8)(ATA_DRIVE_MASTER_LBA | ((lba >> 24) & 0x0F)));
    outb(ATA_SECTOR_COUNT, 1);
    outb(ATA_LBA_LOW, (u8)lba);
    outb(ATA_LBA_MID, (u8)(lba >> 8));
    outb(ATA_LBA_HIGH, (u8)(lba >> 16));
    outb(ATA_STATUS_COMMAND, ATA_CMD_READ_SECTORS);
    u8 status = wait_not_busy();
    if (status & ATA_STATUS_ERR)
        fail_hex("ATA READ SECTORS failed, status", status);
    if (!(status & ATA_STATUS_DRQ))
        fail_hex("ATA READ SECTORS: no data (DRQ clear), status", status);
    for (u32 i = 0; i < DISK_SECTOR_BYTES / 2; i++)
        sector[i] = inw(ATA_DATA);
}

static void check_sector(u32 lba) {
    read_sector(lba);
    const u8* bytes = (const u8*)sector;
    const char tag[] = DISK_TAG;
    for (u32 i = 0; i < 4; i++)
        if (bytes[i] != (u8)tag[i])
            fail_hex("sector tag mismatch at byte", i);
    u32 number = bytes[4] | bytes[5] << 8 | bytes[6] << 16 | (u32)bytes[7] << 24;
    if (number != lba)
        fail_hex("read the wrong sector", number);
    for (u32 i = DISK_TAG_BYTES; i < DISK_SECTOR_BYTES; i++)
        if (bytes[i] != DISK_PATTERN(lba, i))
            fail_hex("sector content mismatch at (lba << 16 | byte)", lba << 16 | i);
    print("ide: sector ");
    print_dec(lba);
    print(" ok\n");
}

void guest_main(u32 nr_vcpus) {
    (void)nr_vcpus;
    enable_ide();
    check_sector(0);
    check_sector(37);
    check_sector(DISK_SECTORS - 1);
    pass();
}
