#!/usr/bin/env bash
# Debian's unmodified xenstore-utils against basalt-xenstored through XENSTORED_PATH.
# usage: xenstore_utils.sh BASALT_XENSTORED
set -euo pipefail
daemon=$1
dir=$(mktemp -d)
export XENSTORED_PATH=$dir/socket
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() { # expect "description" expected actual
    [[ "$2" == "$3" ]] || fail "$1: expected [$2], got [$3]"
}

"$daemon" --socket "$XENSTORED_PATH" 2>"$dir/log" &
pid=$!
for _ in $(seq 100); do [[ -S $XENSTORED_PATH ]] && break; sleep 0.05; done
[[ -S $XENSTORED_PATH ]] || fail "daemon did not create its socket"

xenstore-write /vm/a/name web01 /vm/a/memory 1024 /vm/b ""
expect read web01 "$(xenstore-read /vm/a/name)"
expect "read two" $'web01\n1024' "$(xenstore-read /vm/a/name /vm/a/memory)"
expect list $'a\nb' "$(xenstore-list /vm)"
expect ls $'a = ""\n name = "web01"\n memory = "1024"\nb = ""' "$(xenstore-ls /vm)"
xenstore-exists /vm/a/name || fail "exists on a present key"
if xenstore-exists /vm/none 2>/dev/null; then fail "exists on a missing key"; fi
if xenstore-read /vm/none 2>/dev/null; then fail "read of a missing key"; fi
xenstore-chmod /vm/a/name n0 r5 b7
expect chmod "(n0,r5,b7)" "$(xenstore-ls -p /vm/a | head -1 | grep -o '(.*)')"
xenstore-rm /vm/a
if xenstore-exists /vm/a/name 2>/dev/null; then fail "rm left a child"; fi
expect "list after rm" b "$(xenstore-list /vm)"
# Values with spaces and binary-safe round trip of printable text.
xenstore-write /vm/b/desc "two words"
expect spaces "two words" "$(xenstore-read /vm/b/desc)"
# Invalid path characters are refused.
if xenstore-write "/vm/bad path" x 2>/dev/null; then fail "bad path accepted"; fi

# Watches: the initial event, then one per change below the watched path.
xenstore-watch -n 4 /vm/w > "$dir/watch" &
wpid=$!
sleep 0.3
xenstore-write /vm/w/x 1
xenstore-write /vm/other 1
xenstore-write /vm/w/y/z 2
xenstore-rm /vm/w/x
wait $wpid || fail "xenstore-watch exited with an error"
expect watch $'/vm/w\n/vm/w/x\n/vm/w/y/z\n/vm/w/x' "$(cat "$dir/watch")"

kill -0 "$pid" || fail "daemon died"
echo "xenstore-utils: all checks passed"
