# SPDX-License-Identifier: MIT
"""One DEALER shared by two Python threads: `receiver` blocks in recv (it
owns the socket), then `sender` sends on it.  With --spin a third thread
busy-loops in Python the whole time, competing for the GIL."""
import sys
import threading

import zmq

from asleep import POLL, wait_asleep_in


def mapped(part):
    paths = set()
    for line in open("/proc/self/maps"):
        path = line.split()[-1]
        if part in path and "guard" not in path:
            paths.add(path)
    return sorted(paths)


def receiver(sock):
    sock.recv()  # @recv


def sender(sock):
    sock.send(b"hello")  # @send


def spinner(stop):
    n = 0
    while not stop.is_set():
        n += 1


def main():
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.bind("inproc://echo")
    dealer = ctx.socket(zmq.DEALER)  # @create
    dealer.connect("inproc://echo")
    stop = threading.Event()
    if "--spin" in sys.argv:
        threading.Thread(target=spinner, args=(stop,), name="spinner", daemon=True).start()
    rx = threading.Thread(target=receiver, args=(dealer,), name="rx-thread")
    rx.start()
    # The receiver owns the socket once it sleeps in libzmq's recv.
    assert wait_asleep_in(rx, POLL, 30), "the receiver never slept in recv"
    # --long-name: a name longer than the report keeps, in two-byte characters.
    tx_name = "tx" + "\u00e9" * 40 if "--long-name" in sys.argv else "tx-thread"
    tx = threading.Thread(target=sender, args=(dealer,), name=tx_name)
    tx.start()
    tx.join()
    ident, msg = router.recv_multipart()
    router.send_multipart([ident, msg])
    rx.join()
    stop.set()
    for path in mapped("/libzmq"):
        print("libzmq:", path)
    # What the report brought in: never a network client (libdw's
    # debuginfod lookup loads libcurl and OpenSSL).
    for path in mapped("/libdebuginfod") + mapped("/libcurl"):
        print("loaded:", path)
    dealer.close(linger=0)
    router.close(linger=0)
    ctx.term()


main()  # @module
