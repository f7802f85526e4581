#!/usr/bin/env bash
# Runs one device-model test guest under basalt-vmm with QEMU as its device
# model and a private basalt-xenstored.
# usage: run_devmodel_guest.sh MODE BASALT_VMM BASALT_XENSTORED NAME IMAGE DISK CHECK_SCREEN VGA [ARGS]
#   ARGS: more basalt-vmm options, one string split at spaces
#   MODE pass:   the guest must print "PASS NAME" and exit through 0xF4 with 0;
#   MODE screen: after READY, a QMP screendump must show the text (check_screen.sh);
#   MODE killed: after LOOPING, QEMU is killed; basalt-vmm must exit 2 naming the device model.
set -uo pipefail
mode=$1 vmm=$2 xenstored=$3 name=$4 image=$5 disk=$6 check_screen=$7 vga=$8
read -r -a extra_args <<<"${9:-}"
qemu=/usr/libexec/xen-qemu-system-i386
kExitCrashed=2

if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "SKIP: /dev/kvm is not available; guest '$name' needs KVM"
    exit 77
fi
if [ ! -x "$qemu" ]; then
    echo "SKIP: $qemu (Debian's qemu-system-xen) is not installed"
    exit 77
fi

. "$(dirname "$0")/../../tools/qemu_guest_fixture.sh"
qemu_fixture_setup "$xenstored"

# QEMU runs unprivileged: give it its own copy of the disk it may open.
cp "$disk" "$dir/disk.img"
chmod 666 "$dir/disk.img"

timeout --kill-after=5 240 "$vmm" --name "$name" --kernel "$image" --entry protected \
    --memory 32 --test-exit-port 0xf4 --xenstore "$xs_sock" \
    --device-model qemu --vga "$vga" --disk "$dir/disk.img,raw,hda,rw" \
    --serial "file:$dir/shot/serial.log" --dm-run-dir "$dir/run" ${extra_args[@]+"${extra_args[@]}"} \
    >"$dir/out" 2>"$dir/err" &
vmm_pid=$!

wait_for_line() { # wait_for_line TEXT SECONDS
    for _ in $(seq $(($2 * 10))); do
        grep -qx "$1" "$dir/out" && return 0
        kill -0 "$vmm_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

case $mode in
pass)
    wait "$vmm_pid"
    status=$?
    vmm_pid=
    cat "$dir/out"
    grep -qx "PASS $name" "$dir/out" || fail "no 'PASS $name' line (exit status $status)"
    [ "$status" = 0 ] || fail "basalt-vmm exited with status $status, expected 0"
    ;;
screen)
    wait_for_line READY 120 || fail "the guest did not print READY"
    qmp="$dir/run/qemu-1/qmp.sock"
    [ -S "$qmp" ] || fail "no QMP socket at $qmp"
    # QEMU runs unprivileged and writes the PNG itself.
    "$check_screen" "$qmp" "$dir/shot/screen.png" "BASALT VGA OK 12345"
    rc=$?
    [ "$rc" = 77 ] && exit 77
    [ "$rc" = 0 ] || fail "the screen does not show the text"
    echo "PASS $name"
    ;;
killed)
    wait_for_line LOOPING 120 || fail "the guest did not print LOOPING"
    # This run's QEMU, as basalt-vmm announced it (tests run in parallel, so
    # searching the process list could hit another test's QEMU).
    qemu_pid=$(sed -n 's/.*QEMU pid \([0-9][0-9]*\) is running.*/\1/p' "$dir/err" | head -1)
    [ -n "$qemu_pid" ] || fail "cannot find the QEMU process"
    kill -9 "$qemu_pid"
    wait "$vmm_pid"
    status=$?
    vmm_pid=
    cat "$dir/out" "$dir/err"
    [ "$status" = "$kExitCrashed" ] || fail "basalt-vmm exited with status $status, expected $kExitCrashed"
    grep -qi "device model" "$dir/out" "$dir/err" || fail "no message naming the device model"
    echo "PASS $name"
    ;;
*)
    echo "unknown mode $mode"
    exit 1
    ;;
esac
exit 0
