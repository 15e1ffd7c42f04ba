#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The demo's client, and its bug: one DEALER socket shared by two threads.

One thread sends requests in a loop while another receives the replies,
both on the same socket.  It looks harmless (the GIL is there, pyzmq is
"thread-aware"), but a ZeroMQ socket is not thread-safe: pyzmq releases the
GIL around every send and receive, so both threads run inside libzmq on one
socket at once.  Without the guard this usually hangs, and sometimes dies in
libzmq with "Assertion failed: ... (src/object.cpp:170)" or a segfault.

    /usr/bin/python3 demo/client.py ENDPOINT [--requests N]

Prints how many replies came back; a stall of --stall seconds is announced
(the process keeps waiting, as a real hung client would).
"""
import argparse
import sys
import threading
import time

import zmq


def send_requests(sock, count, window, all_replied):
    for i in range(count):
        window.acquire()
        sock.send(b"request %d" % i)
    # A sender that may have to resend stays until every reply is in.  It
    # also means the two threads' use of the socket always overlaps in
    # time, however the scheduler runs them, so the demo is the same on
    # every run.
    all_replied.wait()


def receive_replies(sock, count, window, replies, all_replied):
    while len(replies) < count:
        replies.append(sock.recv())
        window.release()
    all_replied.set()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("endpoint", help="the server's endpoint, e.g. tcp://127.0.0.1:5555")
    parser.add_argument("--requests", type=int, default=100000, help="requests to send (default 100000)")
    parser.add_argument("--stall", type=float, default=5.0,
                        help="say so when no reply has come for this many seconds (default 5)")
    args = parser.parse_args()

    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(args.endpoint)
    print("client: DEALER connected to %s, sending %d requests from one thread "
          "and receiving from another" % (args.endpoint, args.requests), flush=True)

    replies = []
    all_replied = threading.Event()
    # At most this many requests in flight: the server's ROUTER drops replies
    # to a client whose queue is full (1000 by default), and a lost reply
    # must only ever mean the bug.
    window = threading.BoundedSemaphore(500)
    sender = threading.Thread(target=send_requests, args=(sock, args.requests, window, all_replied),
                              name="sender")
    receiver = threading.Thread(target=receive_replies, args=(sock, args.requests, window, replies, all_replied),
                                name="receiver")
    started = time.monotonic()
    sender.start()
    receiver.start()

    # The main thread only watches (it never touches the socket), so a hang
    # is visible as a hang and not as silence.
    seen, since, stalled = 0, time.monotonic(), False
    while receiver.is_alive() or sender.is_alive():
        receiver.join(0.2)
        if len(replies) != seen:
            seen, since = len(replies), time.monotonic()
        elif not stalled and time.monotonic() - since > args.stall:
            stalled = True
            print("client: no reply for %g s, stuck at %d of %d replies (threads alive: %s)" % (
                args.stall, len(replies), args.requests,
                ", ".join(t.name for t in (sender, receiver) if t.is_alive())), flush=True)

    distinct = set(replies)
    expected = {b"request %d" % i for i in range(args.requests)}
    lost = len(expected - distinct)
    duplicated = len(replies) - len(distinct)
    print("client: %d of %d replies in %.2f s, %d lost, %d duplicated" % (
        len(distinct & expected), args.requests, time.monotonic() - started, lost, duplicated), flush=True)
    sock.close()
    ctx.term()
    return 0 if lost == 0 and duplicated == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
