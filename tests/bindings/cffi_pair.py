# SPDX-License-Identifier: MIT
"""Python cffi in ABI mode: ffi.dlopen() of libzmq, each function taken
with dlsym on its handle (as PyPy's pyzmq does).  cffi releases the GIL
around each call.
  shared  main starts a worker, then sends on its PAIR; the worker then
          sends on the same socket (the worker's call is not ordered after
          main's: a threading.Event is not an edge the guard sees)
  ok      the PAIR is made in main and handed to a worker main starts,
          which alone uses it"""
import sys
import threading

from cffi import FFI

ZMQ_PAIR = 0

ffi = FFI()
ffi.cdef("""
    void* zmq_ctx_new(void);
    int zmq_ctx_term(void* ctx);
    void* zmq_socket(void* ctx, int type);
    int zmq_bind(void* s, const char* addr);
    int zmq_connect(void* s, const char* addr);
    int zmq_send(void* s, const void* buf, size_t len, int flags);
    int zmq_recv(void* s, void* buf, size_t len, int flags);
    int zmq_close(void* s);
""")
lib = ffi.dlopen("libzmq.so.5")


def send_job(sock):
    assert lib.zmq_send(sock, b"job", 3, 0) == 3  # @send


def recv(sock):
    buf = ffi.new("char[16]")
    n = lib.zmq_recv(sock, buf, 16, 0)
    assert n >= 0, n
    return ffi.buffer(buf, n)[:]


def main():
    ctx = lib.zmq_ctx_new()
    tx = lib.zmq_socket(ctx, ZMQ_PAIR)  # @create
    rx = lib.zmq_socket(ctx, ZMQ_PAIR)
    assert tx != ffi.NULL and rx != ffi.NULL
    assert lib.zmq_bind(tx, b"inproc://cffi") == 0
    assert lib.zmq_connect(rx, b"inproc://cffi") == 0
    if sys.argv[1] == "shared":
        go = threading.Event()

        def worker():
            go.wait()
            send_job(tx)

        t = threading.Thread(target=worker, name="worker")
        t.start()
        send_job(tx)  # @main-send
        go.set()
        t.join()
    else:
        t = threading.Thread(target=lambda: [send_job(tx) for _ in range(2)], name="worker")
        t.start()
        t.join()
    assert recv(rx) == b"job" and recv(rx) == b"job"
    lib.zmq_close(tx)
    lib.zmq_close(rx)
    lib.zmq_ctx_term(ctx)
    print("cffi done")


main()
