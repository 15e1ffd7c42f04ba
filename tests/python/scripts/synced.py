# SPDX-License-Identifier: MIT
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


def push_pull():
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://locked")
    push = ctx.socket(zmq.PUSH)
    push.connect("inproc://locked")
    return ctx, pull, push


def close_all(ctx, *socks):
    for s in socks:
        s.close()
    ctx.term()


def shared_under_lock(lock, forget=False):
    # Two threads send on one PUSH, each send under one lock both hold (the
    # seed article's fix): legal.  With forget, the second thread sends once
    # without it after both have sent under it: reported, naming it.  With
    # lock None each thread has a lock of its own, which orders nothing.
    # Those two are misuse that warn mode lets go on: the threads then take
    # turns (events the guard does not see, set after each send), so that
    # libzmq is never inside two sends at once and cannot crash the test.
    ctx, pull, push = push_pull()
    both = threading.Barrier(2)
    rounds = 50
    locks = [lock, lock] if lock is not None else [threading.Lock(), threading.Lock()]
    turns = forget or lock is None
    turn = [threading.Event(), threading.Event()]
    turn[0].set()

    def sender(n):
        both.wait()
        for i in range(rounds):
            if turns:
                turn[n].wait()
                turn[n].clear()
            if forget and n == 1 and i == 10:
                push.send(b"x")  # @forgot
            else:
                with locks[n]:
                    push.send(b"x")  # @locked
            if turns:
                turn[1 - n].set()
            if i == 0:
                both.wait()

    threads = [threading.Thread(target=sender, args=(n,), name="sender-%d" % n) for n in range(2)]
    for t in threads:
        t.start()
    for _ in range(2 * rounds):
        pull.recv()
    for t in threads:
        t.join()
    close_all(ctx, push, pull)


def lock_forgot_first(lock):
    # sender-1's first send ever is without the lock, made while sender-0
    # holds it after its own first send under it: reported, naming sender-1.
    ctx, pull, push = push_pull()
    a_first = threading.Barrier(2)
    done = threading.Barrier(2)

    def holder():
        with lock:
            push.send(b"x")
            a_first.wait()
            done.wait()

    def forgetter():
        a_first.wait()
        push.send(b"x")  # @forgot_first
        done.wait()

    threads = [threading.Thread(target=holder, name="holder"), threading.Thread(target=forgetter, name="forgetter")]
    for t in threads:
        t.start()
    for _ in range(2):
        pull.recv()
    for t in threads:
        t.join()
    close_all(ctx, push, pull)


CASES = {
    "lock_forgot_first": lambda: lock_forgot_first(threading.Lock()),
    "rlock_forgot_first": lambda: lock_forgot_first(threading.RLock()),
    "lock": lambda: shared_under_lock(threading.Lock()),
    "rlock": lambda: shared_under_lock(threading.RLock()),
    "lock_forgot": lambda: shared_under_lock(threading.Lock(), forget=True),
    "lock_each_its_own": lambda: shared_under_lock(None),
    "closed_probe": closed_probe,
    "iopub": iopub,
    "main_goes_on": main_goes_on,
}

if __name__ == "__main__":
    CASES[sys.argv[1]]()
    print("ok " + sys.argv[1])
