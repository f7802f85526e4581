#!/usr/bin/env python3
"""basalt-vmm starts QEMU deprivileged, and cleans up after it.

Usage: devmodel_launch.py BASALT_VMM BASALT_XENSTORED IDLE_GUEST BUILD_ROOT

Checks, against the real QEMU, provider libraries and xenstored:
- QEMU's credentials (basalt-qemu, no groups, NoNewPrivs, seccomp filter);
- its fds: 0 /dev/null, 1-2 its log, 3 the DM socket; an fd planted in
  basalt-vmm without CLOEXEC is not inherited, nor any other of its files;
- it cannot reach /dev/kvm; the device-model/<domid>/state handshake;
- kill -9 of QEMU: basalt-vmm exits 2 naming the device model, and the
  xenstore keys and run dir are gone;
- a missing disk, provider-library folder or user: one clear error, no QEMU,
  no keys.
Exits 77 without /dev/kvm, qemu-system-xen or root.
"""

import grp
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

QEMU = "/usr/libexec/xen-qemu-system-i386"
USER = "basalt-qemu"
DOMID = "1"
DM_KEY = "/local/domain/0/device-model/" + DOMID
STEP_TIMEOUT = 120


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def fail(why):
    print("FAIL: " + why)
    sys.exit(1)


def xs(env, *args):
    return subprocess.run(list(args), env=env, capture_output=True, text=True)


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(entry))
        except OSError:
            pass
    return out


