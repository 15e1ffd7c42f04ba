# SPDX-License-Identifier: MIT
"""Correct pyzmq programs, one per API: every socket is used by one thread
at a time (or handed off for good).  Under the guard each must run silently
and exit 0.  Usage: ok_apis.py NAME"""
import asyncio
import gc
import queue
import sys
import threading

import zmq
import zmq.asyncio

N = 200


def in_thread(fn, *args):
    t = threading.Thread(target=fn, args=args)
    t.start()
    return t


def parked_user(ctx, endpoint, payload, box, key, first=None):
    """A thread that (after `first`, if given) makes a PUSH of its own, sends
    `payload` on it, leaves it in box[key] (its only reference) and stays
    alive without using it until the returned event is set.  Returns once
    it has sent: (the thread, that event)."""
    sent, may_exit = threading.Event(), threading.Event()

    def user():
        if first:
            first()
        box[key] = ctx.socket(zmq.PUSH)
        box[key].connect(endpoint)
        box[key].send(payload)
        sent.set()
        may_exit.wait()

    t = in_thread(user)
    sent.wait()
    return t, may_exit


def send_recv():
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    port = rep.bind_to_random_port("tcp://127.0.0.1")

    def server():
        for _ in range(N):
            rep.send(rep.recv())
        rep.close()

    t = in_thread(server)  # rep is handed to the server thread for good
    req = ctx.socket(zmq.REQ)
    req.connect("tcp://127.0.0.1:%d" % port)
    for i in range(N):
        req.send(b"%d" % i)
        assert req.recv() == b"%d" % i
    t.join()
    req.close()
    ctx.term()


def multipart():
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.bind("inproc://mp")
    ready = threading.Event()

    def client():
        dealer = ctx.socket(zmq.DEALER)
        dealer.connect("inproc://mp")
        ready.set()
        for i in range(N):
            dealer.send_multipart([b"a", b"%d" % i])
            assert dealer.recv_multipart() == [b"a", b"%d" % i]
        dealer.close()

    t = in_thread(client)
    ready.wait()
    for _ in range(N):
        router.send_multipart(router.recv_multipart())
    t.join()
    router.close()
    ctx.term()


def string():
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://str")

    def producer(k):
        push = ctx.socket(zmq.PUSH)
        push.connect("inproc://str")
        for i in range(N):
            push.send_string("%d-%d" % (k, i))
        push.close()

    threads = [in_thread(producer, k) for k in range(3)]
    got = [pull.recv_string() for _ in range(3 * N)]
    assert len(set(got)) == 3 * N
    for t in threads:
        t.join()
    pull.close()
    ctx.term()


def poller():
    ctx = zmq.Context()
    results = queue.Queue()

    def worker():
        a = ctx.socket(zmq.PULL)
        a.bind("inproc://pa")
        b = ctx.socket(zmq.PULL)
        b.bind("inproc://pb")
        results.put("bound")
        p = zmq.Poller()
        p.register(a, zmq.POLLIN)
        p.register(b, zmq.POLLIN)
        seen = 0
        while seen < 2 * N:
            for s, _ in p.poll(5000):
                s.recv()
                seen += 1
        results.put(seen)
        a.close()
        b.close()

    t = in_thread(worker)
    assert results.get() == "bound"
    pa = ctx.socket(zmq.PUSH)
    pa.connect("inproc://pa")
    pb = ctx.socket(zmq.PUSH)
    pb.connect("inproc://pb")
    for i in range(N):
        pa.send(b"a")
        pb.send(b"b")
    assert results.get() == 2 * N
    t.join()
    pa.close()
    pb.close()
    ctx.term()


def socket_poll():
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://sp")
    ready = threading.Event()

    def producer():
        push = ctx.socket(zmq.PUSH)
        push.connect("inproc://sp")
        ready.set()
        for i in range(N):
            push.send(b"x")
            push.poll(100, zmq.POLLOUT)
        push.close()

    t = in_thread(producer)
    ready.wait()
    for _ in range(N):
        assert pull.poll(5000) == zmq.POLLIN
        pull.recv()
    t.join()
    pull.close()
    ctx.term()


def asyncio_loop():
    ctx = zmq.asyncio.Context()

    async def run():
        rep = ctx.socket(zmq.REP)
        rep.bind("inproc://aio")
        req = ctx.socket(zmq.REQ)
        req.connect("inproc://aio")

        async def server():
            for _ in range(N):
                await rep.send(await rep.recv())

        task = asyncio.ensure_future(server())
        for i in range(N):
            await req.send(b"%d" % i)
            assert await req.recv() == b"%d" % i
        await task
        rep.close()
        req.close()

    asyncio.run(run())
    ctx.term()


def asyncio_handoff():
    # zmq.asyncio reads ZMQ_FD when it makes a socket (for the event loop),
    # here in the main thread; the socket then goes to a new thread that
    # runs its own loop and alone uses and closes it.
    ctx = zmq.asyncio.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://aio-handoff")
    got = []

    def loop_thread():
        async def run():
            for _ in range(N):
                got.append(await pull.recv_multipart())
            pull.close()

        asyncio.run(run())

    t = in_thread(loop_thread)
    push = ctx.socket(zmq.PUSH)  # plain sends from main: futures it never awaits
    push.connect("inproc://aio-handoff")
    for i in range(N):
        push.send_multipart([b"part", b"%d" % i])
    t.join()
    assert got == [[b"part", b"%d" % i] for i in range(N)]
    push.close()
    ctx.term()


