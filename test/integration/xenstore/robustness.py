"""Hostile socket clients: malformed messages get an error or lose their own
connection; a client that stops reading is dropped; nobody else notices.
usage: robustness.py BASALT_XENSTORED"""

import socket
import struct
import sys

from xs_client import HEADER, XS_READ, XS_WATCH, XS_WRITE, Daemon, XsError


def expect_error(c, typ, payload, name):
    try:
        c.call(typ, payload)
    except XsError as e:
        if e.name != name:
            raise AssertionError("expected %s, got %s" % (name, e.name))
        return
    raise AssertionError("expected %s, got success" % name)


def dropped(c):
    try:
        c.sock.settimeout(5)
        c.call(XS_READ, b"/\0")
    except (ConnectionError, OSError):
        return True
    return False


def main():
    daemon = Daemon(sys.argv[1])
    try:
        good = daemon.client()
        good.write("/ok", b"1")

        c = daemon.client()
        expect_error(c, XS_READ, b"/ok", "EINVAL")               # missing NUL
        expect_error(c, XS_READ, b"/a b\0", "EINVAL")            # bad characters
        expect_error(c, XS_READ, b"/a//b\0", "EINVAL")
        expect_error(c, XS_WRITE, b"/" + b"a/" * 1600 + b"x\0v", "EINVAL")  # too long/deep
        expect_error(c, XS_WRITE, b"/x\xff\0v", "EINVAL")
        expect_error(c, 4242, b"", "ENOSYS")                     # unknown type
        assert c.read("/ok") == b"1"

        # Payload over XENSTORE_PAYLOAD_MAX: that connection is dropped.
        bad = daemon.client()
        bad.send_raw(HEADER.pack(XS_WRITE, 1, 0, 4097) + b"x" * 100)
        assert dropped(bad), "oversized message did not drop the connection"

        # A half message then silence does not stall anyone.
        slow = daemon.client()
        slow.send_raw(HEADER.pack(XS_READ, 1, 0, 10) + b"/o")

        # A client that watches everything and never reads is dropped once its
        # queue is full; writers are never blocked.
        deaf = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        deaf.connect(daemon.socket)
        payload = b"/\0tok\0"
        deaf.sendall(HEADER.pack(XS_WATCH, 1, 0, len(payload)) + payload)
        value = b"v" * 2000
        for i in range(3000):
            good.write("/storm/%d" % (i % 50), value)
        assert good.read("/ok") == b"1"
        deaf.settimeout(5)
        total = 0
        try:
            while True:
                chunk = deaf.recv(1 << 20)
                if not chunk:
                    break
                total += len(chunk)
        except OSError:
            pass
        assert total < 3000 * 2000, "deaf client was not dropped (%d bytes)" % total

        assert c.read("/ok") == b"1"
        assert daemon.alive()
        print("robustness: all checks passed")
        return 0
    finally:
        daemon.stop()


if __name__ == "__main__":
    sys.exit(main())
