# SPDX-License-Identifier: MIT
"""A misuse made while the offending thread holds the GIL: pyzmq calls
zmq_setsockopt without releasing it.  The guard reads the thread names
directly then (a helper thread could not get the GIL in time)."""
import threading

import zmq


def worker(sock, owned, done):
    sock.send(b"mine")  # @own
    owned.set()
    done.wait()


def main():
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://setup")
    push = ctx.socket(zmq.PUSH)  # @create
    push.connect("inproc://setup")
    owned, done = threading.Event(), threading.Event()
    t = threading.Thread(target=worker, args=(push, owned, done), name="worker")
    t.start()
    owned.wait()
    push.setsockopt(zmq.SNDHWM, 10)  # @setsockopt
    done.set()
    t.join()
    pull.recv()
    push.close(linger=0)
    pull.close(linger=0)
    ctx.term()


main()
