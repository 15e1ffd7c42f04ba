# SPDX-License-Identifier: MIT
"""guardtest's Result: the lines of option verbose=1 that run() turns on
are taken out of stderr and nothing else is, so no report hides behind
them; guard_active is about the process run itself."""
import subprocess

from guardtest import Result

ACTIVE = "zmq-guard 0.1.0: active (pid 4242)\n"
GUARDING = "zmq-guard: guarding /usr/lib/x86_64-linux-gnu/libzmq.so.5\n"
REPORT = ("==4242==ERROR: zmq-guard: cross_thread: socket used by a thread that does not own it\n"
          "SUMMARY: zmq-guard: cross_thread zmq_recv on DEALER socket 0x1 by T2 \"receiver\"\n")


def result(stderr, pid=4242):
    return Result(subprocess.CompletedProcess(["x"], 0, "", stderr), pid, [], False)


def test_only_the_verbose_lines_are_taken_out():
    r = result("early constructor: creating a socket\n" + GUARDING + ACTIVE + REPORT + GUARDING)
    assert r.stderr == "early constructor: creating a socket\n" + REPORT
    assert r.guard_active and r.guard_pids == [4242]
    assert r.guarded == ["/usr/lib/x86_64-linux-gnu/libzmq.so.5"] * 2
    assert r.stderr_raw.count("\n") == 6


def test_lines_merely_like_them_stay():
    lines = ["prefix " + ACTIVE, "zmq-guard: guarding /x: its sockets are not checked\n",
             "zmq-guard: guarding libzmq.so.5\n", ACTIVE.rstrip("\n") + " and more\n",
             "zmq-guard: libzmq (/x/libzmq.so.5) was loaded with dlopen and used without going through the guard\n"]
    r = result("".join(lines))
    assert r.stderr == "".join(lines)
    assert not r.guard_active and r.guarded == []


def test_active_means_in_the_process_run():
    assert not result(ACTIVE, pid=4243).guard_active  # a child's guard, not the program's
    assert not result(GUARDING, pid=4242).guard_active
    assert not result("", pid=4242).guard_active
