#!/usr/bin/env bash
# VNC with a password (xl.cfg vncpasswd): SeaBIOS's banner seen through
# basalt-vnc-auth by an independent client (suite boot).
# usage: run_vnc_auth_test.sh BASALT_VMM BASALT_XENSTORED
#
# A guest with a blank disk stops at SeaBIOS's "No bootable device"; its
# config file asks for VNC on loopback with a password. Then:
#   - vncsnapshot (Debian's, RFB 3.3) with the right password, from a
#     standard obfuscated password file (tigervnc's `vncpasswd -f`), captures
#     the screen, and OCR reads "SeaBIOS" on it;
#   - the same client with a wrong password is refused and captures nothing;
#   - a raw RFB 3.8 client is offered only VNC Authentication (2), and asking
#     for None (1) is refused with a SecurityResult of 1;
#   - the port belongs to basalt-vnc-auth running as basalt-qemu, QEMU's own
#     VNC socket is inside its private run directory, and another user
#     (nobody) cannot connect to it;
#   - the password is in no log, argv or environment;
#   - when basalt-vnc-auth is killed, basalt-vmm logs it and the guest runs on.
set -uo pipefail
vmm=$1 xenstored=$2
qemu=/usr/libexec/xen-qemu-system-i386
hvmloader=/usr/lib/xen-4.17/boot/hvmloader
seabios=/usr/share/seabios/bios-256k.bin
password="Basalt-7"
wrong="Basalt-8"

if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "SKIP: /dev/kvm is not available; the boot tests need KVM"
    exit 77
fi
for f in "$qemu" "$hvmloader" "$seabios" /usr/bin/vncsnapshot /usr/bin/tigervncpasswd \
    /usr/bin/tesseract; do
    if [ ! -e "$f" ]; then
        echo "SKIP: $f is not installed (scripts/setup: qemu-system-xen, xen-utils-4.17, seabios,"
        echo "      vncsnapshot, tigervnc-tools, tesseract-ocr)"
        exit 77
    fi
done

. "$(dirname "$0")/../tools/qemu_guest_fixture.sh"
qemu_fixture_setup "$xenstored"

# A free loopback display (tests run in parallel; VNC ports are 5900+N).
display=$(/usr/bin/python3 - <<'PY'
import random, socket
for _ in range(200):
    n = random.randint(100, 4000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 5900 + n))
    except OSError:
        continue
    finally:
        s.close()
    print(n)
    break
PY
)
[ -n "$display" ] || fail "no free VNC port"
port=$((5900 + display))

truncate -s 1M "$dir/shot/blank.img"
chmod 666 "$dir/shot/blank.img"
cat >"$dir/guest.cfg" <<CFG
type = "hvm"
name = "vnc-auth"
vnc = 1
vnclisten = "127.0.0.1:$display"
vncpasswd = "$password"
CFG

timeout --kill-after=5 240 "$vmm" --config "$dir/guest.cfg" --firmware seabios --memory 64 \
    --xenstore "$xs_sock" --device-model qemu --vga stdvga --serial "file:$dir/shot/serial.log" \
    --dm-run-dir "$dir/run" --disk "$dir/shot/blank.img,raw,hda,rw" >"$dir/out" 2>"$dir/err" &
vmm_pid=$!

for _ in $(seq 1800); do
    grep -q "No bootable device" "$dir/out" && break
    kill -0 "$vmm_pid" 2>/dev/null || fail "basalt-vmm stopped before SeaBIOS gave up booting"
    sleep 0.1
done
grep -q "No bootable device" "$dir/out" || fail "SeaBIOS did not reach 'No bootable device'"
auth_pid=$(sed -n 's/.*basalt-vnc-auth pid \([0-9][0-9]*\) guards.*/\1/p' "$dir/err" | head -1)
[ -n "$auth_pid" ] || fail "basalt-vmm did not start basalt-vnc-auth"
auth_log="$dir/run/qemu-1-vnc-auth.log"
qemu_vnc="$dir/run/qemu-1/vnc.sock"

# The right password: a screen, and SeaBIOS on it.
/usr/bin/tigervncpasswd -f <<<"$password" >"$dir/good.passwd"
/usr/bin/tigervncpasswd -f <<<"$wrong" >"$dir/wrong.passwd"
timeout 60 vncsnapshot -quiet -passwd "$dir/good.passwd" "127.0.0.1:$display" "$dir/shot/good.jpg" \
    >"$dir/good.log" 2>&1
