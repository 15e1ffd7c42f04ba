# SPDX-License-Identifier: MIT
"""Hostile processes (doc/reliability.md): signals while a report is
written, fork and exec storms, vfork and posix_spawn children, threads
cancelled inside their calls.  Real programs (tests/hostile/hostile_proc.c)
through the real wrapper; each must end within its timeout, report exactly
what it should, whole."""
import re

import pytest

import guardtest as gt
from guardtest import functions, program, run

RULE = "=" * 65

# AddressSanitizer's runtime (gcc 12's libasan) takes no lock of its own
# around fork: a child forked while another thread holds one of its
# allocator's locks waits for it for ever (doc/reliability.md; the same
# program without the guard hangs so too).  Tests whose programs fork from
# a process with several threads are not run under ASan.
FORKS_UNDER_ASAN = "a fork while another thread holds ASan's allocator lock hangs the child"


def whole_reports(stderr, kind):
    """The text reports in stderr, each checked whole: its banner, then its
    own SUMMARY line and closing rule before anything else of the guard's.
    Returns how many."""
    lines = stderr.splitlines()
    banner = re.compile(r"^==\d+==(WARNING|ERROR|INFO): zmq-guard: %s: " % kind)
    n = 0
    i = 0
    while i < len(lines):
        if not banner.match(lines[i]):
            i += 1
            continue
        assert i > 0 and lines[i - 1] == RULE, (i, lines[i - 1:i + 2])
        j = i + 1
        while j < len(lines) and not lines[j].startswith("SUMMARY: zmq-guard: "):
            assert not banner.match(lines[j]) and lines[j] != RULE, ("report cut", lines[i:j + 1])
            j += 1
        assert j + 1 < len(lines) and lines[j + 1] == RULE, ("no end", lines[i:j + 2])
        n += 1
        i = j + 2
    return n


def counts(stdout, scenario):
    m = re.search(r"^ok %s usr1=(\d+) alrm=(\d+) term=(\d+)$" % scenario, stdout, re.M)
    assert m, stdout
    return [int(x) for x in m.groups()]


def test_reports_written_while_signals_rain_are_whole():
    # 64 reports from 4 threads while each gets SIGUSR1 (its handler calls
    # zmq_send and zmq_getsockopt on the thread's own socket) and SIGTERM,
    # and SIGALRM comes every millisecond (its handler calls libzmq too);
    # no SA_RESTART, and stderr a one-page pipe drained slowly, so the
    # guard's writes block and are cut by the signals.
    r = run([program("hostile_proc"), "signals", "64"], ("--mode=warn", "--policy=strict"), timeout=60)
    assert not r.timed_out, r
    assert r.returncode == 66, r
    usr1, _, term = counts(r.stdout, "signals")
    assert usr1 > 0 and term > 0, r.stdout
    assert r.kinds() == ["cross_thread"] * 64, r
    assert whole_reports(r.stderr, "cross_thread") == 64, r
    assert all("reporter" in functions(f["stack"]) for f in r.findings), r


def test_exit_from_a_signal_handler_while_other_threads_report():
    # The first SIGTERM's handler calls exit(5) on a reporting thread while
    # the others are in the middle of theirs: exit waits for the reports in
    # flight, none is cut, text and JSON agree.  The status is warn mode's
    # once the process had a finding.
    for _ in range(3):
        r = run([program("hostile_proc"), "signal_exit", "64"], ("--mode=warn", "--policy=strict"), timeout=60)
        assert not r.timed_out, r
        n = whole_reports(r.stderr, "cross_thread")
        assert n == len(r.findings), r
        assert r.kinds() == ["cross_thread"] * n, r
        assert r.returncode == (66 if n else 5), r


