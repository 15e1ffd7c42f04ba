# SPDX-License-Identifier: MIT
"""libzmq reached through ctypes (dlopen + dlsym on libzmq's handle), as
FFI bindings do.  `ok`: a socket made in main and handed to a worker thread
that alone uses it.  `shared`: `taker` blocks in recv on a PAIR (it owns
it), then `sender` sends on the same socket from another thread."""
import ctypes
import sys
import threading

from asleep import POLL, wait_asleep_in

ZMQ_PAIR = 0

lib = ctypes.CDLL("libzmq.so.5")
lib.zmq_ctx_new.restype = ctypes.c_void_p
lib.zmq_socket.restype = ctypes.c_void_p
lib.zmq_socket.argtypes = [ctypes.c_void_p, ctypes.c_int]
for name in ("zmq_bind", "zmq_connect"):
    getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_char_p]
lib.zmq_send.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
lib.zmq_recv.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
lib.zmq_close.argtypes = [ctypes.c_void_p]
lib.zmq_ctx_term.argtypes = [ctypes.c_void_p]


def recv(sock):
    buf = ctypes.create_string_buffer(16)
    n = lib.zmq_recv(sock, buf, 16, 0)
    assert n >= 0, n
    return buf.raw[:n]


def take_job(sock):
    return recv(sock)  # @recv


def send_job(sock):
    assert lib.zmq_send(sock, b"job", 3, 0) == 3  # @send


def worker(sock):
    assert recv(sock) == b"job"
    send_job(sock)
    lib.zmq_close(sock)


def main():
    ctx = lib.zmq_ctx_new()
    a = lib.zmq_socket(ctx, ZMQ_PAIR)  # @create
    assert a
    b = lib.zmq_socket(ctx, ZMQ_PAIR)
    assert lib.zmq_bind(a, b"inproc://ctypes") == 0
    assert lib.zmq_connect(b, b"inproc://ctypes") == 0
    if sys.argv[1] == "ok":
        t = threading.Thread(target=worker, args=(a,), name="worker")
        t.start()
        assert lib.zmq_send(b, b"job", 3, 0) == 3
        assert recv(b) == b"job"
        t.join()
    else:
        rx = threading.Thread(target=take_job, args=(a,), name="taker")
        rx.start()
        assert wait_asleep_in(rx, POLL, 30), "the taker never slept in recv"
        tx = threading.Thread(target=send_job, args=(a,), name="sender")
        tx.start()
        tx.join()
        assert recv(b) == b"job"
        assert lib.zmq_send(b, b"done", 4, 0) == 4
        rx.join()
        lib.zmq_close(a)
    lib.zmq_close(b)
    lib.zmq_ctx_term(ctx)
    print("ctypes ok")


main()
