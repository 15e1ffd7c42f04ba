# SPDX-License-Identifier: MIT
"""Lifecycle diagnostics: zmq_ctx_term blocked by open sockets, leaks at
exit, sockets and contexts used after fork, and the live dump."""
import glob
import os
import signal
import subprocess
import textwrap
import time

import pytest

import guardtest
from guardtest import PYTHON, functions, program, run

# The scenario a test drives: meson runs each scenario as its own test
# (tests/stress/meson.build, conftest.py); a life_NAME program, exit_dtor,
# or python for the tests that run no program of this directory's.
scenario = pytest.mark.scenario

FAST_TERM = ("-o", "term_timeout_ms=200")

# gcc 12's AddressSanitizer runtime (libasan8) takes none of its locks around
# fork (LLVM added its pthread_atfork handler in 2023, after gcc 12's copy):
# a child forked while another thread (libzmq's I/O thread, the reaper) is
# inside ASan's allocator inherits that lock held, and its first malloc waits
# for ever.  The ASan-built life_fork_* programs hang so in their child about 1
# run in 40 with or without the guard (doc/reliability.md).  The tests that
# fork from a process with threads are deselected under ASan; the plain run
# has them.
FORKS_UNDER_ASAN = "a fork while another thread holds ASan's allocator lock hangs the child"


def by_type(findings):
    return {f["socket_type"]: f for f in findings}


@scenario("term_blocked")
def test_ctx_term_blocked_warn_lists_open_sockets_and_keeps_waiting():
    r = run([program("life_term_blocked")], ("--mode=warn",) + FAST_TERM, timeout=60)
    assert r.returncode == 66, r
    assert "ok term_blocked" in r.stdout  # the wait went on until the sockets were closed
    assert r.kinds() == ["ctx_term_open_sockets"] * 2, r
    socks = by_type(r.findings)
    assert set(socks) == {"PUB", "DEALER"}
    for f in r.findings:
        assert f["severity"] == "WARNING"
        assert f["call"] == "zmq_ctx_term"
        assert f["thread"]["serial"] == f["creator"]["serial"]  # main, blocked in the call
        assert "2 sockets of the context are still open" in f["detail"]
    assert socks["DEALER"]["endpoints"] == ["connect inproc://nowhere"]
    assert "make_forgotten_dealer" in functions(socks["DEALER"]["created_stack"])
    assert socks["PUB"]["endpoints"] == ["bind inproc://pub"]
    assert "publisher" in functions(socks["PUB"]["owner_stack"])  # the owner thread, and where it took it
    assert "==WARNING: zmq-guard: ctx_term_open_sockets" in r.stderr


@scenario("term_blocked")
def test_ctx_term_blocked_abort_reports_all_then_aborts():
    r = run([program("life_term_blocked")], ("--mode=abort",) + FAST_TERM, timeout=60)
    assert r.returncode == -signal.SIGABRT, r
    assert "ok term_blocked" not in r.stdout
    assert sorted(f["socket_type"] for f in r.findings) == ["DEALER", "PUB"]
    assert all(f["severity"] == "ERROR" for f in r.findings)


@scenario("term_clean")
def test_ctx_term_woken_thread_closing_is_silent():
    r = run([program("life_term_clean")], FAST_TERM, timeout=60)
    assert r.returncode == 0 and "ok term_clean" in r.stdout, r
    assert r.guard_active and r.stderr == "" and r.findings == [], r


@scenario("python")
def test_ctx_term_python_creation_traceback(tmp_path):
    script = tmp_path / "term.py"
    script.write_text(textwrap.dedent("""\
        import threading, zmq
        ctx = zmq.Context()
        def make_socket():
            s = ctx.socket(zmq.REQ)
            s.connect("inproc://nobody")
            return s
        forgotten = make_socket()
        threading.Timer(2.0, forgotten.close).start()  # long after the report
        ctx.term()
        print("terminated")
        """))
    r = run([PYTHON, str(script)], ("--mode=warn",) + FAST_TERM, timeout=60)
    assert r.returncode == 66, r
    assert "terminated" in r.stdout
    assert r.kinds() == ["ctx_term_open_sockets"], r
    f = r.findings[0]
    assert f["socket_type"] == "REQ"
    assert [p["function"] for p in f["created_python_stack"]][-2:] == ["make_socket", "socket"] or \
        "make_socket" in [p["function"] for p in f["created_python_stack"]]
    assert any(p["function"] == "<module>" and p["file"].endswith("term.py") and p["line"] == 9
               for p in f["python_stack"]), f["python_stack"]


