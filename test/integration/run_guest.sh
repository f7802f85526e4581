#!/usr/bin/env bash
# Runs one test guest under basalt-vmm and checks it reported PASS and ended
# through the test exit port with status 0.
# usage: run_guest.sh BASALT_VMM NAME IMAGE ENTRY [extra basalt-vmm args...]
set -uo pipefail
vmm=$1 name=$2 image=$3 entry=$4
shift 4

if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "SKIP: /dev/kvm is not available; guest '$name' needs KVM"
    exit 77
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout --kill-after=5 300 "$vmm" --name "$name" --kernel "$image" --entry "$entry" \
    --test-exit-port 0xf4 "$@" >"$out"
status=$?
cat "$out"
if ! grep -qx "PASS $name" "$out"; then
    echo "no 'PASS $name' line in the guest's output (exit status $status)"
    exit 1
fi
if [ "$status" != 0 ]; then
    echo "basalt-vmm exited with status $status, expected 0"
    exit 1
fi
