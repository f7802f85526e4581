#!/usr/bin/env python3
"""Runs a Xen test guest that waits for a debug key: once the guest says READY,
sends {"command":"debug-key","key":"q"} (Xen's 'q': VIRQ_DEBUG to every vCPU)
through the control socket, checks an unknown key is refused, and expects
"PASS <name>" and exit status 0.
usage: run_with_debug_key.py BASALT_VMM NAME IMAGE ENTRY [extra basalt-vmm args...]"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
SOCKET_WAIT_S = 30
GUEST_WAIT_S = 240


def main():
    vmm, name, image, entry = sys.argv[1:5]
    extra = sys.argv[5:]
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print(f"SKIP: /dev/kvm is not available; guest '{name}' needs KVM")
        return SKIP
    workdir = tempfile.mkdtemp()
    path = os.path.join(workdir, "control.sock")
    proc = subprocess.Popen([vmm, "--name", name, "--kernel", image, "--entry", entry,
                             "--test-exit-port", "0xf4", "--control", path] + extra,
                            stdout=subprocess.PIPE, text=True)
    output = []
    try:
        for line in proc.stdout:
            output.append(line)
            print(line, end="")
            if line == "READY\n":
                break
        else:
            print(f"guest '{name}' ended before READY")
            return 1
        deadline = time.time() + SOCKET_WAIT_S
        while not os.path.exists(path):
            if time.time() > deadline:
                print("control socket never appeared")
                return 1
            time.sleep(0.05)
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(path)
        reader = sock.makefile("rb")

        def ask(request):
            sock.sendall(json.dumps(request).encode() + b"\n")
            reply = json.loads(reader.readline())
            print(f"-> {request}\n<- {reply}")
            return reply

        if ask({"command": "debug-key", "key": "z"})["ok"]:
            print("an unknown debug key was accepted")
            return 1
        if ask({"command": "debug-key"})["ok"]:
            print("debug-key without a key was accepted")
            return 1
        if not ask({"command": "debug-key", "key": "q"})["ok"]:
            print("debug key 'q' was refused")
            return 1
        for line in proc.stdout:
            output.append(line)
            print(line, end="")
        status = proc.wait(timeout=GUEST_WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if f"PASS {name}\n" not in output:
        print(f"no 'PASS {name}' line in the guest's output (exit status {status})")
        return 1
    if status != 0:
        print(f"basalt-vmm exited with status {status}, expected 0")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
