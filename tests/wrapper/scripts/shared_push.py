# SPDX-License-Identifier: MIT
"""Misuse: a worker thread sends on a PUSH the main thread sends on.
Nothing the guard can see orders the two: the worker was started before
main's send, and a threading.Event is no hand-off (libzmq's rule wants the
socket handed over, not merely used after a signal)."""
import threading
import zmq

ctx = zmq.Context()
push = ctx.socket(zmq.PUSH)
pull = ctx.socket(zmq.PULL)
push.bind("inproc://p")
pull.connect("inproc://p")
go = threading.Event()


def worker():
    go.wait()
    push.send(b"worker")  # @worker-send: the line the summary must name


t = threading.Thread(target=worker, name="worker")
t.start()
push.send(b"main")  # @main-send: main takes the socket
go.set()
t.join()
print(pull.recv(), pull.recv())
push.close(linger=0)
pull.close(linger=0)
ctx.term()
