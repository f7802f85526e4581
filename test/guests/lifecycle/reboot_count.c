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
#include "devmodel/dm_ata.h"
#include "xen/xen_rt.h"

const char guest_name[] = "reboot_count";

#define COUNTER_LBA 1
#define COUNTER_MAGIC 0x544F4F42u /* "BOOT" */

#define COM1 0x3F8
#define UART_LSR 5
#define UART_LSR_THRE 0x20
#define UART_POLL_LIMIT 1000000

#define PIIX_RESET_CONTROL 0xCF9
#define PIIX_RESET_HARD 0x06 /* SYS_RST | RST_CPU */
#define ACPI_PM1A_CNT 0xB004
#define ACPI_SLP_EN 0x2000 /* SLP_TYP 0 is \_S5 in hvmloader's tables */

static u16 sector[ATA_SECTOR_WORDS];

static void serial_print(const char* s) {
    for (; *s; s++) {
        for (u32 i = 0; i < UART_POLL_LIMIT && !(inb(COM1 + UART_LSR) & UART_LSR_THRE); i++)
            cpu_relax();
        outb(COM1, (u8)*s);
    }
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
    ata_enable_piix_ide();
    ata_transfer(sector, COUNTER_LBA, 0);
    u32 magic = sector[0] | (u32)sector[1] << 16;
    u32 boots = magic == COUNTER_MAGIC ? sector[2] : 0;
    boots++;
    sector[0] = (u16)COUNTER_MAGIC;
    sector[1] = (u16)(COUNTER_MAGIC >> 16);
    sector[2] = (u16)boots;
    ata_transfer(sector, COUNTER_LBA, 1);
    ata_command(0, ATA_CMD_FLUSH_CACHE);
    ata_wait_not_busy();

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
