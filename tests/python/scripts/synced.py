"""pyzmq programs whose sockets change threads in ways the program orders
(issue 17), and the unordered ones that must still be reported.
Usage: synced.py CASE"""
import sys
import threading

import zmq


def closed_probe():
    # pyzmq's Socket.closed for a socket closed through another Socket
    # object sharing its handle (a shadow, as tornado and asyncio wrappers
    # make): it reads ZMQ_TYPE and takes ENOTSOCK as "closed".
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.linger = 0
    shadow = zmq.Socket.shadow(s.underlying)
    assert not s.closed
    shadow.close()
    assert s.closed  # @probe
    # The handle may now be reused by a new socket: then it is that socket.
    again = [ctx.socket(zmq.PULL) for _ in range(8)]
    for a in again:
        assert not a.closed and a.type == zmq.PULL
        a.close()
    ctx.term()


def iopub():
    # ipykernel's IOPub event pipe: main makes a PULL, its event-loop set-up
    # reads ZMQ_EVENTS once, then main starts the thread that is its only
    # user from then on (ordered by the thread's creation).
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://iopub")
    pull.getsockopt(zmq.EVENTS)
    push = ctx.socket(zmq.PUSH)
    push.connect("inproc://iopub")

    def io_thread():
        for _ in range(20):
            pull.recv()
        pull.close()

    t = threading.Thread(target=io_thread, name="IOPub")
    t.start()
    for _ in range(20):
        push.send(b"x")
    t.join()
    push.close()
    ctx.term()


def main_goes_on():
    # Misuse: main gives its socket to a new thread and goes on using it.
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://goes-on")
    pull.getsockopt(zmq.EVENTS)
    used = threading.Event()
    done = threading.Event()

    def io_thread():
        used.wait()
        pull.poll(0)  # @thread_use
        done.set()

    t = threading.Thread(target=io_thread, name="IOPub")
    t.start()
    pull.getsockopt(zmq.EVENTS)  # main's use after starting the thread
    used.set()
    done.wait(10)
    t.join()
    pull.close()
    ctx.term()


CASES = {
    "closed_probe": closed_probe,
    "iopub": iopub,
    "main_goes_on": main_goes_on,
}

if __name__ == "__main__":
    CASES[sys.argv[1]]()
    print("ok " + sys.argv[1])
