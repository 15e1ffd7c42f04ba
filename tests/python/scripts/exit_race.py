# SPDX-License-Identifier: MIT
"""A daemon thread misuses main's socket just as main finishes: its report
waits for Python's thread names while main holds the GIL, and main exits
meanwhile.  The finding must not be lost with the process: abort mode
still stops it, warn mode still sets the exit status."""
import sys
import threading
import time

import zmq

sys.setswitchinterval(5.0)  # whoever holds the GIL keeps it until it blocks
ctx = zmq.Context()
pull = ctx.socket(zmq.PULL)
pull.bind("inproc://exit-race")
push = ctx.socket(zmq.PUSH)
push.connect("inproc://exit-race")
ready = threading.Event()
go = threading.Event()


def late_sender():
    go.wait()
    ready.set()  # keeps the GIL (switch interval) until send gives it up
    push.send(b"daemon")  # @send


# Started before main's send: its send is not ordered after main's (an
# Event is no edge the guard sees), so it is a cross-thread use.
threading.Thread(target=late_sender, daemon=True, name="late").start()
push.send(b"main")  # main takes push
go.set()
ready.wait()
t0 = time.time()
while time.time() - t0 < 0.05:  # hold the GIL while the report asks for names
    pass
print("main exits", flush=True)
