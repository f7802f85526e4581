#!/usr/bin/env bash
# Builds the Basalt demo disk: a raw image with GRUB (boot.img in the MBR, its
# core image with grub.cfg built in, in the gap before the first partition)
# and one FAT16 partition holding Debian's kernel and a busybox initramfs.
# Only Debian packages' files and user-space tools are used (no loop devices,
# no mounts, no grub-install), so it runs unprivileged.
# (GRUB, not SYSLINUX: SYSLINUX 6 returns from interrupts with a
# protected-mode IRET, which this workplace's KVM cannot emulate.)
# usage: make_image.sh OUT.img [KERNEL]
#   KERNEL defaults to the newest /boot/vmlinuz-* (Debian's linux-image-amd64).
set -euo pipefail
out=$1
kernel=${2:-$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)}
here=$(cd "$(dirname "$0")" && pwd)

kSectorBytes=512
kPartStartSector=2048  # 1 MiB, where partitioning tools put the first partition
kPartSectors=98304     # 48 MiB: the kernel, the initramfs and room to spare
kPartTypeFat16Lba=0x0e
kBootable=0x80
kMbrCodeBytes=440      # GRUB's boot.img code goes before the disk signature
kCoreSector=1          # boot.img loads core.img from here (its default)
kPartEntryOffset=446
kBootSigOffset=510
kVolumeId=ba5a1700 # fixed, so that two builds give the same file system
grub=/usr/lib/grub/i386-pc
# biosdisk/part_msdos/fat read the kernel; serial and terminal put GRUB on COM1.
grub_modules=(biosdisk part_msdos fat linux serial terminal echo boot)
busybox=/bin/busybox

need() { echo "make_image.sh: $1 (run scripts/setup)" >&2; exit 1; }
[ -n "$kernel" ] && [ -r "$kernel" ] || need "no readable kernel (linux-image-amd64 installs /boot/vmlinuz-*)"
[ -r "$grub/boot.img" ] || need "no $grub/boot.img (grub-pc-bin)"
[ -x "$busybox" ] || need "no $busybox (busybox-static)"
for tool in grub-mkimage mkfs.fat mcopy cpio gzip; do
    command -v "$tool" >/dev/null || need "no $tool"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The initramfs: busybox and /init, owned by root inside the archive.
root=$work/initramfs
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev"
cp "$busybox" "$root/bin/busybox"
cp "$here/init" "$root/init"
chmod 755 "$root/init" "$root/bin/busybox"
(cd "$root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 | gzip -9n) >"$work/initrd.gz"

# The disk: partition table first, then the file system inside the partition.
disk=$work/disk.img
truncate -s $(((kPartStartSector + kPartSectors) * kSectorBytes)) "$disk"
dd if="$grub/boot.img" of="$disk" bs="$kMbrCodeBytes" count=1 conv=notrunc status=none

# core.img's first sector (diskboot) reads the rest from the sectors after it,
# which is where it goes; it must fit before the partition.
grub-mkimage -O i386-pc -d "$grub" -p "(hd0,msdos1)/" -c "$here/grub.cfg" -o "$work/core.img" \
    "${grub_modules[@]}"
core_sectors=$((($(stat -c %s "$work/core.img") + kSectorBytes - 1) / kSectorBytes))
((kCoreSector + core_sectors <= kPartStartSector)) || need "GRUB's core image is too large"
dd if="$work/core.img" of="$disk" bs="$kSectorBytes" seek="$kCoreSector" conv=notrunc status=none

# One MBR partition entry: CHS as for 255 heads x 63 sectors (clamped like
# fdisk does beyond cylinder 1023), then LBA start and size, little endian.
chs() { # LBA -> three bytes: head, sector | cylinder high bits, cylinder low
    local lba=$1 c h s
    c=$((lba / (255 * 63))) h=$(((lba / 63) % 255)) s=$((lba % 63 + 1))
    if ((c > 1023)); then c=1023 h=254 s=63; fi
    printf '\\x%02x\\x%02x\\x%02x' "$h" $(((s & 0x3f) | ((c >> 2) & 0xc0))) $((c & 0xff))
}
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 0xff)) $((($1 >> 8) & 0xff)) \
    $((($1 >> 16) & 0xff)) $((($1 >> 24) & 0xff)); }
entry="$(printf '\\x%02x' $kBootable)$(chs $kPartStartSector)$(printf '\\x%02x' $kPartTypeFat16Lba)"
entry+="$(chs $((kPartStartSector + kPartSectors - 1)))$(le32 $kPartStartSector)$(le32 $kPartSectors)"
printf "$entry" | dd of="$disk" bs=1 seek="$kPartEntryOffset" conv=notrunc status=none
printf '\x55\xaa' | dd of="$disk" bs=1 seek="$kBootSigOffset" conv=notrunc status=none

# FAT16 inside the partition; hidden sectors = the partition's start.
mkfs.fat -F 16 -n BASALTDEMO -i "$kVolumeId" --offset "$kPartStartSector" -h "$kPartStartSector" \
    "$disk" $((kPartSectors * kSectorBytes / 1024)) >/dev/null
export MTOOLS_SKIP_CHECK=1
part="$disk@@$((kPartStartSector * kSectorBytes))"
mcopy -i "$part" "$kernel" ::/vmlinuz
mcopy -i "$part" "$work/initrd.gz" ::/initrd.gz

mv "$disk" "$out"
echo "make_image.sh: $out: $(basename "$kernel"), initramfs $(stat -c %s "$work/initrd.gz") bytes"
