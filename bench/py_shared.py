# SPDX-License-Identifier: MIT
"""One PUSH socket shared by --shared=N Python threads (pyzmq), the main
thread receiving on a PULL, inproc, 8-byte messages: the Python shape of
zg_bench_thr --shared.  --lock puts a threading.Lock around each send (the
fix a Python program would make by hand); without it the program is only
correct under mode=serialize.  Prints "thr msgs_per_s=...", timed from the
first message on, as zg_bench_thr does.

  /usr/bin/python3 bench/py_shared.py [--count=N] [--shared=N] [--lock]
"""
import sys
import threading
import time

import zmq


def arg(name, default):
    for a in sys.argv[1:]:
        if a.startswith("--" + name + "="):
            return int(a.split("=", 1)[1])
    return default


def main():
    count, nthreads = arg("count", 400000), arg("shared", 4)
    lock = "--lock" in sys.argv[1:]
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.RCVHWM, 0)  # unbounded, as zg_bench_thr --shared
    pull.bind("inproc://py_shared")
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.SNDHWM, 0)
    push.connect("inproc://py_shared")
    mu = threading.Lock()
    per = count // nthreads
    count = per * nthreads

    def sender():
        msg = b"12345678"
        if lock:
            for _ in range(per):
                with mu:
                    push.send(msg)
        else:
            for _ in range(per):
                push.send(msg)

    threads = [threading.Thread(target=sender) for _ in range(nthreads)]
    for t in threads:
        t.start()
    pull.recv()
    t0 = time.perf_counter()
    for _ in range(count - 1):
        pull.recv()
    elapsed = time.perf_counter() - t0
    for t in threads:
        t.join()
    push.close()
    pull.close()
    ctx.term()
    print("thr msgs_per_s=%.0f secs=%.4f" % ((count - 1) / elapsed, elapsed))


main()
