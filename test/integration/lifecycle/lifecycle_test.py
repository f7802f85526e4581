#!/usr/bin/python3
"""basalt-vmm's xl.cfg lifecycle actions, console log and screenshots (suite boot).

usage: lifecycle_test.py MODE BASALT_VMM BASALT_XENSTORED GUEST
  reboot      reboot_count under on_reboot="restart": boot 1 resets through
              QEMU, the domain is rebuilt with a fresh QEMU and the same disk,
              boot 2 powers off through ACPI -> exit 0; the console log has
              both boots' serial lines with timestamps.
  crash       triple_fault under on_crash="destroy" -> exit 2, a crash message.
  preserve    triple_fault under on_crash="preserve": the process stays, the
              control socket shows the stopped domain, destroy ends it (exit 2).
  screenshot  vga_text with stdvga: basalt-vmm --control SOCK --screenshot
              (the control socket's screenshot command) writes a PNG whose
              pixels match QEMU's own PPM screendump.
  bad_config  a malformed config: exit 1, one error naming the line, nothing
              started; a config naming a missing disk: the same.
Runs as Debian's /usr/bin/python3 (python3-pil for the screenshot check).
"""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
QEMU = "/usr/libexec/xen-qemu-system-i386"
EXIT_CRASHED = 2
EXIT_CONFIG = 1
WAIT_SECONDS = 240


class Failed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failed(message)


