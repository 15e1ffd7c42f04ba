# SPDX-License-Identifier: MIT
"""A socket made deep in a recursion by a thread that holds the GIL (pyzmq
keeps it in zmq_socket): the guard reads that traceback from the frames.
A worker then takes the socket and main misuses it, both inside send, where
pyzmq has released the GIL: those two tracebacks come from the
interpreter's dumper.  The socket is made in an except block; prints
"exc_info kept" when sys.exc_info() was the same after it.

  deep_stack.py [DEPTH]            made DEPTH calls deep (50), then misused
  deep_stack.py --pending PLUGIN   made by the plugin with a KeyError
                                   pending, then misused; prints "pending
                                   kept" when the call raised just that
  deep_stack.py --warm ...         first a socket made and closed, so that
                                   the guard's check of its fast frame walk
                                   (python_stack.cpp) is behind it
  deep_stack.py --gc PLUGIN        no misuse: 40 sockets made by the plugin
                                   from new frames 20-26 calls deep, a
                                   collection at nearly every tracked
                                   object; prints how many collections
                                   began, and how many inside zmq_socket
"""
import ctypes
import gc
import sys
import threading

import zmq

ctx = zmq.Context()
kept = []


def tiefer_é中(n, make):
    if n:
        return tiefer_é中(n - 1, make)  # @recurse
    try:
        raise KeyError("handled")
    except KeyError:
        before = sys.exc_info()
        sock = make()  # @make
        after = sys.exc_info()
    kept.append(all(a is b for a, b in zip(after, before)) and after[1].__traceback__ is after[2])
    return sock


def by_pyzmq():
    return ctx.socket(zmq.PUSH)  # @create


class Plugin:
    def __init__(self, path):
        self.lib = ctypes.PyDLL(path)  # keeps the GIL, raises what is pending
        self.lib.plugin_make_socket.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.c_int]
        self.inside = ctypes.c_int.in_dll(self.lib, "plugin_in_zmq_socket")

    def make(self, pending):
        handle = ctypes.c_void_p()
        try:
            self.lib.plugin_make_socket(ctx.underlying, ctypes.byref(handle), pending)  # @pending
        except KeyError as e:
            if pending and e.args == ("pending",):
                print("pending kept")
        return zmq.Socket.shadow(handle.value)


def worker(sock, owned, done):
    sock.send(b"mine")  # @own
    owned.set()
    done.wait()


def zurück_ü(sock):
    sock.send(b"misuse")  # @send


def misuse(push):
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://deep")
    push.connect("inproc://deep")
    owned, done = threading.Event(), threading.Event()
    t = threading.Thread(target=worker, args=(push, owned, done), name="worker")
    t.start()
    owned.wait()
    zurück_ü(push)
    done.set()
    t.join()
    pull.recv()
    pull.recv()
    push.close(linger=0)
    pull.close(linger=0)


def collections(plugin):
    begun, inside = [], []

    def note(phase, info):
        if phase == "start":
            begun.append(1)
            if plugin.inside.value:
                inside.append(1)

    gc.collect()
    gc.callbacks.append(note)
    gc.set_threshold(1)
    for i in range(40):
        tiefer_é中(20 + i % 7, lambda: plugin.make(0)).close()
    gc.set_threshold(700, 10, 10)
    gc.callbacks.remove(note)
    return len(begun), len(inside)


def main():
    if sys.argv[1:2] == ["--warm"]:
        del sys.argv[1]
        ctx.socket(zmq.PUSH).close(linger=0)
    if sys.argv[1:2] == ["--gc"]:
        print("collections %d, inside zmq_socket %d" % collections(Plugin(sys.argv[2])))
    elif sys.argv[1:2] == ["--pending"]:
        plugin = Plugin(sys.argv[2])
        misuse(tiefer_é中(3, lambda: plugin.make(1)))  # @made
    else:
        misuse(tiefer_é中(int(sys.argv[1]) if len(sys.argv) > 1 else 50, by_pyzmq))  # @deep
    if kept and all(kept):
        print("exc_info kept")
    ctx.term()


main()  # @module
