# SPDX-License-Identifier: MIT
"""pyzmq's own helpers that use sockets from threads of their own or share
them: devices in a thread and in a process, the tornado event loop (also in
a thread of its own), zmq.asyncio, Socket shadows, the ZAP authenticator
thread, the logging handler from several threads.  Each is correct by
pyzmq's design; under the guard each must run silent in abort mode, with no
built-in suppression.  Usage: pyzmq_patterns.py NAME"""
import asyncio
import logging
import os
import shutil
import sys
import tempfile
import threading

import zmq
import zmq.asyncio
from zmq.devices import ThreadDevice, ProcessDevice, ThreadProxy, ThreadMonitoredQueue
from tornado import ioloop
from zmq.eventloop import zmqstream
from zmq.auth.thread import ThreadAuthenticator
from zmq.log.handlers import PUBHandler


TMP = tempfile.mkdtemp(prefix="zg-patterns-")


def ipc(name):
    return "ipc://" + os.path.join(TMP, name)


def round_trip(ctx, front, back):
    """A request and its reply through a device between front and back;
    then the sockets are closed and ctx terminated."""
    rep = ctx.socket(zmq.REP)
    rep.connect(back)
    req = ctx.socket(zmq.REQ)
    req.connect(front)
    req.send(b"hi")
    assert rep.recv() == b"hi"
    rep.send(b"ok")
    assert req.recv() == b"ok"
    req.close(0)
    rep.close(0)
    ctx.term()


def thread_device():
    dev = ThreadDevice(zmq.QUEUE, zmq.ROUTER, zmq.DEALER)
    dev.bind_in("inproc://td-in")
    dev.bind_out("inproc://td-out")
    dev.setsockopt_in(zmq.LINGER, 0)
    dev.setsockopt_out(zmq.LINGER, 0)
    ctx = dev.context_factory()
    dev.start()
    round_trip(ctx, "inproc://td-in", "inproc://td-out")


def thread_proxy():
    ctx = zmq.Context.instance()
    dev = ThreadProxy(zmq.PULL, zmq.PUSH)
    dev.bind_in(ipc("tp-in"))
    dev.bind_out(ipc("tp-out"))
    dev.start()
    push = ctx.socket(zmq.PUSH)
    push.connect(ipc("tp-in"))
    pull = ctx.socket(zmq.PULL)
    pull.connect(ipc("tp-out"))
    push.send(b"x")
    assert pull.recv() == b"x"
    push.close(0)
    pull.close(0)


def process_device():
    dev = ProcessDevice(zmq.QUEUE, zmq.ROUTER, zmq.DEALER)
    dev.bind_in(ipc("pd-in"))
    dev.bind_out(ipc("pd-out"))
    dev.start()
    ctx = zmq.Context()
    round_trip(ctx, ipc("pd-in"), ipc("pd-out"))
    dev.launcher.terminate()
    dev.join()


def ioloop_stream():
    ctx = zmq.Context()
    loop = ioloop.IOLoop()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://loop")
    push = ctx.socket(zmq.PUSH)
    push.connect("inproc://loop")
    stream = zmqstream.ZMQStream(pull, loop)
    got = []

    def on(msg):
        got.append(msg)
        loop.stop()
    stream.on_recv(on)
    loop.add_callback(lambda: push.send(b"x"))
    loop.start()
    assert got == [[b"x"]]
    stream.close()
    push.close()
    loop.close()
    ctx.term()


def ioloop_thread():
    # A loop in its own thread serving a stream; the main thread sends on
    # its own socket and asks the loop (add_callback) to stop.
    ctx = zmq.Context()
    loop_ready = threading.Event()
    got = threading.Event()
    holder = {}

    def run():
        loop = ioloop.IOLoop()
        holder["loop"] = loop
        pull = ctx.socket(zmq.PULL)
        pull.bind("inproc://loopthread")
        s = zmqstream.ZMQStream(pull, loop)
        s.on_recv(lambda m: got.set())
        loop.add_callback(loop_ready.set)
        loop.start()
        s.close()
        loop.close()
    t = threading.Thread(target=run, name="loop")
    t.start()
    loop_ready.wait()
    push = ctx.socket(zmq.PUSH)
    push.connect("inproc://loopthread")
    push.send(b"x")
    got.wait(5)
    holder["loop"].add_callback(holder["loop"].stop)
    t.join()
    push.close()
    ctx.term()


def asyncio_sockets():
    async def main():
        ctx = zmq.asyncio.Context()
        pull = ctx.socket(zmq.PULL)
        pull.bind("inproc://aio")
        push = ctx.socket(zmq.PUSH)
        push.connect("inproc://aio")
        await push.send(b"x")
        assert await pull.recv() == b"x"
        poller = zmq.asyncio.Poller()
        poller.register(pull, zmq.POLLIN)
        await push.send(b"y")
        ev = await poller.poll(1000)
        assert ev
        assert await pull.recv() == b"y"
        push.close()
        pull.close()
        ctx.term()
    asyncio.run(main())


def shadows():
    ctx = zmq.Context()
    a = ctx.socket(zmq.PAIR)
    b = zmq.Socket.shadow(a.underlying)
    b.bind("inproc://shadow")
    c = ctx.socket(zmq.PAIR)
    c.connect("inproc://shadow")
    c.send(b"x")
    assert a.recv() == b"x"
    b.close()
    assert a.closed
    c.close()
    ctx.term()


def authenticator():
    ctx = zmq.Context()
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_plain(domain="*", passwords={"admin": "secret"})
    server = ctx.socket(zmq.PUSH)
    server.plain_server = True
    server.bind(ipc("auth"))
    client = ctx.socket(zmq.PULL)
    client.plain_username = b"admin"
    client.plain_password = b"secret"
    client.connect(ipc("auth"))
    server.send(b"x")
    assert client.poll(5000)
    assert client.recv() == b"x"
    client.close()
    server.close()
    auth.stop()
    ctx.term()


def log_handler():
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.bind("inproc://log")
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect("inproc://log")
    handler = PUBHandler(pub)
    log = logging.getLogger("patterns")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    while True:  # until the subscription has reached the PUB
        log.info("hello")
        if sub.poll(50):
            break
    sub.recv_multipart()
    # The handler from several threads, as logging allows: logging's own
    # handler lock (an RLock) is around every emit.
    ts = [threading.Thread(target=lambda: [log.info("t%d", i) for i in range(50)]) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    log.removeHandler(handler)
    sub.close()
    pub.close()
    ctx.term()


def monitored_queue():
    dev = ThreadMonitoredQueue(zmq.ROUTER, zmq.DEALER, zmq.PUB)
    dev.bind_in(ipc("mq-in"))
    dev.bind_out(ipc("mq-out"))
    dev.bind_mon(ipc("mq-mon"))
    dev.start()
    ctx = zmq.Context()
    round_trip(ctx, ipc("mq-in"), ipc("mq-out"))


CASES = {f.__name__: f for f in [thread_device, thread_proxy, process_device, ioloop_stream, ioloop_thread,
                                 asyncio_sockets, shadows, authenticator, log_handler, monitored_queue]}

if __name__ == "__main__":
    CASES[sys.argv[1]]()
    print("ok", sys.argv[1], flush=True)
    shutil.rmtree(TMP, ignore_errors=True)
