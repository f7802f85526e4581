/*
 * ide_read: reads two sectors of the primary master (QEMU's PIIX3 IDE, legacy
 * ports 0x1F0-0x1F7) with ATA READ SECTORS in PIO mode, polling the status
 * register, and checks them against the pattern make_disk.py wrote.
 */
#include "devmodel/disk_pattern.h"
#include "devmodel/dm_ata.h"

const char guest_name[] = "ide_read";

static u16 sector[ATA_SECTOR_WORDS];

static void check_sector(u32 lba) {
    ata_transfer(sector, lba, 0);
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
    ata_enable_piix_ide();
    check_sector(0);
    check_sector(37);
    check_sector(DISK_SECTORS - 1);
    pass();
}
