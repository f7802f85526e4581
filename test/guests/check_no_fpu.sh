#!/bin/sh
# check_no_fpu.sh IMAGE [STAMP]
#
# Fails if the disassembly of a test guest contains x87, MMX, SSE or AVX
# instructions: this workplace's KVM emulates guest code and cannot execute
# them (the guest dies with an emulation failure). ELF images are disassembled
# by section (code only); anything else is taken as a flat 16-bit image (the
# real-mode guest) and disassembled whole. On success, touches STAMP if given.
set -eu

image=$1
stamp=${2:-}
objdump=${OBJDUMP:-objdump}

if [ "$(head -c 4 "$image" | od -An -tx1 | tr -d ' \n')" = "7f454c46" ]; then
    listing=$("$objdump" -d --no-show-raw-insn "$image")
else
    listing=$("$objdump" -D -b binary -m i8086 --no-show-raw-insn "$image")
fi

# The mnemonic column is the second tab-separated field of an instruction line.
# x87 mnemonics all start with f (the fs segment prefix on its own does not
# count); SIMD shows up through its registers or state instructions.
bad=$(printf '%s\n' "$listing" | awk -F'\t' 'NF >= 2 && $1 ~ /^ *[0-9a-f]+:$/ { print $1 "\t" $2 }' |
    grep -E '	(f[a-z0-9]*([^a-z0-9]|$)|.*%[xyz]mm|.*%mm[0-7]|.*%st([^a-z]|$)|.*mxcsr|emms|.*xsave|.*xrstor|.*fxsave|.*fxrstor)' |
    grep -vE '	fs( |$)' || true)

if [ -n "$bad" ]; then
    echo "check_no_fpu: $image contains x87/MMX/SSE/AVX instructions:" >&2
    printf '%s\n' "$bad" >&2
    exit 1
fi
if [ -n "$stamp" ]; then
    : > "$stamp"
fi
echo "check_no_fpu: $image: no x87/MMX/SSE/AVX instructions"
