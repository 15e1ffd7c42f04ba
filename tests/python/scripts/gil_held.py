# SPDX-License-Identifier: MIT
"""A report made while another thread holds the GIL for seconds in one C
call (a regular expression that backtracks): the reporting thread runs
Python but, inside ctypes, does not hold the GIL.  The guard must report
without waiting for the GIL: the reporting call comes back while the
regular expression still runs.  Prints "gil held S s, send returned T s
in" (seconds from the start of the regular expression)."""
import ctypes
import math
import re
import sys
import threading
import time

import zmq

from asleep import SLEEP, wait_asleep_in

plugin = ctypes.CDLL(sys.argv[1])
plugin.plugin_delayed_send.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_double)]
returned_at = ctypes.c_double(0.0)

BACKTRACKS = r"(a|aa)+$"  # about 1.618 times longer for each 'a' more


def holding_the_gil(n):
    re.match(BACKTRACKS, "a" * n + "b")


def length_for(seconds):
    """The number of 'a's that holds the GIL about `seconds` here, from the
    fastest of three short runs (a busy machine only makes it longer)."""
    took = []
    for _ in range(3):
        start = time.monotonic()
        holding_the_gil(29)
        took.append(time.monotonic() - start)
    phi = (1 + 5 ** 0.5) / 2
    return min(45, max(29, 29 + round(math.log(seconds / max(min(took), 1e-4)) / math.log(phi))))


go = threading.Event()


def late_sender(handle):
    # Started before main's first send: its send is not ordered after main's
    # (an Event is no edge the guard sees), so it is a cross-thread use.
    go.wait()
    plugin.plugin_delayed_send(handle, 300, ctypes.byref(returned_at))  # @late


def main():
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://gil")
    push = ctx.socket(zmq.PUSH)  # @create
    push.connect("inproc://gil")
    t = threading.Thread(target=late_sender, args=(push.underlying,), name="late-sender")
    t.start()
    push.send(b"first")  # @own
    pull.recv()
    n = length_for(3.5)
    go.set()
    # In the plugin, without the GIL, before its send.
    assert wait_asleep_in(t, SLEEP, 30), "the late sender never slept in the plugin"
    start = time.monotonic()
    holding_the_gil(n)  # no break in it for about 3.5 s
    held = time.monotonic() - start
    t.join()
    print("gil held %.3f s, send returned %.3f s in" % (held, returned_at.value - start))
    pull.recv()
    push.close(linger=0)
    pull.close(linger=0)
    ctx.term()


main()
