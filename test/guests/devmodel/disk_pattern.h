/*
 * The content of the IDE test disk, generated at build time by make_disk.py
 * with the same formula: byte i of sector s is DISK_PATTERN(s, i), except that
 * each sector starts with the 8-byte tag "BSLT" + the sector number (LE32).
 */
#pragma once

#define DISK_SECTORS 128
#define DISK_SECTOR_BYTES 512
#define DISK_TAG "BSLT"
#define DISK_TAG_BYTES 8
#define DISK_PATTERN(s, i) ((u8)((s)*7u + (i)*13u + 0x5Au))