@scenario("leaks")
def test_leaks_listed_at_exit():
    r = run([program("life_leaks")], ("--leaks",), timeout=60)
    assert r.returncode == 0, r  # information only
    assert sorted(r.kinds()) == ["leak", "leak"], r
    socks = by_type(r.findings)
    assert set(socks) == {"PUB", "DEALER"}  # the SUB was closed
    assert all(f["severity"] == "INFO" for f in r.findings)
    assert "make_forgotten_dealer" in functions(socks["DEALER"]["created_stack"])


@scenario("leaks")
def test_no_leak_listing_by_default():
    r = run([program("life_leaks")], (), timeout=60)
    assert r.returncode == 0 and r.guard_active and r.findings == [] and r.stderr == "", r


@guardtest.not_under("address", FORKS_UNDER_ASAN)
@scenario("fork_clean")
def test_fork_child_cleanup_is_silent():
    for mode in ("--mode=abort", "--mode=warn", "--mode=serialize"):
        r = run([program("life_fork_clean")], (mode,), timeout=60)
        assert r.returncode == 0, r
        assert "child exit 0" in r.stdout and "ok fork_clean" in r.stdout
        assert r.guard_active and r.stderr == "" and r.findings == [], r


@guardtest.not_under("address", FORKS_UNDER_ASAN)
@scenario("fork_send")
def test_fork_child_sending_on_inherited_socket():
    r = run([program("life_fork_send")], ("--mode=warn",), timeout=60)
    # The parent is fine ("ok") and exits 0; the run's verdict is the
    # child's finding, which the wrapper sums up.
    assert r.returncode == 66, r
    assert "child exit 66" in r.stdout and "ok fork_send" in r.stdout
    assert any(l.startswith("  use_after_fork zmq_send on PUSH") for l in r.summary), r
    assert r.kinds() == ["use_after_fork"], r
    f = r.findings[0]
    assert f["call"] == "zmq_send" and f["socket_type"] == "PUSH"
    assert "child_sends" in functions(f["stack"])  # the child's own stack


@guardtest.not_under("address", FORKS_UNDER_ASAN)
@scenario("fork_send")
def test_fork_child_sending_on_inherited_socket_serialize():
    # The parent's thread held the sockets' bias (their owner path) when it
    # forked; in the child the same thread's calls must not take it.
    r = run([program("life_fork_send")], ("--mode=serialize",), timeout=60)
    assert r.returncode == 0, r
    assert "child exit 0" in r.stdout and "ok fork_send" in r.stdout, r  # exitcode is warn mode's
    assert r.kinds() == ["use_after_fork"], r
    assert "child_sends" in functions(r.findings[0]["stack"])


@guardtest.not_under("address", FORKS_UNDER_ASAN)
@scenario("fork_socket")
def test_fork_child_socket_on_inherited_context():
    for mode, child in (("--mode=warn", "child exit 66"), ("--mode=abort", "child signal 6")):
        r = run([program("life_fork_socket")], (mode,), timeout=60)
        # The parent exits 0; the child's finding (its abort in abort mode)
        # is the run's verdict all the same.
        assert r.returncode == 66, r
        assert child in r.stdout and "ok fork_socket" in r.stdout, r
        assert r.kinds() == ["use_after_fork"], r
        f = r.findings[0]
        assert f["call"] == "zmq_socket"
        assert "child_opens" in functions(f["stack"])
        assert "inherited from its parent" in f["detail"]


@guardtest.not_under("address", FORKS_UNDER_ASAN)
@scenario("fork_after_finding")
def test_fork_child_does_not_inherit_the_parents_findings():
    # warn mode's exit status counts the findings of the process itself: a
    # child that reported nothing exits with its own status.
    r = run([program("life_fork_after_finding")], ("--mode=warn",), timeout=60)
    assert "child done" in r.stdout and "ok fork_after_finding" in r.stdout, r
    assert "child exit 0" in r.stdout, r
    assert r.returncode == 66, r  # the parent's finding
    assert r.kinds() == ["cross_thread"], r


@scenario("exit_dtor")
def test_warn_exit_status_after_every_destructor():
    # The status becomes exitcode only once everything that runs at exit has
    # run: the program's atexit handler, its libraries' destructors (a
    # coverage runtime writes its data there), stdio's buffers.
    r = run([program("exit_dtor"), "finding"], ("--mode=warn",), timeout=60)
    assert r.returncode == 66, r
    assert r.kinds() == ["cross_thread"], r
    assert r.stdout == "exit_dtor: buffered output\n", r
    assert "exit_dtor: atexit handler ran\n" in r.stderr, r
    assert r.stderr.endswith("exit_lib: destructor ran\n"), r
    r = run([program("exit_dtor"), "clean"], ("--mode=warn",), timeout=60)
    assert r.returncode == 3 and r.guard_active, r  # the program's own
    assert r.findings == [], r
    assert r.stdout == "exit_dtor: buffered output\n", r
    assert r.stderr == "exit_dtor: atexit handler ran\nexit_lib: destructor ran\n", r


