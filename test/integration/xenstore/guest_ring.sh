#!/usr/bin/env bash
# A guest speaks xenstore over its own ring (test/guests/xenstore/xs_ring.c):
# basalt-xenstored on a temporary socket, another domain's key seeded with
# xenstore-write, basalt-vmm --xenstore --domid; the guest's write is checked
# from outside with xenstore-read while the guest waits. Then, with the guest
# idle on a watch, xenstored is killed (-9) and started again with the same
# --persist file: basalt-vmm introduces the ring again, the guest's watch comes
# back, and the guest goes on. The domain's keys are gone once basalt-vmm has
# exited.
# usage: guest_ring.sh BASALT_VMM BASALT_XENSTORED NAME IMAGE ENTRY
set -uo pipefail
vmm=$1 xenstored=$2 name=$3 image=$4 entry=$5
domid=3
other=$((domid + 1))
home=/local/domain/$domid
uuid=0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3 # the domain's: /vm/<uuid>

if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "SKIP: /dev/kvm is not available; guest '$name' needs KVM"
    exit 77
fi

dir=$(mktemp -d)
xs_pid= vmm_pid=
cleanup() {
    [ -n "$vmm_pid" ] && kill "$vmm_pid" 2>/dev/null
    [ -n "$xs_pid" ] && kill "$xs_pid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$dir/out" ] && cat "$dir/out"; exit 1; }

export XENSTORED_PATH=$dir/socket
start_xenstored() {
    rm -f "$XENSTORED_PATH"
    "$xenstored" --socket "$XENSTORED_PATH" --persist "$dir/store" &
    xs_pid=$!
    for _ in $(seq 100); do [ -S "$XENSTORED_PATH" ] && break; sleep 0.05; done
    [ -S "$XENSTORED_PATH" ] || fail "xenstored did not start"
}
wait_key() { # PATH VALUE: until PATH reads VALUE while basalt-vmm runs
    for _ in $(seq 1200); do
        [ "$(xenstore-read "$1" 2>/dev/null)" = "$2" ] && return 0
        kill -0 "$vmm_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
start_xenstored

# Another domain's private key: owner $other, no access for anyone else.
xenstore-write /local/domain/$other/data/secret other-domains-secret || fail "seed"
xenstore-chmod /local/domain/$other n$other || fail "chmod"

timeout --kill-after=5 300 "$vmm" --name "$name" --kernel "$image" --entry "$entry" \
    --test-exit-port 0xf4 --memory 16 --xenstore "$XENSTORED_PATH" --domid $domid \
    --uuid "$uuid" >"$dir/out" &
vmm_pid=$!

# The guest says it is ready once its writes are done; check them from outside.
wait_key $home/data/ready 1 || fail "the guest never wrote $home/data/ready"
[ "$(xenstore-read $home/data/test)" = written-by-guest ] || fail "relative write did not land"
[ "$(xenstore-read $home/data/absolute)" = absolute-write ] || fail "absolute write did not land"
[ "$(xenstore-read $home/domid)" = $domid ] || fail "domid key"
[ "$(xenstore-read $home/name)" = "$name" ] || fail "name key"
vm=$(xenstore-read $home/vm) || fail "vm key"
[ "$vm" = "/vm/$uuid" ] || fail "vm key '$vm' is not /vm/$uuid (--uuid)"
[ "$(xenstore-read "$vm/name")" = "$name" ] || fail "$vm/name"
[ "$(xenstore-read "$vm/uuid")" = "$uuid" ] || fail "$vm/uuid"
# The guest owns its home; dom0 reads it.
case "$(xenstore-ls -p $home | head -1)" in
    *"n$domid"*) ;;
    *) fail "home path is not owned by domain $domid: $(xenstore-ls -p $home | head -1)" ;;
esac
[ "$(xenstore-read /local/domain/$other/data/secret)" = other-domains-secret ] ||
    fail "the other domain's key changed"
xenstore-write $home/data/ack seen || fail "ack"

# xenstored goes away under the idle guest and comes back from its files.
wait_key $home/data/waiting 1 || fail "the guest never wrote $home/data/waiting"
kill -9 "$xs_pid"
wait "$xs_pid" 2>/dev/null
start_xenstored
[ "$(xenstore-read $home/data/test)" = written-by-guest ] || fail "lost across the restart"
[ "$(xenstore-read /local/domain/$other/data/secret)" = other-domains-secret ] ||
    fail "the other domain's key was lost across the restart"
xenstore-write $home/data/phase2 go || fail "phase2"
wait_key $home/data/after survived || fail "the guest did not go on after the restart"
xenstore-write $home/data/done yes || fail "done"

wait "$vmm_pid"
status=$?
vmm_pid=
cat "$dir/out"
grep -qx "PASS $name" "$dir/out" || fail "no 'PASS $name' line (exit status $status)"
[ "$status" = 0 ] || fail "basalt-vmm exited with status $status"
# On exit basalt-vmm released the domain and removed its keys.
if xenstore-exists $home 2>/dev/null; then fail "$home is still there after exit"; fi
if xenstore-exists "$vm" 2>/dev/null; then fail "$vm is still there after exit"; fi
echo "guest ring: ok"
