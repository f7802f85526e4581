#!/usr/bin/env bash
# Where the host KVM cannot execute x87 instructions in a guest, basalt-vmm
# must report the emulation failure as one named error with the RIP and the
# instruction bytes, and exit cleanly with status 2 (crashed).
# usage: run_x87_failure.sh BASALT_VMM X87_PROBE_GUEST
set -uo pipefail
vmm=$1 guest=$2
kExitCrashed=2
kGuestBase=0x100000 # the probe is linked at 1 MiB (meson.build)

if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "SKIP: /dev/kvm is not available"
    exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

timeout --kill-after=5 60 "$vmm" --kernel "$guest" --memory 8 --test-exit-port 0xf4 \
    >"$dir/out" 2>"$dir/err"
status=$?
cat "$dir/out" "$dir/err"
if [ "$status" = 0 ] && grep -qx "X87 OK" "$dir/out"; then
    echo "SKIP: this host's KVM executes x87 instructions in guests; no emulation failure to report"
    exit 77
fi
fail() { echo "FAIL: $*"; exit 1; }
[ "$status" = "$kExitCrashed" ] || fail "exit status $status, expected $kExitCrashed (crashed)"

line=$(grep -m1 "stopped: crashed: KVM internal error: emulation failure" "$dir/err") ||
    fail "no named emulation-failure stop reason"
rip=$(sed -n 's/.* at RIP \(0x[0-9a-f]*\) .*/\1/p' <<<"$line")
[ -n "$rip" ] || fail "the error does not give the RIP"
bytes=$(sed -n 's/.*: instruction bytes \([0-9a-f ]*\);.*/\1/p' <<<"$line")
[ -n "$bytes" ] || fail "the error does not give the instruction bytes"
grep -q "an x87 instruction" <<<"$line" || fail "the instruction is not named as x87"

# The RIP must be one of the probe's x87 instructions, and the reported bytes
# must start with that instruction's encoding as the assembler wrote it.
if ((rip < kGuestBase)); then fail "RIP $rip is outside the guest"; fi
listing=$(objdump -d --no-show-raw-insn "$guest")
raw=$(objdump -d "$guest" | grep -E "^ *${rip#0x}:") || fail "RIP $rip is not an instruction boundary of the guest"
mnemonic=$(grep -E "^ *${rip#0x}:" <<<"$listing" | awk -F'\t' '{print $2}')
case $mnemonic in
f*) ;;
*) fail "RIP $rip is '$mnemonic', not an x87 instruction" ;;
esac
encoding=$(awk -F'\t' '{print $2}' <<<"$raw" | tr -s ' ' | sed 's/ *$//')
case "$bytes" in
"$encoding"*) ;;
*) fail "reported bytes '$bytes' do not start with '$encoding' ($mnemonic at $rip)" ;;
esac
grep -qE "rip=0*${rip#0x}" "$dir/err" || fail "no register dump with rip=$rip"
echo "PASS: $mnemonic at $rip reported with bytes $bytes"