def start_hung(mode_flags, args, scenario="hang"):
    env = dict(os.environ)
    env.pop("ZMQ_GUARD_OPTIONS", None)
    env.pop("LD_PRELOAD", None)
    p = subprocess.Popen([guardtest.WRAPPER] + list(mode_flags) + ["--", program("life_" + scenario)] + args,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    line = p.stdout.readline().decode()
    if not line.startswith("ready "):
        p.kill()
        p.wait()
        raise AssertionError("no ready line: %r" % line)
    return p, int(line.split()[1])


def dump_and_collect(p, pid, waiters=None):
    """The live dump of the hung process.  With `waiters`, dumps again until
    that many threads are seen waiting (a loaded machine may not have run
    them into their wait yet), for up to 15 s."""
    try:
        deadline = time.monotonic() + 15
        while True:
            text = dump_text(p, pid)
            if waiters is None or text.count("waits in zmq_recv for the socket:") >= waiters:
                return text
            if time.monotonic() > deadline:
                return text
            time.sleep(0.2)
    finally:
        p.kill()
        p.wait()


def dump_text(p, pid, target=None):
    """`target`: the pid given to --dump, the program's by default."""
    d = subprocess.run([guardtest.WRAPPER, "--dump", str(target or pid)], capture_output=True, text=True, timeout=30)
    assert d.returncode == 0, d
    assert "sent signal 10 to process %d" % pid in d.stdout
    said = "" if target in (None, pid) else \
        "zmq-guard: process %d is the zmq-guard wrapper; its program is process %d\n" % (target, pid)
    assert d.stderr == said, d  # the guard's thread was found
    # The dump ends with a rule line; read stderr until then.
    text = ""
    deadline = time.monotonic() + 30
    os.set_blocking(p.stderr.fileno(), False)
    while time.monotonic() < deadline:
        try:
            chunk = os.read(p.stderr.fileno(), 65536)
        except BlockingIOError:
            chunk = b""
        text += chunk.decode(errors="replace")
        if "live dump" in text and text.rstrip().endswith("=" * 65):
            break
        time.sleep(0.05)
    assert p.poll() is None  # the process goes on
    return text[text.index("live dump"):]


@scenario("hang")
def test_dump_serialize_mode_shows_waiting_threads_with_stacks():
    p, pid = start_hung(("--mode=serialize", "--dump-signal=10"), ["serialize"])
    dump = dump_and_collect(p, pid, waiters=2)
    assert "1 open socket" in dump and "(PULL, #1), bind inproc://hang" in dump
    assert dump.count("waits in zmq_recv for the socket:") == 2, dump
    assert dump.count("in hung_receiver") >= 3, dump  # first use + two live stacks
    assert "wait_turn" not in dump  # the guard's own frames are cut


@scenario("hang")
def test_dump_by_the_wrappers_pid_reaches_its_program():
    # The pid a shell or a test harness holds is the wrapper's.
    p, pid = start_hung(("--mode=warn", "--dump-signal=10"), [])
    try:
        assert p.pid != pid
        assert "1 open socket" in dump_text(p, pid, target=p.pid)
    finally:
        p.kill()
        p.wait()


@scenario("dump_names")
def test_dump_keeps_the_programs_text_on_its_lines():
    # An ipc path and a thread name are the program's: a newline in them
    # shows as '?' and does not make a line of the dump.
    p, pid = start_hung(("--mode=warn", "--dump-signal=10"), [], scenario="dump_names")
    dump = dump_and_collect(p, pid)
    for leftover in glob.glob("/tmp/zg-lifecycle-%d-*" % pid):  # the killed program's ipc file
        os.unlink(leftover)
    assert "a?==forged line" in dump, dump
    assert "\"odd?==forged\"" in dump, dump
    assert not [line for line in dump.splitlines() if line.startswith("==forged")], dump


@scenario("hang")
def test_dump_serialize_mode_sole_user_waiting():
    p, pid = start_hung(("--mode=serialize", "--dump-signal=10"), [])
    dump = dump_and_collect(p, pid, waiters=1)
    assert dump.count("waits in zmq_recv for the socket:") == 1, dump
    assert "in hung_receiver" in dump.split("waits in zmq_recv for the socket:")[1], dump


@scenario("hang")
def test_dump_warn_mode_shows_owner_inside_a_call():
    p, pid = start_hung(("--mode=warn", "--dump-signal=10"), [])
    dump = dump_and_collect(p, pid)
    assert "owner: T2" in dump and "which took it with zmq_recv here:" in dump
    assert "T2 (tid" in dump and "is inside a libzmq call on it" in dump


@scenario("named")
def test_guard_thread_is_named_when_the_first_socket_is_made():
    # zmq-guard --dump finds the guard's thread by its name; a dump asked for
    # as soon as the program has made a socket must find it (it once looked
    # while the new thread had not yet run far enough to name itself).
    for _ in range(20):
        r = run([program("life_named")], ("--mode=warn", "--dump-signal=10"), timeout=60)
        assert r.returncode == 0, r
        assert r.stdout == "named 1\n", r


@scenario("hang")
def test_dump_without_signal_configured_says_so():
    p, pid = start_hung(("--mode=warn",), [])
    try:
        d = subprocess.run([guardtest.WRAPPER, "--dump", str(pid)], capture_output=True, text=True, timeout=30)
        assert d.returncode == 1
        assert "has no dump signal configured" in d.stderr
        assert "--dump-signal=" in d.stderr
        assert p.poll() is None
    finally:
        p.kill()
        p.wait()


@scenario("python")
def test_dump_of_unguarded_process():
    d = subprocess.run([guardtest.WRAPPER, "--dump", str(os.getpid())], capture_output=True, text=True)
    assert d.returncode == 1 and "does not run under zmq-guard" in d.stderr


def asleep(pid):
    """Is the main thread of pid asleep (in the call it blocks in)?"""
    with open("/proc/%d/task/%d/stat" % (pid, pid)) as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "S"


def has_guard_thread(pid):
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if f.read() == "zmq-guard\n":
                    return True
        except OSError:
            pass
    return False


def dump_while_blocked(scenario, flags, inside, mode="warn"):
    """Starts life_`scenario`, whose main thread blocks in a call; asks
    for the live dump while it sleeps there, until the dump shows it
    `inside` the call (None: one dump, once the guard's thread is there);
    then lets the call finish.  Returns the program's exit status, its
    stdout after "ready", its stderr, and the dump."""
    p, pid = start_hung(("--mode=" + mode, "--dump-signal=10") + flags, [], scenario=scenario)
    try:
        deadline = time.monotonic() + 15
        dumps = 0
        while True:
            while not ((inside is None or asleep(pid)) and has_guard_thread(pid)) and time.monotonic() < deadline:
                time.sleep(0.05)
            dump = dump_text(p, pid)
            dumps += 1
            if inside is None or (inside in dump and dumps >= 2) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        p.stdin.write(b"go\n")
        p.stdin.flush()
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return p.returncode, out.decode(), err.decode(), dump


@scenario("dump_recv")
def test_dump_does_not_interrupt_a_blocked_recv():
    # The dump's signal goes to the guard's own thread: main's recv, blocked
    # all along, returns the message it waited for, not EINTR.
    rc, out, err, dump = dump_while_blocked("dump_recv", (), "is inside a libzmq call on it")
    assert out == "recv rc=1\n", (out, err)
    assert rc == 0, (rc, out, err)
    assert "2 open sockets" in dump and "(PULL, #1), bind inproc://dumped" in dump, dump
    assert "T1 (tid" in dump and "is inside a libzmq call on it" in dump, dump
    assert "WARNING" not in err, err


@guardtest.not_under("address", "a cancellation jumps over the guard's instrumented frames")
@guardtest.not_under("thread", "a thread cancelled inside libzmq exits inside TSan's ignore")
@scenario("dump_cancelled")
def test_dump_of_a_socket_whose_caller_was_cancelled_inside_a_call():
    # A thread cancelled inside zmq_poll never returns from it, so its
    # in-call mark stays.  The live dump says nobody is inside a call on the
    # socket (the thread is gone), and main closes it without a finding.
    rc, out, err, dump = dump_while_blocked("dump_cancelled", (), None, mode="abort")
    assert "(PULL, #1), bind inproc://cancelled" in dump, dump
    assert "no thread is inside a call on it" in dump, dump
    assert "is inside a libzmq call on it" not in dump, dump
    assert rc == 0 and out == "closed\n", (rc, out, err)
    assert "ERROR" not in err, err


@scenario("dump_term")
def test_dump_does_not_interrupt_a_blocked_ctx_term():
    # The README's case: a program hung in zmq_ctx_term asked what is open.
    # zmq_ctx_term goes on waiting, and returns 0 once the socket is closed.
    rc, out, err, dump = dump_while_blocked("dump_term", ("--term-timeout-ms=60000",), "is blocked in zmq_ctx_term")
    assert out == "term rc=0\n", (out, err)
    assert rc == 0, (rc, out, err)
    assert "1 open socket" in dump and "(PUSH, #2), connect inproc://dumped" in dump, dump
    assert "T1 (tid" in dump and "is blocked in zmq_ctx_term" in dump, dump
    assert "WARNING" not in err, err
