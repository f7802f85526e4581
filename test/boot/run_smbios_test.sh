#!/usr/bin/env bash
# SMBIOS strings end to end (suite boot): basalt-vmm --smbios writes
# bios-strings/* to xenstore, hvmloader puts them in the SMBIOS tables, and
# the boot sector smbios_probe.asm reads the tables back through the entry
# point in the BIOS area and prints them. The printed strings must be the
# ones given, on QEMU's COM1 and on basalt-vmm's 0xE9 console.
# usage: run_smbios_test.sh BASALT_VMM BASALT_XENSTORED DISK_IMAGE
set -uo pipefail
vmm=$1 xenstored=$2 media=$3
qemu=/usr/libexec/xen-qemu-system-i386
hvmloader=/usr/lib/xen-4.17/boot/hvmloader
seabios=/usr/share/seabios/bios-256k.bin
vendor="Basalt Test BIOS"
serial="SN-12345"
oem="basalt:oem-string one"

if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "SKIP: /dev/kvm is not available; the boot tests need KVM"
    exit 77
fi
for f in "$qemu" "$hvmloader" "$seabios"; do
    if [ ! -e "$f" ]; then
        echo "SKIP: $f is not installed (qemu-system-xen, xen-utils-4.17, seabios)"
        exit 77
    fi
done

. "$(dirname "$0")/../tools/qemu_guest_fixture.sh"
qemu_fixture_setup "$xenstored"

cp "$media" "$dir/shot/disk.img"
chmod 666 "$dir/shot/disk.img"
timeout --kill-after=5 240 "$vmm" --name boot-smbios --firmware seabios --memory 64 \
    --xenstore "$xs_sock" --device-model qemu --vga stdvga \
    --serial "file:$dir/shot/serial.log" --dm-run-dir "$dir/run" \
    --disk "$dir/shot/disk.img,raw,hda,rw" \
    --smbios "bios_vendor=$vendor" --smbios "system_serial_number=$serial" \
    --smbios "oem=$oem" >"$dir/out" 2>"$dir/err" &
vmm_pid=$!
wait "$vmm_pid"
status=$?
vmm_pid=

cat "$dir/out"
grep -q "HVM Loader" "$dir/out" || fail "hvmloader did not print its banner"
grep -q "SMBIOS END" "$dir/out" || fail "the boot sector did not walk the SMBIOS table"
for where in "$dir/out" "$dir/shot/serial.log"; do
    # Whole lines (CR stripped): a truncated or padded string fails.
    lines=$(tr -d '\r' <"$where")
    grep -qxF "SMBIOS BIOS-VENDOR=$vendor" <<<"$lines" ||
        fail "type 0 vendor is not '$vendor' in $(basename "$where")"
    grep -qxF "SMBIOS SYSTEM-SERIAL=$serial" <<<"$lines" ||
        fail "type 1 serial number is not '$serial' in $(basename "$where")"
    grep -qxF "SMBIOS OEM-1=$oem" <<<"$lines" ||
        fail "the first type 11 OEM string is not '$oem' in $(basename "$where")"
done
[ "$status" = 0 ] || fail "basalt-vmm exited with status $status, expected 0 (on_poweroff=destroy)"
echo "PASS boot_smbios_strings"
exit 0
