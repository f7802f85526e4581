#!/usr/bin/env bash
# A guest that triple-faults must end basalt-vmm with status 2 (crashed),
# one named error line and a register dump, and nothing worse (no signal,
# no hang).
# usage: crash_report.sh BASALT_VMM GUEST
set -uo pipefail
vmm=$1 guest=$2
if [ ! -c /dev/kvm ]; then
    echo "SKIP: /dev/kvm is not available"
    exit 77
fi
err=$(mktemp)
trap 'rm -f "$err"' EXIT
timeout --kill-after=5 60 "$vmm" --kernel "$guest" --memory 8 2>"$err"
status=$?
cat "$err"
[ "$status" = 2 ] || { echo "exit status $status, expected 2 (crashed)"; exit 1; }
grep -q "vCPU 0: triple fault; guest state:" "$err" || { echo "no named crash line"; exit 1; }
grep -qE "rip=[0-9a-f]{16}" "$err" || { echo "no register dump"; exit 1; }
grep -q "stopped: crashed: triple fault" "$err" || { echo "no stop reason"; exit 1; }
