#!/usr/bin/env bash
# SMBIOS strings end to end (suite boot): basalt-vmm --smbios writes
# bios-strings/* to xenstore, hvmloader puts them in the SMBIOS tables, and
# the boot sector smbios_probe.asm reads the tables back through the entry
# point in the BIOS area and prints them. The printed strings must be the
# ones given, on QEMU's COM1 and on basalt-vmm's 0xE9 console.
# Mode "uuid" (boot_domain_uuid) gives --uuid and no SMBIOS strings instead:
# the type 1 UUID must be the UUID's bytes in order (XENVER_guest_handle) and
# the serial number hvmloader's lower-case string of them, as under xl.
# usage: run_smbios_test.sh BASALT_VMM BASALT_XENSTORED DISK_IMAGE [strings|uuid]
set -uo pipefail
vmm=$1 xenstored=$2 media=$3 mode=${4:-strings}
qemu=/usr/libexec/xen-qemu-system-i386
hvmloader=/usr/lib/xen-4.17/boot/hvmloader
seabios=/usr/share/seabios/bios-256k.bin
vendor="Basalt Test BIOS"
serial="SN-12345"
oem="basalt:oem-string one"
# Mixed case on purpose: xl accepts either; the guest sees the same bytes.
uuid="5F3B9A2E-6c1d-4E8A-9b7f-0A1B2C3D4E5F"
uuid_lower=$(tr 'A-F' 'a-f' <<<"$uuid")
uuid_upper=$(tr 'a-f' 'A-F' <<<"$uuid")
case $mode in
strings)
    name=boot-smbios
    guest_args=(--smbios "bios_vendor=$vendor" --smbios "system_serial_number=$serial"
        --smbios "oem=$oem")
    ;;
uuid)
    name=boot-uuid
    guest_args=(--uuid "$uuid")
    ;;
*)
    echo "unknown mode '$mode'"
    exit 2
    ;;
esac

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
timeout --kill-after=5 240 "$vmm" --name "$name" --firmware seabios --memory 64 \
    --xenstore "$xs_sock" --device-model qemu --vga stdvga \
    --serial "file:$dir/shot/serial.log" --dm-run-dir "$dir/run" \
    --disk "$dir/shot/disk.img,raw,hda,rw" \
    "${guest_args[@]}" >"$dir/out" 2>"$dir/err" &
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
    if [ "$mode" = uuid ]; then
        # The probe prints the 16 bytes in upper-case hex, hvmloader the
        # serial number in lower case (its uuid_to_string).
        grep -qxF "SMBIOS UUID=$uuid_upper" <<<"$lines" ||
            fail "type 1 UUID is not $uuid_upper in $(basename "$where")"
        grep -qxF "SMBIOS SYSTEM-SERIAL=$uuid_lower" <<<"$lines" ||
            fail "type 1 serial number is not $uuid_lower in $(basename "$where")"
        continue
    fi
    grep -qxF "SMBIOS BIOS-VENDOR=$vendor" <<<"$lines" ||
        fail "type 0 vendor is not '$vendor' in $(basename "$where")"
    grep -qxF "SMBIOS SYSTEM-SERIAL=$serial" <<<"$lines" ||
        fail "type 1 serial number is not '$serial' in $(basename "$where")"
    grep -qxF "SMBIOS OEM-1=$oem" <<<"$lines" ||
        fail "the first type 11 OEM string is not '$oem' in $(basename "$where")"
done
[ "$status" = 0 ] || fail "basalt-vmm exited with status $status, expected 0 (on_poweroff=destroy)"
if [ "$mode" = uuid ]; then
    grep -qF "uuid $uuid_lower" "$dir/err" "$dir/out" ||
        fail "basalt-vmm did not log the domain's uuid $uuid_lower"
    echo "PASS boot_domain_uuid"
else
    echo "PASS boot_smbios_strings"
fi
exit 0
