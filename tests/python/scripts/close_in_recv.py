# SPDX-License-Identifier: MIT
"""Misuse: the main thread closes a socket while its owner, a worker
thread, sleeps in recv on it.  The worker's second recv runs on the guard's
owner path (no mark of its own): the guard asks the kernel where the worker
sleeps.  Usage: close_in_recv.py"""
import threading

import zmq

from asleep import POLL, wait_asleep_in


def worker(pull, took):
    pull.recv()  # @took
    took.set()
    pull.recv()  # nothing more is ever sent


def main():
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://work")
    push = ctx.socket(zmq.PUSH)
    push.connect("inproc://work")
    push.send(b"first")
    took = threading.Event()
    t = threading.Thread(target=worker, args=(pull, took), name="rx-worker", daemon=True)
    t.start()
    took.wait()
    assert wait_asleep_in(t, POLL, 30), "the worker never slept in recv"
    pull.close()  # @close
    print("closed", flush=True)


main()
