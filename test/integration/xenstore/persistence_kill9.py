"""--persist: every write acknowledged before kill -9 is there after restart,
and a clean restart keeps the snapshot.
usage: persistence_kill9.py BASALT_XENSTORED"""

import os
import shutil
import sys
import tempfile
import threading
import time

from xs_client import Daemon, XsError

WRITERS = 4


def main():
    binary = sys.argv[1]
    directory = tempfile.mkdtemp(prefix="xs-persist-")
    store = os.path.join(directory, "store")
    try:
        for round_ in range(3):
            daemon = Daemon(binary, persist=store, directory=directory)
            acked = {}
            # A request the kill cut off may have been made durable without
            # its reply reaching us: for a key written again, the store may
            # hold that newer value instead of the acknowledged one.
            unacked = {}
            stop = threading.Event()

            def writer(n):
                c = daemon.client()
                i = 0
                try:
                    while not stop.is_set():
                        key = "/p/r%d/w%d/k%d" % (round_, n, i)
                        c.write(key, b"v%d" % i)
                        acked[key] = b"v%d" % i  # only after the reply
                        i += 1
                        if i % 7 == 0:
                            txkey = "/p/tx/r%d-w%d" % (round_, n)
                            unacked[txkey] = b"%d" % i
                            tx = c.start()
                            c.write(txkey, b"%d" % i, tx)
                            c.end(tx)
                            acked[txkey] = b"%d" % i
                except (ConnectionError, OSError, XsError):
                    pass

            threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
            for t in threads:
                t.start()
            time.sleep(0.7)
            daemon.kill9()  # mid-stream, with requests in flight
            stop.set()
            for t in threads:
                t.join()

            daemon = Daemon(binary, persist=store, directory=directory)
            c = daemon.client()
            missing = [k for k, v in acked.items() if c.read(k) not in (v, unacked.get(k))]
            if missing:
                print("round %d: lost %d acknowledged writes, e.g. %s" %
                      (round_, len(missing), missing[:3]))
                return 1
            print("round %d: %d acknowledged writes survived kill -9" % (round_, len(acked)))
            c.write("/p/clean", b"%d" % round_)
            daemon.stop()  # clean stop writes a snapshot
            daemon = Daemon(binary, persist=store, directory=directory)
            if daemon.client().read("/p/clean") != b"%d" % round_:
                print("clean restart lost data")
                return 1
            daemon.kill9()
        return 0
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