def status_fields(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def fd_targets(pid):
    targets = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            targets[int(fd)] = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            pass
    return targets


def wait_for(predicate, what, proc=None):
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            fail("basalt-vmm exited (%d) while waiting for %s:\n%s%s"
                 % (proc.returncode, what, out, err))
        time.sleep(0.1)
    fail("timed out waiting for " + what)


def run_error_case(vmm, base_args, extra, env, expect, store_env):
    proc = subprocess.run([vmm] + base_args + extra, env=env, capture_output=True,
                          text=True, timeout=STEP_TIMEOUT)
    if proc.returncode != 1:
        fail("%s: exit status %d, expected 1\n%s" % (extra, proc.returncode, proc.stderr))
    lines = [l for l in proc.stderr.splitlines() if "error" in l]
    if len(lines) != 1 or expect not in lines[0]:
        fail("%s: expected one error containing %r, got:\n%s" % (extra, expect, proc.stderr))
    if xs(store_env, "xenstore-exists", DM_KEY).returncode == 0:
        fail("%s: %s was left in xenstore" % (extra, DM_KEY))
    print("ok: %s -> %s" % (" ".join(extra) or "(env)", lines[0]))


def main():
    vmm, xenstored, guest, build_root = sys.argv[1:5]
    if not os.path.exists("/dev/kvm"):
        skip("/dev/kvm is missing")
    if not os.path.exists(QEMU):
        skip(QEMU + " is missing (qemu-system-xen)")
    if os.geteuid() != 0:
        skip("starting QEMU as another user needs root")
    try:
        qemu_user = pwd.getpwnam(USER)
    except KeyError:
        fail("user %s is missing: run scripts/setup" % USER)
    if not shutil.which("xenstore-read"):
        skip("xenstore-utils is missing")

    work = tempfile.mkdtemp(prefix="basalt-dm-")
    os.chmod(work, 0o755)
    store = None
    vmm_proc = None
    try:
        sock = os.path.join(work, "xenstored.sock")
        # QEMU connects as basalt-qemu (its own xenstore rights are dom0's,
        # as under Xen, where QEMU runs in dom0).
        store = subprocess.Popen([xenstored, "--socket", sock, "--socket-group", "basalt-qemu"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: os.path.exists(sock), "xenstored's socket")
        store_env = dict(os.environ, XENSTORED_PATH=sock)

        disk = os.path.join(work, "disk.img")
        with open(disk, "wb") as f:
            f.write(b"BASALT-DISK" + bytes(1024 * 1024 - 11))
        os.chown(disk, qemu_user.pw_uid, qemu_user.pw_gid)
        run_dir = os.path.join(work, "run")
        base_args = ["--kernel", guest, "--xenstore", sock, "--domid", DOMID,
                     "--dm-run-dir", run_dir, "--vga", "stdvga"]
        env = dict(os.environ)

        # Error cases first: each fails before anything runs.
        run_error_case(vmm, base_args, ["--disk", os.path.join(work, "nope.img") + ",raw,hda"],
                       env, "nope.img", store_env)
        run_error_case(vmm, base_args,
                       ["--disk", disk + ",raw,hda", "--dm-library-dir", work + "/no-libs"],
                       env, "provider libraries", store_env)
        run_error_case(vmm, base_args, ["--disk", disk + ",raw,hda"],
                       dict(env, BASALT_DM_USER="basalt-no-such-user"),
                       "basalt-no-such-user", store_env)

        # A file basalt-vmm holds without CLOEXEC: QEMU must not get it.
        planted_path = os.path.join(work, "planted-fd")
        planted = os.open(planted_path, os.O_CREAT | os.O_RDWR, 0o600)
        os.set_inheritable(planted, True)
        vmm_proc = subprocess.Popen(
            [vmm] + base_args + ["--disk", disk + ",raw,hda,rw", "--serial", "pty"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            pass_fds=(planted,))
        os.close(planted)

        state = wait_for(lambda: xs(store_env, "xenstore-read", DM_KEY + "/state").stdout.strip()
                         == "running", "QEMU's running state", vmm_proc)
        qemu_pids = wait_for(lambda: [p for p in children(vmm_proc.pid)
                                      if os.readlink("/proc/%d/exe" % p) == QEMU],
                             "the QEMU child", vmm_proc)
        qemu = qemu_pids[0]
        print("ok: QEMU pid %d reached %s/state = running" % (qemu, DM_KEY))

        st = status_fields(qemu)
        uid, gid = str(qemu_user.pw_uid), str(qemu_user.pw_gid)
        if st["Uid"].split() != [uid] * 4 or st["Gid"].split() != [gid] * 4:
            fail("QEMU runs as Uid %s Gid %s, not %s" % (st["Uid"], st["Gid"], USER))
        if st["Groups"] != "":
            fail("QEMU has supplementary groups: " + st["Groups"])
        if st["NoNewPrivs"] != "1":
            fail("QEMU lacks NoNewPrivs")
        if st["Seccomp"] != "2":
            fail("QEMU runs without a seccomp filter (Seccomp %s)" % st["Seccomp"])
        if st["CapEff"] != "0000000000000000" or st["CapPrm"] != "0000000000000000":
            fail("QEMU has capabilities: %s / %s" % (st["CapPrm"], st["CapEff"]))
        print("ok: credentials Uid/Gid %s, no groups, NoNewPrivs 1, Seccomp 2, no caps" % USER)

        qfds = fd_targets(qemu)
        vfds = fd_targets(vmm_proc.pid)
        log_path = os.path.join(run_dir, "qemu-%s.log" % DOMID)
        if qfds.get(0) != "/dev/null":
            fail("QEMU's stdin is %s" % qfds.get(0))
        if qfds.get(1) != log_path or qfds.get(2) != log_path:
            fail("QEMU's stdout/stderr are %s / %s, not %s" % (qfds.get(1), qfds.get(2), log_path))
        if not qfds.get(3, "").startswith("socket:"):
            fail("QEMU's fd 3 (the DM socket) is %s" % qfds.get(3))
        if planted_path in qfds.values():
            fail("QEMU inherited basalt-vmm's planted fd")
        # Objects both processes hold: only shared memory and eventfds the
        # host sent on purpose (SCM_RIGHTS), never a socket, pipe or file of
        # basalt-vmm's own.
        shared_ok = ("/memfd:", "anon_inode:", "/dev/null", "/dev/pts/", "/dev/ptmx")
        for fd, target in qfds.items():
            if target.startswith(shared_ok) or target == disk or fd in (1, 2):
                continue
            if target in vfds.values():
                fail("QEMU fd %d (%s) is also open in basalt-vmm" % (fd, target))
            if target == "/dev/kvm":
                fail("QEMU has /dev/kvm open")
        print("ok: QEMU fds %s" % sorted(qfds.items()))

        kvm = os.stat("/dev/kvm")
        kvm_gid = kvm.st_gid
        if kvm.st_mode & 0o006:
            fail("/dev/kvm is accessible to everyone (mode %o)" % kvm.st_mode)
        if str(kvm_gid) == gid or (kvm.st_uid == qemu_user.pw_uid):
            fail("basalt-qemu owns /dev/kvm or has its group")
        probe = subprocess.run(["setpriv", "--reuid", uid, "--regid", gid, "--clear-groups",
                                "--", "sh", "-c", "exec 3<>/dev/kvm"], capture_output=True)
        if probe.returncode == 0:
            fail("user %s can open /dev/kvm" % USER)
        print("ok: %s cannot open /dev/kvm" % USER)

        os.kill(qemu, signal.SIGKILL)
        try:
            out, err = vmm_proc.communicate(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            vmm_proc.kill()
            fail("basalt-vmm did not exit after QEMU was killed")
        if vmm_proc.returncode != 2:
            fail("basalt-vmm exited %d after QEMU died, not 2:\n%s" % (vmm_proc.returncode, err))
        if "device model" not in (out + err):
            fail("basalt-vmm's output does not name the device model:\n" + out + err)
        print("ok: basalt-vmm exited 2: " +
              next(l for l in (out + err).splitlines() if "device model" in l))
        if xs(store_env, "xenstore-exists", DM_KEY).returncode == 0:
            fail(DM_KEY + " was left in xenstore")
        if os.path.exists(os.path.join(run_dir, "qemu-" + DOMID)):
            fail("QEMU's run directory was left behind")
        if children(vmm_proc.pid):
            fail("processes were left behind")
        print("ok: keys and run directory removed")
        return 0
    finally:
        if vmm_proc is not None and vmm_proc.poll() is None:
            vmm_proc.kill()
            vmm_proc.wait()
        if store is not None:
            store.terminate()
            store.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
