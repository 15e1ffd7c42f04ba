# SPDX-License-Identifier: MIT
"""Socket creation from Python: COUNT times ctx.socket(zmq.REQ) and close(),
made DEPTH Python calls deep (a socket's creation records its Python
traceback, whose cost grows with the stack).  Prints the wall time and the
process's CPU time (all its threads, libzmq's reaper included) per socket.

  /usr/bin/python3 bench/py_sockets.py [--count=N] [--depth=N]
"""
import resource
import sys
import time

import zmq


def arg(name, default):
    for a in sys.argv[1:]:
        if a.startswith("--" + name + "="):
            return int(a.split("=", 1)[1])
    return default


def make_and_close(ctx, count):
    for _ in range(count):
        ctx.socket(zmq.REQ).close()


def at_depth(depth, fn, *args):
    return fn(*args) if depth <= 0 else at_depth(depth - 1, fn, *args)


def main():
    count, depth = arg("count", 3000), arg("depth", 30)
    # Closed sockets count against ZMQ_MAX_SOCKETS, and hold a descriptor,
    # until libzmq's reaper frees them: under valgrind the loop outruns it
    # (as bench/sockets.c, whose limits these are).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard and soft < 65536:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    ctx = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, 16384)
    at_depth(depth, make_and_close, ctx, 100)  # warm-up: first reports, imports
    t0, c0 = time.perf_counter(), time.process_time()
    at_depth(depth, make_and_close, ctx, count)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    ctx.term()
    print("py_sockets us_per_socket=%.2f cpu_us_per_socket=%.2f depth=%d count=%d"
          % (elapsed / count * 1e6, cpu / count * 1e6, depth, count))


main()
