#!/usr/bin/env python3
"""Checks Basalt's provider libraries against what Debian's QEMU imports.

For every Xen-library symbol the QEMU binary imports (name and version node;
libxenstore's xs_* excluded, since xenstore stays Debian's library), exactly
the matching Basalt library must define it with that version, and no other
Basalt library may. The xentoolcore__* functions Debian's libxenstore.so.4
imports count as imports too. Each library must export nothing but Xen API
names. Then QEMU must start with every symbol bound (LD_BIND_NOW=1, -version),
and ldd must resolve the six libraries into our folder.

Usage: check_provider_symbols.py <build>/devmodel/lib
Exit 77 (skip) if qemu-system-xen is not installed.
"""

import os
import re
import subprocess
import sys

QEMU = "/usr/libexec/xen-qemu-system-i386"
LIBXENSTORE_CANDIDATES = ["/usr/lib/x86_64-linux-gnu/libxenstore.so.4", "/lib/x86_64-linux-gnu/libxenstore.so.4"]

# soname -> the prefixes of the API it owns
LIBRARIES = {
    "libxenctrl.so.4.17": ("xc_",),
    "libxendevicemodel.so.1": ("xendevicemodel_",),
    "libxenforeignmemory.so.1": ("xenforeignmemory_",),
    "libxenevtchn.so.1": ("xenevtchn_",),
    "libxengnttab.so.1": ("xengnttab_", "xengntshr_"),
    "libxentoolcore.so.1": ("xentoolcore_",),
}

# objdump -T: "... DF *UND*  0000000000000000 (VERS_1.0)   name" or, defined,
# "... g    DF .text  00000000000000c5 (VERS_1.0)   name" (the version may
# also be printed without parentheses, as for the version node itself).
SYMBOL = re.compile(r"^\S+\s+(?P<flags>.*?)\s+(?P<section>\*UND\*|\S+)\s+[0-9a-f]+\s+"
                    r"\(?(?P<version>[^)\s]+)\)?\s+(?P<name>\S+)\s*$")

failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message)


def objdump_symbols(path):
    out = subprocess.run(["objdump", "-T", path], check=True, capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        m = SYMBOL.match(line)
        if m:
            yield m.group("section"), m.group("version"), m.group("name"), m.group("flags")


def owner_of(name):
    for soname, prefixes in LIBRARIES.items():
        if name.startswith(prefixes):
            return soname
    return None


def required_versions(path):
    """soname -> set of version nodes, from objdump -p's version references."""
    out = subprocess.run(["objdump", "-p", path], check=True, capture_output=True,
                         text=True).stdout
    result, current = {}, None
    for line in out.splitlines():
        m = re.match(r"\s*required from (\S+):", line)
        if m:
            current = m.group(1)
            result.setdefault(current, set())
            continue
        m = re.match(r"\s+0x[0-9a-f]+ 0x[0-9a-f]+ \d+ (\S+)", line)
        if m and current:
            result[current].add(m.group(1))
    return result


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    libdir = os.path.realpath(sys.argv[1])
    if not os.path.exists(QEMU):
        print("SKIP: %s is missing (scripts/setup installs qemu-system-xen)" % QEMU)
        return 77

    # What QEMU (and Debian's libxenstore) import from the six libraries.
    imports = set()
    for section, version, name, _ in objdump_symbols(QEMU):
        if section == "*UND*" and owner_of(name):
            imports.add((owner_of(name), version, name))
    libxenstore = next((p for p in LIBXENSTORE_CANDIDATES if os.path.exists(p)), None)
    if libxenstore:
        for section, version, name, _ in objdump_symbols(libxenstore):
            if section == "*UND*" and owner_of(name):
                imports.add((owner_of(name), version, name))
    if len(imports) < 40:
        fail("only %d Xen imports found in %s: parsing is broken" % (len(imports), QEMU))

    # The version nodes QEMU's own references name per library agree with the prefixes.
    needed = required_versions(QEMU)
    for soname, version, name in imports:
        if soname in needed and version not in needed[soname]:
            fail("%s@%s: QEMU needs no %s from %s" % (name, version, version, soname))

    # What each of our libraries defines.
    defined = {}
    for soname in LIBRARIES:
        path = os.path.join(libdir, soname)
        if not os.path.exists(path):
            fail("%s is missing from %s" % (soname, libdir))
            continue
        out = subprocess.run(["objdump", "-p", path], check=True, capture_output=True,
                             text=True).stdout
        m = re.search(r"SONAME\s+(\S+)", out)
        if not m or m.group(1) != soname:
            fail("%s has soname %s" % (path, m.group(1) if m else None))
        exported = set()
        for section, version, name, _ in objdump_symbols(path):
            if section == "*UND*" or name == version:
                continue  # imports, and the version nodes' own entries
            exported.add((version, name))
            if owner_of(name) != soname:
                fail("%s exports %s@%s, which is not its Xen API" % (soname, name, version))
        defined[soname] = exported

    for soname, version, name in sorted(imports):
        holders = [lib for lib, syms in defined.items() if (version, name) in syms]
        if holders != [soname]:
            fail("%s@%s: defined by %s, expected exactly %s" % (name, version, holders, soname))
    print("checked %d imports against %d libraries" % (len(imports), len(defined)))

    env = dict(os.environ, LD_BIND_NOW="1", LD_LIBRARY_PATH=libdir)
    run = subprocess.run([QEMU, "-version"], env=env, capture_output=True, text=True)
    if run.returncode != 0:
        fail("LD_BIND_NOW=1 %s -version failed (%d): %s" % (QEMU, run.returncode, run.stderr))

    ldd = subprocess.run(["ldd", QEMU], env=dict(os.environ, LD_LIBRARY_PATH=libdir),
                         check=True, capture_output=True, text=True).stdout
    resolved = {}
    for line in ldd.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if m:
            resolved[m.group(1)] = m.group(2)
    for soname in LIBRARIES:
        where = resolved.get(soname)
        if not where or os.path.dirname(os.path.realpath(where)) != libdir:
            fail("ldd resolves %s to %s, not into %s" % (soname, where, libdir))

    if failures:
        print("%d failures" % len(failures))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
