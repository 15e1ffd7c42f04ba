# SPDX-License-Identifier: MIT
"""Says which signals reach it.  SIGTERM: prints and exits 3.  SIGINT is
counted; SIGUSR1 prints the count and exits 0 (signals pending together are
handled in order of number, so an INT passed on by the wrapper before the
USR1 is counted before it)."""
import os
import signal
import sys

ints = 0


def on_int(sig, frame):
    global ints
    ints += 1
    print("INT", ints, flush=True)


def on_usr1(sig, frame):
    print("USR1 after %d INT" % ints, flush=True)
    sys.exit(0)


def on_term(sig, frame):
    print("TERM", flush=True)
    sys.exit(3)


signal.signal(signal.SIGINT, on_int)
signal.signal(signal.SIGUSR1, on_usr1)
signal.signal(signal.SIGTERM, on_term)
print("ready", os.getpid(), flush=True)
while True:
    signal.pause()
