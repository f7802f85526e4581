#!/usr/bin/env python3
"""Drives basalt-vmm's control socket: status, pause, resume, bad requests, destroy."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77


def main():
    vmm, guest = sys.argv[1], sys.argv[2]
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("SKIP: /dev/kvm is not available")
        return SKIP

    workdir = tempfile.mkdtemp()
    path = os.path.join(workdir, "control.sock")
    proc = subprocess.Popen([vmm, "--kernel", guest, "--control", path, "--vcpus", "2"],
                            stdout=subprocess.PIPE)
    try:
        line = proc.stdout.readline()
        assert line == b"READY\n", f"guest said {line!r}"
        deadline = time.time() + 30
        while not os.path.exists(path):
            assert time.time() < deadline, "control socket never appeared"
            time.sleep(0.05)

        sock = socket.socket(socket.AF_UNIX)
        sock.connect(path)
        reader = sock.makefile("rb")

        def ask(request):
            payload = request if isinstance(request, bytes) else json.dumps(request).encode()
            sock.sendall(payload + b"\n")
            reply = json.loads(reader.readline())
            print(f"-> {payload.decode(errors='replace')}\n<- {reply}")
            return reply

        status = ask({"command": "status"})
        assert status["ok"] and status["state"] == "running", status
        assert status["vcpus"] == ["running", "running"], status

        assert ask({"command": "pause"})["state"] == "paused"
        status = ask({"command": "status"})
        assert status["state"] == "paused" and status["vcpus"] == ["paused", "paused"], status

        assert ask({"command": "resume"})["state"] == "running"
        status = ask({"command": "status"})
        assert status["vcpus"] == ["running", "running"], status

        assert not ask(b"{not json")["ok"]
        assert not ask({"command": "fly"})["ok"]
        assert not ask([1, 2, 3])["ok"]

        assert ask({"command": "destroy"})["ok"]
        code = proc.wait(timeout=30)
        assert code == 0, f"basalt-vmm exited with {code} after destroy"
        assert not os.path.exists(path), "control socket left behind"
        print("control socket: all checks passed")
        return 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    sys.exit(main())
