/*
 * reboot_count: counts its boots on the IDE disk, which outlives a restart.
 * Each boot reads the counter sector, adds one, writes it back, and prints
 * "BOOT n" on COM1 (QEMU's 16550, for the console log) and the debug port.
 * Boot 1 resets the machine through the PIIX3 reset control register (0xCF9),
 * which QEMU turns into a reboot request; boot 2 powers off through ACPI
 * PM1a_CNT (SLP_TYP 0 = \_S5, SLP_EN), as an OS would.
 * Each boot also prints "HANDLE <32 hex digits>", its Xen domain handle
 * (XENVER_guest_handle): a restart must keep the domain's UUID, as xl does.
 */
#include "devmodel/dm_rt.h"
#include "xen/xen_rt.h"

const char guest_name[] = "reboot_count";

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
#define SECTOR_WORDS 256
#define COUNTER_LBA 1
#define COUNTER_MAGIC 0x544F4F42u /* "BOOT" */

#define PIIX_IDE_VENDOR_DEVICE 0x70108086u
#define PIIX_IDETIM_PRIMARY 0x40
#define PIIX_IDETIM_DECODE_ENABLE 0x8000

#define COM1 0x3F8
#define UART_LSR 5
#define UART_LSR_THRE 0x20

#define PIIX_RESET_CONTROL 0xCF9
#define PIIX_RESET_HARD 0x06 /* SYS_RST | RST_CPU */
#define ACPI_PM1A_CNT 0xB004
#define ACPI_SLP_EN 0x2000 /* SLP_TYP 0 is \_S5 in hvmloader's tables */

static u16 sector[SECTOR_WORDS];

static void serial_print(const char* s) {
    for (; *s; s++) {
        for (u32 i = 0; i < ATA_POLL_LIMIT && !(inb(COM1 + UART_LSR) & UART_LSR_THRE); i++)
            cpu_relax();
        outb(COM1, (u8)*s);
    }
}

static void enable_ide(void) {
    for (u32 dev = 0; dev < 32; dev++) {
        if (pci_read32(dev, 1, 0) != PIIX_IDE_VENDOR_DEVICE)
            continue;
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

static void ata_command(u32 lba, u8 command) {
    wait_not_busy();
    outb(ATA_DRIVE, (u8)(ATA_DRIVE_MASTER_LBA | ((lba >> 24) & 0x0F)));
    outb(ATA_SECTOR_COUNT, 1);
    outb(ATA_LBA_LOW, (u8)lba);
    outb(ATA_LBA_MID, (u8)(lba >> 8));
    outb(ATA_LBA_HIGH, (u8)(lba >> 16));
    outb(ATA_STATUS_COMMAND, command);
}

static void transfer(u32 lba, int write) {
    ata_command(lba, write ? ATA_CMD_WRITE_SECTORS : ATA_CMD_READ_SECTORS);
    u8 status = wait_not_busy();
    if (status & ATA_STATUS_ERR)
        fail_hex("ATA command failed, status", status);
    if (!(status & ATA_STATUS_DRQ))
        fail_hex("ATA: no data request (DRQ clear), status", status);
    for (u32 i = 0; i < SECTOR_WORDS; i++) {
        if (write)
            outw(ATA_DATA, sector[i]);
        else
            sector[i] = inw(ATA_DATA);
    }
    status = wait_not_busy();
    if (status & ATA_STATUS_ERR)
        fail_hex("ATA transfer failed, status", status);
}

#define XENVER_guest_handle 8 /* xen/version.h */
#define DOMAIN_HANDLE_BYTES 16

static void print_domain_handle(void) {
    static const char digits[] = "0123456789abcdef";
    u8 handle[DOMAIN_HANDLE_BYTES];
    xen_setup();
    expect("XENVER_guest_handle", HC2(XEN_HC_xen_version, XENVER_guest_handle, handle), 0);
    print("HANDLE ");
    for (int i = 0; i < DOMAIN_HANDLE_BYTES; i++) {
        print_char(digits[handle[i] >> 4]);
        print_char(digits[handle[i] & 0xF]);
    }
    print("\n");
}

void guest_main(u32 nr_vcpus) {
    (void)nr_vcpus;
    enable_ide();
    transfer(COUNTER_LBA, 0);
    u32 magic = sector[0] | (u32)sector[1] << 16;
    u32 boots = magic == COUNTER_MAGIC ? sector[2] : 0;
    boots++;
    sector[0] = (u16)COUNTER_MAGIC;
    sector[1] = (u16)(COUNTER_MAGIC >> 16);
    sector[2] = (u16)boots;
    transfer(COUNTER_LBA, 1);
    ata_command(0, ATA_CMD_FLUSH_CACHE);
    wait_not_busy();

    char line[] = "BOOT 0\n";
    line[5] = (char)('0' + (boots % 10));
    serial_print(line);
    print(line);
    print_domain_handle();
    if (boots == 1) {
        outb(PIIX_RESET_CONTROL, PIIX_RESET_HARD);
        fail("the reset through 0xCF9 returned");
    }
    outw(ACPI_PM1A_CNT, ACPI_SLP_EN);
    fail("the ACPI power-off returned");
}
