"""Concurrent clients increment shared counters in transactions and move
units between two keys; conflicts return EAGAIN and are retried. At the end
no increment is lost and the transfer invariant holds.
usage: concurrent_transactions.py BASALT_XENSTORED"""

import sys
import threading

from xs_client import Daemon, XsError

CLIENTS = 8
ROUNDS = 150
TOTAL = 1000


def worker(daemon, index, stats, errors):
    try:
        c = daemon.client()
        for i in range(ROUNDS):
            while True:
                tx = c.start()
                try:
                    n = int(c.read("/test/counter", tx))
                    c.write("/test/counter", str(n + 1).encode(), tx)
                    a = int(c.read("/test/a", tx))
                    b = int(c.read("/test/b", tx))
                    c.write("/test/a", str(a - 1).encode(), tx)
                    c.write("/test/b", str(b + 1).encode(), tx)
                    c.write("/test/log/%d-%d" % (index, i), b"x", tx)
                    c.end(tx, True)
                    break
                except XsError as e:
                    if e.name != "EAGAIN":
                        raise
                    stats["conflicts"] += 1
            # A committed transaction never sees a partial transfer.
            a = int(c.read("/test/a"))
            b = int(c.read("/test/b"))
            if a + b != TOTAL:
                # a and b are read non-atomically here: only check inside a transaction.
                tx = c.start()
                try:
                    a = int(c.read("/test/a", tx))
                    b = int(c.read("/test/b", tx))
                    # Reads are validated at commit: only a committed view counts.
                    c.end(tx, True)
                    if a + b != TOTAL:
                        errors.append("invariant broken in a transaction: %d + %d" % (a, b))
                except XsError:
                    pass
    except Exception as e:  # noqa: BLE001
        errors.append("client %d: %r" % (index, e))


def main():
    daemon = Daemon(sys.argv[1])
    try:
        c = daemon.client()
        c.write("/test/counter", b"0")
        c.write("/test/a", str(TOTAL).encode())
        c.write("/test/b", b"0")
        stats = {"conflicts": 0}
        errors = []
        threads = [threading.Thread(target=worker, args=(daemon, i, stats, errors))
                   for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            print("\n".join(errors[:10]))
            return 1
        counter = int(c.read("/test/counter"))
        a, b = int(c.read("/test/a")), int(c.read("/test/b"))
        logged = c.call(1, b"/test/log\0").count(b"\0")
        print("counter=%d a=%d b=%d log=%d conflicts=%d" %
              (counter, a, b, logged, stats["conflicts"]))
        ok = (counter == CLIENTS * ROUNDS and a + b == TOTAL and b == CLIENTS * ROUNDS
              and logged == CLIENTS * ROUNDS)
        if stats["conflicts"] == 0:
            print("warning: no conflicts happened")
        return 0 if ok and daemon.alive() else 1
    finally:
        daemon.stop()


if __name__ == "__main__":
    sys.exit(main())