def term():
    # Sockets made and closed by worker threads; the main thread terminates
    # the context after joining them, and destroy() closes what is left.
    ctx = zmq.Context()

    def worker(k):
        s = ctx.socket(zmq.PAIR)
        s.bind("inproc://t%d" % k)
        c = ctx.socket(zmq.PAIR)
        c.connect("inproc://t%d" % k)
        c.send(b"x")
        s.recv()
        s.close()
        c.close()

    for t in [in_thread(worker, k) for k in range(4)]:
        t.join()
    ctx.term()
    ctx2 = zmq.Context()
    left = ctx2.socket(zmq.PUSH)
    left.bind("inproc://left")
    ctx2.destroy(linger=0)


def instance():
    ctx = zmq.Context.instance()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://inst")

    def producer():
        c = zmq.Context.instance()
        assert c is ctx
        push = c.socket(zmq.PUSH)
        push.connect("inproc://inst")
        for _ in range(N):
            push.send(b"x")
        push.close()

    threads = [in_thread(producer) for _ in range(3)]
    for _ in range(3 * N):
        pull.recv()
    for t in threads:
        t.join()
    pull.close()
    ctx.term()


def gc_handoff():
    # The last reference to a socket goes away in another thread than the
    # one that used it: pyzmq's __del__ closes it there.  That close is the
    # socket's final hand-off, whether its user has exited or still runs.
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://gc")
    box = {}

    def exits():
        s = ctx.socket(zmq.PUSH)
        s.connect("inproc://gc")
        s.send(b"x")
        box["exited"] = s

    def cycle():
        s = ctx.socket(zmq.PUSH)
        s.connect("inproc://gc")
        s.send(b"z")
        holder = [s]
        holder.append(holder)  # only the cycle collector frees it

    in_thread(exits).join()
    alive, may_exit = parked_user(ctx, "inproc://gc", b"y", box, "alive")
    in_thread(cycle).join()
    for _ in range(3):
        pull.recv()
    box.pop("exited")  # closed here, by the main thread
    box.pop("alive")  # closed here while its user still runs
    in_thread(gc.collect).join()  # the cycle's socket, closed by a third thread
    gc.collect()
    may_exit.set()
    alive.join()
    pull.close()
    ctx.term()


def close_linger():
    # close(linger=N) from another thread than the socket's user, while that
    # user still runs: pyzmq sets ZMQ_LINGER and then closes.  The two are
    # the socket's final hand-off (libzmq reads the linger only at the close
    # and at zmq_ctx_term), for a socket main made and the worker took, and
    # for one the worker made itself.
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://linger")
    taken = ctx.socket(zmq.PUSH)
    taken.connect("inproc://linger")
    box = {}
    # The worker takes the socket main made, then makes one of its own.
    t, may_exit = parked_user(ctx, "inproc://linger", b"b", box, "own", first=lambda: taken.send(b"a"))
    assert sorted(pull.recv() for _ in range(2)) == [b"a", b"b"]
    taken.close(linger=0)
    box.pop("own").close(linger=100)
    may_exit.set()
    t.join()
    pull.close()
    ctx.term()


def destroy_linger():
    # Context.destroy(linger=N) sets ZMQ_LINGER on every socket still open
    # and closes it, from the destroying thread, while a worker that used
    # one of them still runs (no longer using it).
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://destroy")
    box = {}
    t, may_exit = parked_user(ctx, "inproc://destroy", b"w", box, "s")
    assert pull.recv() == b"w"
    ctx.destroy(linger=0)
    assert box["s"].closed and pull.closed
    may_exit.set()
    t.join()


def copy_false():
    # Zero-copy sends: pyzmq frees each buffer from libzmq's I/O thread by
    # sending on its own garbage-collector socket.  Not the user's doing.
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("tcp://127.0.0.1:*")
    endpoint = pull.getsockopt_string(zmq.LAST_ENDPOINT)
    count = 1500

    def producer():
        push = ctx.socket(zmq.PUSH)
        push.connect(endpoint)
        for i in range(count):
            push.send(bytes(70000 + i), copy=False)
            push.send(memoryview(bytearray(70000)), copy=False, track=(i % 100 == 0))
        push.close()

    t = in_thread(producer)
    total = 0
    for _ in range(2 * count):
        total += len(pull.recv(copy=False))
    t.join()
    pull.close()
    ctx.term()
    assert total > 0


CASES = {
    "send_recv": send_recv,
    "multipart": multipart,
    "string": string,
    "poller": poller,
    "socket_poll": socket_poll,
    "asyncio": asyncio_loop,
    "asyncio_handoff": asyncio_handoff,
    "term": term,
    "instance": instance,
    "gc_handoff": gc_handoff,
    "close_linger": close_linger,
    "destroy_linger": destroy_linger,
    "copy_false": copy_false,
}

if __name__ == "__main__":
    CASES[sys.argv[1]]()
    print("ok", sys.argv[1])
