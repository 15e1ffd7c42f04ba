# SPDX-License-Identifier: MIT
"""Two libzmq copies in one process: pyzmq from a wheel layout (its private
renamed libzmq) and a C plugin linked to the system libzmq, loaded with
ctypes.  Each misuses one DEALER; both must be reported."""
import ctypes
import sys
import threading

import zmq

from asleep import POLL, wait_asleep_in


def mapped_libzmq():
    paths = set()
    for line in open("/proc/self/maps"):
        path = line.split()[-1]
        if "/libzmq" in path and "guard" not in path:
            paths.add(path)
    return sorted(paths)


def py_receiver(sock):
    sock.recv()  # @recv


def py_sender(sock):
    sock.send(b"hello")  # @send


def python_misuse():
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.bind("inproc://echo")
    dealer = ctx.socket(zmq.DEALER)
    dealer.connect("inproc://echo")
    rx = threading.Thread(target=py_receiver, args=(dealer,))
    rx.start()
    # The receiver owns the socket once it sleeps in libzmq's recv.
    assert wait_asleep_in(rx, POLL, 30), "the receiver never slept in recv"
    tx = threading.Thread(target=py_sender, args=(dealer,))
    tx.start()
    tx.join()
    ident, msg = router.recv_multipart()
    router.send_multipart([ident, msg])
    rx.join()
    dealer.close(linger=0)
    router.close(linger=0)
    ctx.term()


def main():
    plugin = ctypes.CDLL(sys.argv[1])
    python_misuse()
    assert plugin.plugin_shared_dealer() == 0
    for path in mapped_libzmq():
        print("libzmq:", path)


main()
