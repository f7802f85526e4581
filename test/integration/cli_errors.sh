#!/usr/bin/env bash
# basalt-vmm must reject bad input with exactly one clear error line on
# stderr and exit status 1: never 0, never a crash (signal or sanitizer).
# usage: cli_errors.sh BASALT_VMM GOOD_KERNEL
set -uo pipefail
vmm=$1 good=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

expect_error() { # description, expected substring, args...
    local what=$1 expect=$2
    shift 2
    "$vmm" "$@" >"$work/out" 2>"$work/err"
    local status=$? lines
    lines=$(wc -l <"$work/err")
    if [ "$status" != 1 ] || [ "$lines" != 1 ] || ! grep -q '^basalt-vmm: error: ' "$work/err" ||
       ! grep -qF -- "$expect" "$work/err"; then
        echo "FAIL $what: status $status, stderr ($lines lines):"
        sed 's/^/    /' "$work/err"
        failures=$((failures + 1))
    else
        echo "ok   $what: $(cat "$work/err")"
    fi
}

head -c 1000 /dev/urandom >"$work/random.bin"
printf '\x7fELF\x02\x01\x01garbage' >"$work/truncated.elf"
: >"$work/empty.bin"
printf 'not a device tree at all' >"$work/bad.spec"
"$vmm" --kernel "$good" --write-spec "$work/good.spec" || { echo "cannot write a spec"; exit 1; }
head -c 40 "$work/good.spec" >"$work/truncated.spec"

expect_error "missing kernel" "No such file" --kernel "$work/nonexistent.elf"
expect_error "empty kernel" "empty" --kernel "$work/empty.bin"
expect_error "truncated ELF" "ELF" --kernel "$work/truncated.elf"
expect_error "ELF32 kernel in long mode" "ELF" --kernel "$good" --entry long
expect_error "unknown entry mode" "entry mode" --kernel "$good" --entry sideways
expect_error "malformed spec" "spec" --spec "$work/bad.spec"
expect_error "truncated spec" "spec" --spec "$work/truncated.spec"
expect_error "missing spec" "No such file" --spec "$work/nonexistent.spec"
expect_error "zero memory" "memory" --kernel "$good" --memory 0
expect_error "memory beyond host RAM" "MiB" --kernel "$good" --memory 900000
expect_error "memory beyond any limit" "memory" --kernel "$good" --memory 99999999999999
expect_error "memory not a number" "memory" --kernel "$good" --memory 12abc
expect_error "zero vCPUs" "vCPU" --kernel "$good" --vcpus 0
expect_error "too many vCPUs" "vCPU" --kernel "$good" --vcpus 100000
expect_error "negative vCPUs" "vCPU" --kernel "$good" --vcpus -1
expect_error "unknown option" "unrecognised" --kernel "$good" --frobnicate
expect_error "nothing to run" "nothing to run"

if [ "$failures" != 0 ]; then
    echo "$failures case(s) failed"
    exit 1
fi
