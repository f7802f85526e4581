"""A minimal xenstore wire-protocol client for integration tests and the
robustness checks that libxenstore cannot express (malformed messages)."""

import os
import socket
import struct
import subprocess
import tempfile
import time

XS_CONTROL, XS_DIRECTORY, XS_READ, XS_GET_PERMS, XS_WATCH, XS_UNWATCH = range(6)
XS_TRANSACTION_START, XS_TRANSACTION_END, XS_INTRODUCE, XS_RELEASE = range(6, 10)
XS_GET_DOMAIN_PATH, XS_WRITE, XS_MKDIR, XS_RM, XS_SET_PERMS = range(10, 15)
XS_WATCH_EVENT, XS_ERROR = 15, 16
HEADER = struct.Struct("<IIII")


class XsError(Exception):
    def __init__(self, name):
        super().__init__(name)
        self.name = name


class Client:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.req = 0
        self.events = []

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed by server")
            buf += chunk
        return buf

    def recv_message(self):
        typ, req, tx, length = HEADER.unpack(self._recv_exact(HEADER.size))
        return typ, req, tx, self._recv_exact(length)

    def call(self, typ, payload, tx=0):
        self.req += 1
        self.send_raw(HEADER.pack(typ, self.req, tx, len(payload)) + payload)
        while True:
            rtyp, req, _, body = self.recv_message()
            if rtyp == XS_WATCH_EVENT:
                self.events.append(body)
                continue
            if rtyp == XS_ERROR:
                raise XsError(body.rstrip(b"\0").decode())
            return body

    def read(self, path, tx=0):
        return self.call(XS_READ, path.encode() + b"\0", tx)

    def write(self, path, value, tx=0):
        self.call(XS_WRITE, path.encode() + b"\0" + value, tx)

    def start(self):
        return int(self.call(XS_TRANSACTION_START, b"\0").rstrip(b"\0"))

    def end(self, tx, commit=True):
        self.call(XS_TRANSACTION_END, b"T\0" if commit else b"F\0", tx)


class Daemon:
    """basalt-xenstored on a temporary socket."""

    def __init__(self, binary, persist=None, directory=None):
        self.dir = directory or tempfile.mkdtemp(prefix="xs-it-")
        self.socket = os.path.join(self.dir, "socket")
        args = [binary, "--socket", self.socket]
        if persist:
            args += ["--persist", persist]
        self.log = open(os.path.join(self.dir, "daemon.log"), "ab")
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        self.proc = subprocess.Popen(args, stderr=self.log)
        for _ in range(200):
            if os.path.exists(self.socket):
                try:
                    Client(self.socket).close()
                    return
                except OSError:
                    pass
            if self.proc.poll() is not None:
                raise RuntimeError("daemon exited with %d" % self.proc.returncode)
            time.sleep(0.02)
        raise RuntimeError("daemon did not start")

    def client(self):
        return Client(self.socket)

    def alive(self):
        return self.proc.poll() is None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.alive():
            self.proc.terminate()
            self.proc.wait(timeout=10)
