# Sourced by the test runners that start basalt-vmm with QEMU as its device
# model (test/guests/devmodel, test/boot): a private work folder cleaned up on
# exit, and a basalt-xenstored whose socket the deprivileged QEMU may use.
#
# After `qemu_fixture_setup`:
#   $dir         the work folder (removed on exit, with basalt-vmm and xenstored killed)
#   $dir/shot    world-writable (1777): what QEMU, running as basalt-qemu, opens or writes
#   $xs_sock     xenstored's socket ($dir/shot/xenstored.sock), group basalt-qemu, mode 660
#   $dir/out, $dir/err   empty files for basalt-vmm's stdout and stderr
# The runner sets $vmm_pid when it starts basalt-vmm; `fail` prints both logs.

qemu_fixture_setup() { # XENSTORED_BINARY
    dir=$(mktemp -d)
    chmod 755 "$dir"
    xs_pid= vmm_pid=
    trap qemu_fixture_cleanup EXIT
    mkdir -m 1777 "$dir/shot"
    xs_sock=$dir/shot/xenstored.sock
    # The device model's group may use the socket too (0660); xenstored sets
    # that before the socket appears, so nothing here can race it.
    "$1" --socket "$xs_sock" --socket-group basalt-qemu 2>"$dir/xenstored.log" &
    xs_pid=$!
    for _ in $(seq 100); do [ -S "$xs_sock" ] && break; sleep 0.05; done
    [ -S "$xs_sock" ] || { echo "basalt-xenstored did not start"; cat "$dir/xenstored.log"; exit 1; }
    : >"$dir/out"
    : >"$dir/err"
}

qemu_fixture_cleanup() {
    [ -n "$vmm_pid" ] && kill "$vmm_pid" 2>/dev/null
    [ -n "$xs_pid" ] && kill "$xs_pid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$dir"
}

fail() {
    echo "FAIL: $*"
    echo "--- basalt-vmm stdout"; cat "$dir/out"
    echo "--- stderr"; cat "$dir/err"
    [ -f "$dir/shot/serial.log" ] && { echo "--- serial"; cat "$dir/shot/serial.log"; }
    exit 1
}