rc=$?
cat "$dir/good.log"
[ "$rc" = 0 ] && [ -s "$dir/shot/good.jpg" ] ||
    fail "vncsnapshot with the right password failed (status $rc); relay log: $(cat "$auth_log")"
/usr/bin/python3 - "$dir/shot/good.jpg" "$dir/shot/good-big.png" <<'PY' || fail "cannot convert the capture"
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("L")
im.resize((im.width * 3, im.height * 3), Image.NEAREST).save(sys.argv[2])
PY
seen=$(tesseract "$dir/shot/good-big.png" - 2>/dev/null | tr -s ' \n' ' ')
echo "OCR: $seen"
case "${seen^^}" in
*SEABIOS*) ;;
*) fail "the VNC capture does not show SeaBIOS's banner" ;;
esac

# The wrong password: refused, nothing captured.
timeout 60 vncsnapshot -quiet -passwd "$dir/wrong.passwd" "127.0.0.1:$display" \
    "$dir/shot/wrong.jpg" >"$dir/wrong.log" 2>&1
rc=$?
cat "$dir/wrong.log"
[ "$rc" != 0 ] || fail "vncsnapshot with a wrong password succeeded"
[ ! -s "$dir/shot/wrong.jpg" ] || fail "a wrong password captured the screen"
grep -q "wrong password" "$auth_log" || fail "basalt-vnc-auth did not log the refusal"

# No password: only type 2 is offered, and type None is refused.
/usr/bin/python3 - "$port" <<'PY' || fail "the relay let a client choose no authentication"
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
def read(n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            sys.exit("connection closed after %r" % data)
        data += chunk
    return data
assert read(12) == b"RFB 003.008\n"
s.sendall(b"RFB 003.008\n")
count = read(1)[0]
types = list(read(count))
print("offered security types:", types)
assert types == [2], types
s.sendall(bytes([1]))
result = struct.unpack(">I", read(4))[0]
reason = read(struct.unpack(">I", read(4))[0])
print("SecurityResult:", result, reason)
assert result == 1
PY

# Who listens, and who can reach QEMU's own VNC server.
owner=$(ps -o user= -p "$auth_pid" | tr -d ' ')
[ "$owner" = basalt-qemu ] || fail "basalt-vnc-auth runs as '$owner', not basalt-qemu"
seccomp=$(sed -n 's/^Seccomp:[[:space:]]*//p' "/proc/$auth_pid/status")
[ "$seccomp" = 2 ] || fail "basalt-vnc-auth runs without its seccomp filter (Seccomp: '$seccomp')"
ss -Hltnp "sport = :$port" | grep -q "pid=$auth_pid," || fail "port $port is not basalt-vnc-auth's"
[ -S "$qemu_vnc" ] || fail "QEMU's VNC socket $qemu_vnc is missing"
grep -q -- "-vnc unix:$qemu_vnc" "$dir/err" || fail "QEMU was not told to listen on $qemu_vnc"
setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 - "$qemu_vnc" <<'PY' ||
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except PermissionError as e:
    print("nobody cannot reach QEMU's VNC socket:", e)
    sys.exit(0)
sys.exit("nobody connected to QEMU's VNC socket")
PY
    fail "another user can reach QEMU's VNC socket"

# The secret appears nowhere it could be read.
for f in "$dir/out" "$dir/err" "$auth_log" "$dir/run/qemu-1.log"; do
    ! grep -qF "$password" "$f" || fail "the password is in $f"
done
! tr '\0' '\n' <"/proc/$auth_pid/cmdline" | grep -qF "$password" || fail "the password is in argv"
! tr '\0' '\n' <"/proc/$auth_pid/environ" | grep -qF "$password" ||
    fail "the password is in the environment"
# The relay's death costs VNC access, not the guest: logged, guest running.
kill -9 "$auth_pid"
for _ in $(seq 300); do
    grep -q "VNC access to domain 1 is lost" "$dir/err" && break
    sleep 0.1
done
grep -q "VNC access to domain 1 is lost" "$dir/err" || fail "the relay's death was not logged"
kill -0 "$vmm_pid" 2>/dev/null || fail "basalt-vmm ended when basalt-vnc-auth died"
echo "PASS boot_vnc_password"
exit 0
