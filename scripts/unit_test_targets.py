#!/usr/bin/env python3
"""Lists the unit tests of a Meson build directory whose program is built there.

Prints two lines: the ninja targets (paths relative to the build directory) and
the test names. scripts/test uses it to build and run only those under the
sanitizers, instead of building every guest image and tool a second time.
"""
import json
import os
import subprocess
import sys

build = os.path.abspath(sys.argv[1])
tests = json.loads(subprocess.check_output(["meson", "introspect", build, "--tests"]))
targets, names = [], []
for test in tests:
    program = test["cmd"][0]
    if not any(s.endswith(":unit") for s in test["suite"]):
        continue
    if not program.startswith(build + os.sep):
        continue  # a script from the source tree: nothing compiled to sanitize
    targets.append(os.path.relpath(program, build))
    names.append(test["name"])
print(" ".join(sorted(set(targets))))
print(" ".join(names))
