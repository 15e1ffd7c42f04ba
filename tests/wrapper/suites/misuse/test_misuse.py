# SPDX-License-Identifier: MIT
"""A small test suite with one test that shares a socket between threads
(tests/wrapper/test_run.py runs it under the wrapper, with pytest's capture
on).  The two uses never overlap, so libzmq survives it and warn mode goes
on; nothing orders them that the guard can see (an Event is no hand-off)."""
import threading

import zmq


def test_first_passes():
    assert 1 + 1 == 2


def test_shares_a_socket():
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    pull = ctx.socket(zmq.PULL)
    push.bind("inproc://shared")
    pull.connect("inproc://shared")
    go = threading.Event()

    def worker():
        go.wait()
        push.send(b"from a worker")  # @worker-send

    t = threading.Thread(target=worker, name="worker")
    t.start()
    push.send(b"from the main thread")  # @main-send
    go.set()
    t.join()
    assert pull.recv() == b"from the main thread"
    assert pull.recv() == b"from a worker"
    push.close(linger=0)
    pull.close(linger=0)
    ctx.term()


def test_last_passes():
    assert "zmq"
