#!/usr/bin/env bash
# Boots a guest as xl's firmware_override: basalt-vmm --firmware-override ELF.
# usage: run_firmware_override.sh BASALT_VMM GUEST
set -uo pipefail
vmm=$1 guest=$2
if [ ! -c /dev/kvm ]; then
    echo "SKIP: /dev/kvm is not available"
    exit 77
fi
out=$(timeout --kill-after=5 60 "$vmm" --firmware-override "$guest" --memory 16 \
    --test-exit-port 0xf4)
status=$?
echo "$out"
grep -qx "PASS start_info" <<<"$out" && [ "$status" = 0 ]
