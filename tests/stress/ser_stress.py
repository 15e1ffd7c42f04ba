# SPDX-License-Identifier: MIT
"""Threads sharing one pyzmq DEALER, for mode=serialize.

    ser_stress.py echo THREADS MESSAGES       one-part requests, every reply counted
    ser_stress.py multipart THREADS MESSAGES  3-part requests, each reply whole
    ser_stress.py recv_first                  a thread blocks in recv before
                                              another sends the request
    ser_stress.py sigint                      Ctrl-C reaches the main thread
                                              asleep in recv: on a socket it
                                              uses alone, then on a shared one

Prints "ok ..." and exits 0 when every check holds."""
import signal
import sys
import threading
import time

import zmq


def echo_server(router):
    try:
        while True:
            router.send_multipart(router.recv_multipart())
    except zmq.ContextTerminated:
        router.close(linger=0)


def run(kind, nthreads, nmessages):
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.bind("inproc://echo")
    server = threading.Thread(target=echo_server, args=(router,), name="echo")
    server.start()
    dealer = ctx.socket(zmq.DEALER)
    dealer.linger = 0
    dealer.connect("inproc://echo")
    seen = set()
    seen_lock = threading.Lock()
    errors = []

    def worker(me):
        try:
            for i in range(nmessages):
                rid = b"%d" % (me * nmessages + i)
                if kind == "echo":
                    dealer.send(rid)
                    reply = [dealer.recv()]
                else:
                    dealer.send_multipart([rid, rid + b"/1", rid + b"/2"])
                    reply = dealer.recv_multipart()
                    assert len(reply) == 3, reply
                    assert reply[1] == reply[0] + b"/1" and reply[2] == reply[0] + b"/2", reply
                with seen_lock:
                    assert reply[0] not in seen, reply
                    seen.add(reply[0])
        except Exception as e:  # reported by the main thread
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(n,), name="worker-%d" % n) for n in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert len(seen) == nthreads * nmessages, len(seen)
    dealer.close()
    ctx.term()
    server.join()
    print("ok %d replies" % len(seen))


def recv_first():
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.bind("inproc://echo")
    server = threading.Thread(target=echo_server, args=(router,))
    server.start()
    dealer = ctx.socket(zmq.DEALER)
    dealer.linger = 0
    dealer.connect("inproc://echo")
    got = []
    receiver = threading.Thread(target=lambda: got.append(dealer.recv()), name="receiver")
    receiver.start()
    time.sleep(0.2)  # the receiver blocks first; ordering, not timing, is checked
    sender = threading.Thread(target=lambda: dealer.send(b"hello"), name="sender")
    sender.start()
    sender.join()
    receiver.join()
    assert got == [b"hello"], got
    dealer.close()
    ctx.term()
    server.join()
    print("ok recv_first")


def sigint():
    # pyzmq turns a recv that libzmq interrupted (EINTR) into the Python
    # signal handler's exception; the guard must let the interruption through.
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://sigint")
    main = threading.main_thread()

    def interrupt(done):
        for _ in range(5000):  # until the main thread sleeps in poll(2)
            try:
                with open("/proc/self/task/%d/syscall" % main.native_id) as f:
                    if f.read().split()[0] in ("7", "271"):
                        break
            except OSError:
                pass
            time.sleep(0.001)
        time.sleep(0.05)  # a few of the guard's wake-up periods
        # Pressed again until it works, as a user would: a signal that lands
        # while the thread is not asleep runs the handler without waking the
        # call, in libzmq as under the guard.
        while not done.is_set():
            signal.pthread_kill(main.ident, signal.SIGINT)
            done.wait(0.1)

    current = {}

    def on_sigint(signum, frame):
        done = current.get("done")
        if done is not None and not done.is_set():  # the first one counts
            done.set()
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    for label in ("alone", "shared"):
        if label == "shared":
            other = threading.Thread(target=lambda: pull.poll(1), name="other")
            other.start()
            other.join()
        current["done"] = threading.Event()
        threading.Thread(target=interrupt, args=(current["done"],), daemon=True).start()
        try:
            pull.recv()
            raise AssertionError("recv returned")
        except KeyboardInterrupt:
            print("interrupted " + label, flush=True)
    pull.close(linger=0)
    ctx.term()
    print("ok sigint")


if __name__ == "__main__":
    if sys.argv[1] == "recv_first":
        recv_first()
    elif sys.argv[1] == "sigint":
        sigint()
    else:
        run(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
