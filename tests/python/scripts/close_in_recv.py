"""Misuse: the main thread closes a socket while its owner, a worker
thread, sleeps in recv on it.  The worker's second recv runs on the guard's
owner path (no mark of its own): the guard asks the kernel where the worker
sleeps.  Usage: close_in_recv.py"""
import threading
import time

import zmq


def worker(pull, took):
    pull.recv()  # @took
    took.set()
    pull.recv()  # nothing more is ever sent


def asleep_in_poll(native_id):
    try:
        with open("/proc/self/task/%d/syscall" % native_id) as f:
            return f.read().split()[0] in ("7", "271")
    except OSError:
        return False


def main():
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://work")
    push = ctx.socket(zmq.PUSH)
    push.connect("inproc://work")
    push.send(b"first")
    took = threading.Event()
    t = threading.Thread(target=worker, args=(pull, took), name="rx-worker", daemon=True)
    t.start()
    took.wait()
    for _ in range(5000):
        if asleep_in_poll(t.native_id):
            break
        time.sleep(0.001)
    pull.close()  # @close
    print("closed", flush=True)


main()
