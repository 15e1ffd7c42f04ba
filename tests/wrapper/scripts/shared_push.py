"""Misuse: the main thread sends on a PUSH, then a worker thread sends on
the same one (ordered, so libzmq survives it)."""
import threading
import zmq

ctx = zmq.Context()
push = ctx.socket(zmq.PUSH)
pull = ctx.socket(zmq.PULL)
push.bind("inproc://p")
pull.connect("inproc://p")
push.send(b"main")


def worker():
    push.send(b"worker")  # the line the summary must name


t = threading.Thread(target=worker, name="worker")
t.start()
t.join()
print(pull.recv(), pull.recv())
push.close(linger=0)
pull.close(linger=0)
ctx.term()
