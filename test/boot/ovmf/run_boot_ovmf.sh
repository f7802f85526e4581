#!/usr/bin/env bash
# OVMF, loaded by hvmloader, must reach its boot manager or its shell; a
# screenshot read with OCR shows which. OVMF runs x87 code from its first
# instructions, so the test first probes whether this host's KVM can execute
# x87 instructions in a guest, and skips (77) with that reason where it cannot
# (x87_emulation_failure covers that case).
# usage: run_boot_ovmf.sh BASALT_VMM BASALT_XENSTORED X87_PROBE_GUEST CHECK_SCREEN
set -uo pipefail
vmm=$1 xenstored=$2 probe=$3 check_screen=$4
qemu=/usr/libexec/xen-qemu-system-i386
ovmf=/usr/share/ovmf/OVMF.fd
kScreenshots=60 # OVMF's 5 s startup.nsh countdown is in there, whatever the host's speed
kDomid=1        # basalt-vmm's default domid: QMP is at run/qemu-<domid>/qmp.sock

if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "SKIP: /dev/kvm is not available"
    exit 77
fi

probe_out=$(timeout --kill-after=5 60 "$vmm" --kernel "$probe" --memory 8 --test-exit-port 0xf4 2>&1)
probe_status=$?
if ! { [ "$probe_status" = 0 ] && grep -qx "X87 OK" <<<"$probe_out"; }; then
    why=$(grep -m1 -o "emulation failure.*instruction bytes [0-9a-f ]*" <<<"$probe_out")
    echo "SKIP: this host's KVM cannot execute x87 instructions in a guest, and OVMF needs them" \
        "(probe exit status $probe_status${why:+: $why})"
    exit 77
fi
echo "x87 probe: this host's KVM executes x87 instructions in guests"
for f in "$qemu" "$ovmf"; do
    [ -e "$f" ] || { echo "SKIP: $f is not installed (run scripts/setup)"; exit 77; }
done
command -v tesseract >/dev/null || { echo "SKIP: tesseract-ocr is not installed"; exit 77; }

. "$(dirname "$0")/../../tools/qemu_guest_fixture.sh"
qemu_fixture_setup "$xenstored"
timeout --kill-after=5 600 "$vmm" --name boot_ovmf --firmware ovmf --memory 128 \
    --xenstore "$xs_sock" --device-model qemu --vga stdvga \
    --serial "file:$dir/shot/serial.log" --dm-run-dir "$dir/run" >"$dir/out" 2>"$dir/err" &
vmm_pid=$!

qmp="$dir/run/qemu-$kDomid/qmp.sock"
for _ in $(seq 300); do
    [ -S "$qmp" ] && break
    kill -0 "$vmm_pid" 2>/dev/null || fail "basalt-vmm exited before QEMU was up"
    sleep 0.1
done
[ -S "$qmp" ] || fail "no QMP socket at $qmp"

# OVMF with no bootable device shows its boot manager, then its shell.
for i in $(seq "$kScreenshots"); do
    kill -0 "$vmm_pid" 2>/dev/null || fail "basalt-vmm exited while OVMF was booting"
    seen=$("$check_screen" "$qmp" "$dir/shot/screen.png" "Shell" 2>&1)
    rc=$?
    [ "$rc" = 77 ] && { echo "$seen"; exit 77; }
    if [ "$rc" = 0 ] || grep -qiE "boot manager|shell>" <<<"$seen"; then
        echo "$seen" | grep "^OCR:"
        echo "PASS: OVMF's boot manager or shell is on the screen (screenshot $i)"
        exit 0
    fi
    sleep 1
done
echo "$seen"
fail "OVMF's boot manager or shell never appeared on the screen"
