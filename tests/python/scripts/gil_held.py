"""A report made while another thread holds the GIL for seconds in one C
call (a regular expression that backtracks): the reporting thread runs
Python but, inside ctypes, does not hold the GIL.  The guard must report
without waiting for the GIL."""
import ctypes
import re
import sys
import threading

import zmq

plugin = ctypes.CDLL(sys.argv[1])
plugin.plugin_delayed_send.argtypes = [ctypes.c_void_p, ctypes.c_int]


def late_sender(handle):
    plugin.plugin_delayed_send(handle, 300)  # @late


def main():
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://gil")
    push = ctx.socket(zmq.PUSH)  # @create
    push.connect("inproc://gil")
    push.send(b"first")  # @own
    pull.recv()
    t = threading.Thread(target=late_sender, args=(push.underlying,), name="late-sender")
    t.start()
    # Holds the GIL without a break for a few seconds.
    re.match(r"(a|aa)+$", "a" * 34 + "b")
    t.join()
    pull.recv()
    push.close(linger=0)
    pull.close(linger=0)
    ctx.term()


main()
