#!/usr/bin/env python3
"""Writes the raw IDE test disk (see disk_pattern.h for the layout)."""
import struct
import sys

SECTORS = 128
SECTOR_BYTES = 512

with open(sys.argv[1], "wb") as out:
    for s in range(SECTORS):
        sector = bytearray((s * 7 + i * 13 + 0x5A) & 0xFF for i in range(SECTOR_BYTES))
        sector[0:8] = b"BSLT" + struct.pack("<I", s)
        out.write(sector)