# ThreadSanitizer dies on a fork of a process with threads whose child goes
# on running (die_after_fork).
@gt.not_under("address", FORKS_UNDER_ASAN)
@gt.not_under("thread", "TSan does not support a child of a multi-threaded fork going on")
@pytest.mark.parametrize("mode", ["abort", "warn", "serialize"])
def test_fork_storm_from_several_threads(mode):
    # 200 forks from 4 threads between rounds on their own sockets, 2 more
    # threads sending and receiving throughout; the children _exit, exit,
    # close every inherited socket and work on a context of their own, or
    # exec a guarded leaf.  Every child ends with 0, every socket of the
    # parent still works, nothing is reported; each exec'd leaf is guarded.
    r = run([program("hostile_proc"), "fork_storm", "200"], ("--mode=" + mode,), timeout=120)
    assert not r.timed_out, r
    assert r.returncode == 0 and "ok fork_storm forks=200 worker_rounds=some" in r.stdout, r
    assert r.guard_active and r.findings == [] and r.stderr == "", r
    assert len(r.guard_pids) == 1 + 40, r.guard_pids


def test_exec_chain_from_a_thread_while_others_use_sockets():
    # A thread (not main) execs the program again while two others are in
    # their calls, ten times over: each image is guarded afresh, silent.
    r = run([program("hostile_proc"), "exec_chain", "10"], ("--mode=warn",), timeout=60)
    assert not r.timed_out, r
    assert r.returncode == 0 and r.stdout.endswith("ok exec_chain\n"), r
    assert r.findings == [] and r.stderr == "", r
    assert r.guard_pids == [r.pid] * 11, r.guard_pids


def run_children(scenario, ok_line, guarded):
    """Runs a scenario whose parent starts `guarded` - 1 guarded children,
    the last of which misuses a socket: the parent ends well, every child
    was guarded, and the last child's finding is the run's verdict."""
    r = run([program("hostile_proc"), scenario, "10"], ("--mode=warn",), timeout=60)
    assert not r.timed_out, r
    assert ok_line in r.stdout, r
    assert r.returncode == 66, r
    assert len(set(r.guard_pids)) == guarded, r.guard_pids
    assert r.kinds() == ["cross_thread"], r
    f = r.findings[0]
    assert f["pid"] != r.pid and "leaf_misuser" in functions(f["stack"]), f


@gt.not_under("address", FORKS_UNDER_ASAN)
def test_exec_storm_of_guarded_children():
    # 3 threads fork and exec 10 guarded children each.
    run_children("exec_fan", "ok exec_fan 30", 31)


def test_vfork_and_posix_spawn_children_leave_the_parent_whole():
    # While 2 threads use their sockets, main starts children 10 times each
    # way: vfork + exec, vfork + _exit, posix_spawn.  No atfork handler of
    # the guard runs in a vfork child (it shares the parent's memory); the
    # parent's own pair works after each child.
    run_children("spawn", "ok spawn 10", 21)


# ASan: a cancellation's jump back to the cleanup handler skips instrumented
# frames of the guard, whose red zones stay poisoned (as for ser_stress
# cancel, tests/stress/test_serialize.py).
# ThreadSanitizer: a thread cancelled inside libzmq, whose interceptor calls
# TSan ignores (called_from_lib), exits with that ignore still begun, and
# TSan reports it.
@gt.not_under("address", "a cancellation jumps over the guard's instrumented frames")
@gt.not_under("thread", "a thread cancelled inside libzmq exits inside TSan's ignore")
@pytest.mark.parametrize("mode", ["abort", "serialize"])
def test_threads_cancelled_inside_their_calls(mode):
    # 40 threads each cancelled in zmq_recv, zmq_poll and zmq_msg_recv at a
    # random point (in its first call, between calls, blocked inside
    # libzmq); main closes each socket after the join, a bystander keeps
    # working, the context terminates.  Nothing is reported but the one
    # socket left open on purpose (leaks=1): its report at exit needs the
    # report lock, so no cancelled thread kept it.  Found: a thread
    # cancelled in zmq_poll left its in-call mark, and main's close was
    # reported as close_while_in_use (abort mode aborted).
    r = run([program("hostile_proc"), "cancel", "40"], ("--mode=" + mode, "--leaks"), timeout=120)
    assert not r.timed_out, r
    assert r.returncode == 0 and "ok cancel 120" in r.stdout, r
    assert r.kinds() == ["leak"], r
    assert r.findings[0]["socket_type"] == "PUB", r
