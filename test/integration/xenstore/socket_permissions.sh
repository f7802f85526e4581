#!/usr/bin/env bash
# basalt-xenstored's socket: whoever sees it under its name can connect, and
# its owner and mode are already final then (suite xenstore).
#   - without --socket-group: root's, mode 0600;
#   - --socket-group basalt-qemu: group basalt-qemu, mode 0660, at the first
#     moment the path exists (it is bound under PATH.new and renamed), so a
#     chgrp/chmod race like the one this replaced cannot happen;
#   - an unknown group is refused with exit status 2 and one error line;
#   - a stale socket left at PATH is replaced.
# usage: socket_permissions.sh BASALT_XENSTORED
set -uo pipefail
xenstored=$1
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# Starts xenstored with the given options and sets $seen to the socket's mode
# and group as stat sees them the first time the path exists. (Not a command
# substitution: the daemon would hold its pipe open.)
first_sight() {
    "$xenstored" --socket "$dir/xs.sock" "$@" >"$dir/log" 2>&1 &
    pid=$!
    seen="never appeared"
    for _ in $(seq 2000); do
        if [ -S "$dir/xs.sock" ]; then
            seen=$(stat -c '%a %G' "$dir/xs.sock")
            return
        fi
        sleep 0.005
    done
}
stop() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=; }

first_sight
[ "$seen" = "600 root" ] || fail "without --socket-group the socket was first seen as '$seen'"
[ ! -e "$dir/xs.sock.new" ] || fail "the staging name is left behind"
stop

if getent group basalt-qemu >/dev/null; then
    for round in 1 2 3 4 5; do
        first_sight --socket-group basalt-qemu
        [ "$seen" = "660 basalt-qemu" ] ||
            fail "round $round: with --socket-group the socket was first seen as '$seen'"
        # A client that sees it can connect at once.
        /usr/bin/python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' \
            "$dir/xs.sock" || fail "round $round: connecting right after it appeared failed"
        stop
        # The socket of the stopped daemon is gone; leave a stale file to be replaced.
        [ "$round" = 2 ] && : >"$dir/xs.sock"
    done
else
    echo "note: no group basalt-qemu (scripts/setup creates it); its cases were not run"
fi

"$xenstored" --socket "$dir/other.sock" --socket-group no-such-group-here 2>"$dir/err"
status=$?
[ "$status" = 2 ] || fail "an unknown group gave exit status $status, not 2"
[ "$(wc -l <"$dir/err")" = 1 ] && grep -q "no group 'no-such-group-here'" "$dir/err" ||
    fail "an unknown group's error: $(cat "$dir/err")"
[ ! -e "$dir/other.sock" ] || fail "a socket was created despite the error"
echo "PASS socket_permissions"
