#!/usr/bin/env bash
# Builds the boot tests' media from the assembled boot sector.
# usage: make_boot_media.sh disk|iso BOOT_SECTOR OUTPUT
#   disk: a 1 MiB raw disk whose MBR is the boot sector;
#   iso:  an ISO 9660 image booting it by El Torito, no emulation (xorriso).
set -euo pipefail
kind=$1 sector=$2 out=$3
kDiskBytes=$((1024 * 1024))
case $kind in
disk)
    truncate -s 0 "$out"
    dd if="$sector" of="$out" bs=512 count=1 conv=notrunc status=none
    truncate -s "$kDiskBytes" "$out"
    ;;
iso)
    command -v xorriso >/dev/null || { echo "xorriso is not installed (run scripts/setup)" >&2; exit 1; }
    tree=$(mktemp -d)
    trap 'rm -rf "$tree"' EXIT
    mkdir "$tree/boot"
    # One 2 KiB CD sector holding the 512-byte boot code; 4 emulated
    # 512-byte sectors are loaded at 0x7C00, as most no-emulation images ask.
    dd if="$sector" of="$tree/boot/boot.bin" bs=2048 conv=sync status=none
    xorriso -as mkisofs -quiet -V BASALT_BOOT -b boot/boot.bin -no-emul-boot \
        -boot-load-size 4 -o "$out" "$tree"
    ;;
*)
    echo "unknown media kind $kind" >&2
    exit 1
    ;;
esac
