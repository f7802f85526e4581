#!/usr/bin/env bash
# Boots generated media through hvmloader and SeaBIOS under basalt-vmm, with
# QEMU as the device model and a private basalt-xenstored (suite boot).
# usage: run_boot_test.sh MODE BASALT_VMM BASALT_XENSTORED MEDIA [CHECK_SCREEN]
#   MODE disk:    MEDIA is a raw disk on hda; default boot order;
#   MODE disk-smp: disk with --vcpus 2: hvmloader must also wake the AP (vCPU
#                 1 at Xen's APIC ID 2) and say so;
#   MODE cdrom:   MEDIA is an ISO on the hdc CD-ROM, --boot d, with a blank
#                 (unbootable) disk on hda, so only the order picks the CD;
#   MODE missing: --bios-path names a file that does not exist: basalt-vmm
#                 must fail with one error naming it, leave no QEMU and no
#                 xenstore entries behind;
#   MODE banner-stdvga, banner-cirrus: a blank disk, so SeaBIOS stops at "No
#                 bootable device" with its banner on the screen; a QMP
#                 screendump, converted to PNG, must show "SeaBIOS" (OCR, with
#                 CHECK_SCREEN = test/guests/devmodel/check_screen.sh).
# disk/disk-smp/cdrom: the boot sector's marker must be on QEMU's serial port (COM1)
# and on basalt-vmm's console (port 0xE9), and basalt-vmm must exit 0 after
# the guest's ACPI power-off (on_poweroff=destroy).
set -uo pipefail
mode=$1 vmm=$2 xenstored=$3 media=$4 check_screen=${5:-}
vga=stdvga
case $mode in banner-*) vga=${mode#banner-} ;; esac
qemu=/usr/libexec/xen-qemu-system-i386
marker="BASALT BOOT SECTOR OK"
hvmloader=/usr/lib/xen-4.17/boot/hvmloader
seabios=/usr/share/seabios/bios-256k.bin

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
xsread=$(command -v xenstore-ls || true)

. "$(dirname "$0")/../tools/qemu_guest_fixture.sh"
qemu_fixture_setup "$xenstored"

args=(--name boot-$mode --firmware seabios --memory 64 --xenstore "$xs_sock"
      --device-model qemu --vga "$vga" --serial "file:$dir/shot/serial.log"
      --dm-run-dir "$dir/run")
case $mode in
disk | disk-smp)
    [ "$mode" = disk-smp ] && args+=(--vcpus 2)
    cp "$media" "$dir/shot/disk.img"
    chmod 666 "$dir/shot/disk.img"
    args+=(--disk "$dir/shot/disk.img,raw,hda,rw")
    ;;
cdrom)
    cp "$media" "$dir/shot/cd.iso"
    chmod 644 "$dir/shot/cd.iso"
    truncate -s 1M "$dir/shot/blank.img"
    chmod 666 "$dir/shot/blank.img"
    args+=(--disk "$dir/shot/blank.img,raw,hda,rw" --disk "$dir/shot/cd.iso,raw,hdc,ro,devtype=cdrom"
           --boot d)
    ;;
banner-*)
    truncate -s 1M "$dir/shot/blank.img"
    chmod 666 "$dir/shot/blank.img"
    args+=(--disk "$dir/shot/blank.img,raw,hda,rw")
    ;;
missing)
    cp "$media" "$dir/shot/disk.img"
    chmod 666 "$dir/shot/disk.img"
    args+=(--disk "$dir/shot/disk.img,raw,hda,rw" --bios-path "$dir/no-such-bios.bin")
    ;;
*)
    echo "unknown mode $mode"
    exit 1
    ;;
esac

timeout --kill-after=5 240 "$vmm" "${args[@]}" >"$dir/out" 2>"$dir/err" &
vmm_pid=$!

if [[ $mode == banner-* ]]; then
    for _ in $(seq 1800); do
        grep -q "No bootable device" "$dir/out" && break
        kill -0 "$vmm_pid" 2>/dev/null || fail "basalt-vmm stopped before SeaBIOS gave up booting"
        sleep 0.1
    done
    grep -q "No bootable device" "$dir/out" || fail "SeaBIOS did not reach 'No bootable device'"
    # QEMU runs unprivileged and writes the screendump itself.
    "$check_screen" "$dir/run/qemu-1/qmp.sock" "$dir/shot/screen.png" "SeaBIOS"
    rc=$?
    [ "$rc" = 77 ] && exit 77
    [ "$rc" = 0 ] || fail "the $vga screen does not show SeaBIOS's banner"
    echo "PASS boot_banner_$vga"
    exit 0
fi
wait "$vmm_pid"
status=$?
vmm_pid=

if [ "$mode" = missing ]; then
    cat "$dir/err"
    [ "$status" != 0 ] || fail "basalt-vmm succeeded without its firmware"
    errors=$(grep -c "error" "$dir/err")
    [ "$errors" = 1 ] || fail "expected exactly one error line, got $errors"
    grep -q "no-such-bios.bin" "$dir/err" || fail "the error does not name the missing file"
    [ ! -e "$dir/run/qemu-1.log" ] || fail "QEMU was started"
    [ -n "$xsread" ] || fail "xenstore-ls (xenstore-utils) is missing: run scripts/setup"
    XENSTORED_PATH="$xs_sock" "$xsread" / >"$dir/store" 2>&1 || fail "cannot list xenstore: $(cat "$dir/store")"
    # A fresh store: dom0's own keys only, no domain 1 and no /vm entry.
    ! grep -qE '^ *(1|vm) = ' "$dir/store" || fail "xenstore entries were left: $(cat "$dir/store")"
    echo "PASS boot_missing_firmware"
    exit 0
fi

cat "$dir/out"
grep -q "HVM Loader" "$dir/out" || fail "hvmloader did not print its banner"
grep -q "SeaBIOS" "$dir/out" || fail "SeaBIOS did not start"
grep -q "$marker" "$dir/shot/serial.log" || fail "no boot-sector marker on the serial port"
grep -q "$marker" "$dir/out" || fail "no boot-sector marker on the 0xE9 console"
[ "$status" = 0 ] || fail "basalt-vmm exited with status $status, expected 0 (on_poweroff=destroy)"
if [ "$mode" = disk-smp ]; then
    # hvmloader's smp_initialise: " - CPUn ... <MTRR setup> done." per CPU.
    grep -q "Multiprocessor initialisation" "$dir/out" || fail "hvmloader did not start its SMP setup"
    grep -Eq " - CPU0 \.\.\. .*done\." "$dir/out" || fail "hvmloader did not set up the BSP"
    grep -Eq " - CPU1 \.\.\. .*done\." "$dir/out" || fail "hvmloader did not bring up the AP (CPU1)"
    ! grep -q " - CPU2 " "$dir/out" || fail "hvmloader saw more than 2 CPUs"
fi
if [ "$mode" = cdrom ]; then
    grep -q "Booting from DVD/CD" "$dir/out" || fail "SeaBIOS did not boot the CD-ROM"
    # --boot d reaches SeaBIOS through QEMU's CMOS: the blank disk is not tried.
    ! grep -q "Booting from Hard Disk" "$dir/out" || fail "SeaBIOS tried the disk first (--boot d)"
fi
passed=boot_${mode}_seabios
[ "$mode" = disk-smp ] && passed=boot_disk_seabios_smp
echo "PASS $passed"
exit 0