class Run:
    def __init__(self, vmm, xenstored, guest, need_qemu):
        self.vmm, self.xenstored = vmm, xenstored
        self.guest = os.path.abspath(guest)
        self.dir = tempfile.mkdtemp()
        os.chmod(self.dir, 0o755)
        # What the deprivileged QEMU opens lives in a world-writable folder.
        self.shared = os.path.join(self.dir, "shared")
        os.mkdir(self.shared)
        os.chmod(self.shared, 0o1777)
        self.xs = None
        self.proc = None
        self.socket = os.path.join(self.shared, "xenstored.sock")
        if need_qemu:
            self.start_xenstored()

    def start_xenstored(self):
        log = open(os.path.join(self.dir, "xenstored.log"), "wb")
        self.xs = subprocess.Popen(
            [self.xenstored, "--socket", self.socket, "--socket-group", "basalt-qemu"], stderr=log)
        deadline = time.time() + 30
        while not os.path.exists(self.socket):
            check(time.time() < deadline and self.xs.poll() is None, "xenstored did not start")
            time.sleep(0.05)

    def write(self, name, text, mode=0o644):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def start(self, args):
        self.out = open(os.path.join(self.dir, "out"), "w+b")
        self.err = open(os.path.join(self.dir, "err"), "w+b")
        self.proc = subprocess.Popen([self.vmm] + args, stdout=self.out, stderr=self.err,
                                     stdin=subprocess.DEVNULL)

    def wait(self):
        try:
            return self.proc.wait(timeout=WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            raise Failed("basalt-vmm did not exit")

    def text(self, which):
        with open(os.path.join(self.dir, which), "rb") as f:
            return f.read().decode(errors="replace")

    def wait_for(self, which, pattern):
        deadline = time.time() + WAIT_SECONDS
        while time.time() < deadline:
            if re.search(pattern, self.text(which), re.M):
                return
            check(self.proc.poll() is None, f"basalt-vmm exited before {pattern!r}")
            time.sleep(0.1)
        raise Failed(f"no {pattern!r} in {which}")

    def qemu_pids(self):
        """QEMU processes of this run (their command line names this run's dir)."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if cmdline.startswith(QEMU.encode()) and self.dir.encode() in cmdline:
                pids.append(int(entry))
        return pids

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.xs:
            self.xs.terminate()
            self.xs.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def dump(self):
        for which in ("out", "err"):
            print(f"--- basalt-vmm {which}")
            print(self.text(which))


def control(path, request):
    deadline = time.time() + 30
    while not os.path.exists(path):
        check(time.time() < deadline, "no control socket")
        time.sleep(0.05)
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        s.sendall(json.dumps(request).encode() + b"\n")
        reply = json.loads(s.makefile("rb").readline())
    print(f"-> {request}\n<- {reply}")
    return reply


def devmodel_args(run, disk, serial):
    return ["--xenstore", run.socket, "--dm-run-dir", os.path.join(run.dir, "run"),
            "--disk", disk + ",raw,hda,rw", "--serial", serial]


def test_reboot(run):
    disk = os.path.join(run.shared, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(64 * 1024)
    os.chmod(disk, 0o666)
    log = os.path.join(run.dir, "console.log")
    cfg = run.write("guest.cfg", f"""# reboot_count, restarted once
type = "hvm"
name = "reboot_count"
memory = 32
vga = "stdvga"
disk = [ '{disk},raw,hda,rw' ]
serial = 'pty'
on_poweroff = "destroy"
on_reboot = "restart"
on_crash = "destroy"
""")
    run.start(["--config", cfg, "--kernel", run.guest, "--entry", "protected",
               "--xenstore", run.socket, "--dm-run-dir", os.path.join(run.dir, "run"),
               "--console-log", log])
    status = run.wait()
    run.dump()
    out = run.text("out")
    check(status == 0, f"exit status {status}, expected 0")
    check(out.count("BOOT 1\n") == 1 and out.count("BOOT 2\n") == 1,
          "the guest did not boot exactly twice (BOOT 1, then BOOT 2)")
    check(out.index("BOOT 1") < out.index("BOOT 2"), "boots out of order")
    check("restart" in run.text("err"), "no restart in basalt-vmm's log")
    # The domain's UUID (XENVER_guest_handle) outlives the restart, as xl's.
    handles = re.findall(r"^HANDLE ([0-9a-f]{32})$", out, re.M)
    logged = re.search(r"uuid ([0-9a-f-]{36}) \(generated\)", run.text("err"))
    check(len(handles) == 2, f"expected a domain handle from each boot, got {handles}")
    check(handles[0] == handles[1], f"the domain handle changed across the restart: {handles}")
    check(handles[0] != "0" * 32, "the domain handle is all zeros")
    check(logged and logged.group(1).replace("-", "") == handles[0],
          "the handle is not the UUID basalt-vmm logged")
    with open(disk, "rb") as f:
        f.seek(512)
        magic, boots = struct.unpack("<IH", f.read(6))
    check(magic == 0x544F4F42 and boots == 2, f"the disk counts {boots} boots")
    with open(log) as f:
        logged = f.read()
    print("--- console log\n" + logged)
    stamp = r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] "
    for n in (1, 2):
        check(re.search(stamp + f"BOOT {n}$", logged, re.M),
              f"the console log has no timestamped 'BOOT {n}' line")
    check(not run.qemu_pids(), "a QEMU process is left running")


def test_crash(run):
    cfg = run.write("guest.cfg", f'type = "hvm"\nmemory = 16\nfirmware_override = "{run.guest}"\n'
                    'on_crash = "destroy"\n')
    run.start(["--config", cfg])
    status = run.wait()
    run.dump()
    check(status == EXIT_CRASHED, f"exit status {status}, expected {EXIT_CRASHED}")
    check("crashed: triple fault" in run.text("err"), "no crash message")
    check("on_crash=destroy" in run.text("err"), "the action is not named")


def test_preserve(run):
    sock = os.path.join(run.dir, "control.sock")
    cfg = run.write("guest.cfg", f'type = "hvm"\nname = "keep"\nmemory = 16\n'
                    f'firmware_override = "{run.guest}"\non_crash = "preserve"\n')
    run.start(["--config", cfg, "--control", sock])
    run.wait_for("err", "preserved after crash")
    reply = control(sock, {"command": "status"})
    check(reply.get("ok") and reply.get("state") == "stopped", "the domain is not stopped")
    check("triple fault" in reply.get("stop_reason", ""), "status does not say why it stopped")
    check(run.proc.poll() is None, "basalt-vmm did not stay")
    control(sock, {"command": "destroy"})
    status = run.wait()
    run.dump()
    check(status == EXIT_CRASHED, f"exit status {status}, expected {EXIT_CRASHED}")


def png_chunks(data):
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature")
    pos, chunks = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.append((kind, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return chunks


def test_screenshot(run):
    from PIL import Image

    disk = os.path.join(run.shared, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(64 * 1024)
    os.chmod(disk, 0o666)
    sock = os.path.join(run.dir, "control.sock")
    run.start(["--name", "shot", "--kernel", run.guest, "--entry", "protected", "--memory", "32",
               "--vga", "stdvga", "--control", sock] + devmodel_args(run, disk, "none"))
    run.wait_for("out", "^READY$")
    # The guest stays as it is after READY: its screen no longer changes.
    png = os.path.join(run.dir, "screen.png")
    # basalt-vmm's client mode sends the control socket's screenshot command.
    shot = subprocess.run([run.vmm, "--control", sock, "--screenshot", png],
                          capture_output=True, text=True)
    print("--screenshot:", shot.returncode, shot.stdout, shot.stderr)
    check(shot.returncode == 0 and shot.stdout.strip() == png, "--screenshot failed")
    with open(png, "rb") as f:
        data = f.read()
    chunks = png_chunks(data)
    check(chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND", "bad chunk order")
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
    print(f"PNG {width}x{height}, depth {depth}, colour type {colour}")
    check((width, height) == (720, 400), "not the 720x400 of VGA text mode")
    # QEMU's own screendump of the same screen, straight from QMP.
    qmp = os.path.join(run.dir, "run", "qemu-1", "qmp.sock")
    ppm = os.path.join(run.dir, "run", "qemu-1", "check.ppm")
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(qmp)
        f = s.makefile("rw")
        f.readline()
        for cmd in ({"execute": "qmp_capabilities"},
                    {"execute": "screendump", "arguments": {"filename": ppm}}):
            f.write(json.dumps(cmd) + "\n")
            f.flush()
            while True:
                reply = json.loads(f.readline())
                if "return" in reply or "error" in reply:
                    check("return" in reply, f"QMP: {reply}")
                    break
    ours = Image.open(png).convert("RGB")
    theirs = Image.open(ppm).convert("RGB")
    check(ours.size == theirs.size, "PNG and PPM sizes differ")
    # Row 10 holds the guest's text: the region must match pixel for pixel
    # and must not be blank.
    box = (0, 160, 720, 176)
    check(list(ours.crop(box).getdata()) == list(theirs.crop(box).getdata()),
          "the PNG's text row differs from QEMU's PPM")
    check(len(set(ours.crop(box).getdata())) > 1, "the text row is blank")
    check(list(ours.getdata()) == list(theirs.getdata()), "the PNG differs from the PPM")
    control(sock, {"command": "destroy"})
    check(run.wait() == 0, "destroy did not end basalt-vmm with 0")
    check(not run.qemu_pids(), "a QEMU process is left running")


def test_bad_config(run):
    cfg = run.write("bad.cfg", 'name = "bad"\nmemory = 32\ndisk = [ "/x.img,raw,hda",\n'
                    '         "/y.img,vhd,hdb" ]\nvga = "stdvga"\n')
    run.start(["--config", cfg, "--kernel", run.guest, "--xenstore", run.socket,
               "--dm-run-dir", os.path.join(run.dir, "run")])
    status = run.wait()
    run.dump()
    err = run.text("err").strip().splitlines()
    check(status == EXIT_CONFIG, f"exit status {status}, expected {EXIT_CONFIG}")
    check(len(err) == 1 and err[0].startswith(f"basalt-vmm: error: {cfg}:4: disk:"),
          "expected one error naming line 4")
    # A well-formed config whose disk is missing: one error, nothing started.
    cfg = run.write("missing.cfg", 'name = "missing"\nmemory = 32\n'
                    f'disk = [ "{run.dir}/no-such.img,raw,hda,rw" ]\n')
    run.start(["--config", cfg, "--kernel", run.guest, "--xenstore", run.socket,
               "--dm-run-dir", os.path.join(run.dir, "run")])
    status = run.wait()
    run.dump()
    err = run.text("err").strip().splitlines()
    check(status == EXIT_CONFIG, f"exit status {status}, expected {EXIT_CONFIG}")
    check(len(err) == 1 and "no-such.img" in err[0], "expected one error naming the disk")
    check(not run.qemu_pids(), "a QEMU process was started")
    check(not os.path.exists(os.path.join(run.dir, "run", "qemu-1")), "QEMU's run dir was made")
    keys = subprocess.run(["xenstore-ls", "/local/domain"], capture_output=True, text=True,
                          env=dict(os.environ, XENSTORED_PATH=run.socket))
    print("xenstore-ls /local/domain:", keys.stdout, keys.stderr)
    check("missing" not in keys.stdout, "the domain's keys were left in xenstore")


TESTS = {"reboot": (test_reboot, True), "crash": (test_crash, False),
         "preserve": (test_preserve, False), "screenshot": (test_screenshot, True),
         "bad_config": (test_bad_config, True)}


def main():
    mode, vmm, xenstored, guest = sys.argv[1:5]
    test, need_qemu = TESTS[mode]
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("SKIP: /dev/kvm is not available")
        return SKIP
    if need_qemu and not os.access(QEMU, os.X_OK):
        print(f"SKIP: {QEMU} (Debian's qemu-system-xen) is not installed")
        return SKIP
    run = Run(vmm, xenstored, guest, need_qemu)
    try:
        test(run)
    except Failed as e:
        print(f"FAIL: {e}")
        run.dump()
        return 1
    finally:
        run.close()
    print(f"PASS lifecycle_{mode}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
