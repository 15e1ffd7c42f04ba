# SPDX-License-Identifier: MIT
"""End-to-end scenarios: native programs (C with libzmq, C++ with cppzmq,
C with czmq) run under the real zmq-guard wrapper.  Misuse must be reported
with the user's own functions in the stacks; correct programs must run
exactly as without the guard: exit status 0 and not a word from it."""
import json
import os
import re
import shutil
import signal
import subprocess

import pytest

import guardtest as gt
from guardtest import functions, program, run

ABORTED = -signal.SIGABRT  # the wrapper dies the way its program did
LIBZMQ = "/usr/lib/x86_64-linux-gnu/libzmq.so.5"


def has_fn(frames, name):
    """True when a frame's function is `name` (C) or starts with `name(`
    (a demangled C++ function with its parameters)."""
    for fn in functions(frames):
        if fn == name or fn.startswith(name + "(") or fn.endswith("::" + name) or ("::" + name + "(") in fn:
            return True
    return False


def assert_silent(r, stdout_has=None):
    assert not r.timed_out, r
    assert r.guard_active, r  # silent because it was checked, not because it was not
    assert r.returncode == 0, r
    assert "zmq-guard" not in r.stderr, r
    assert r.findings == [], r
    if stdout_has:
        assert stdout_has in r.stdout, r


# Where verbose=1 cannot be on, an option the library does not know shows it
# was loaded and read its options: it says so on stderr with write(2) at the
# first zmq_socket, never through log_path or json_path (src/core/options.cpp).
PROBE = "zg_test_probe=1"


def assert_probe_only(r, stdout_has):
    """A correct program, silent but for the probe's line."""
    assert not r.timed_out and r.returncode == 0, r
    assert r.findings == [], r
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and re.fullmatch(r"zmq-guard: unknown option 'zg_test_probe' \(known: [a-z_, ]+\)",
                                            lines[0]), r
    assert stdout_has in r.stdout, r


def only_finding(r, kind):
    assert not r.timed_out, r
    assert r.kinds() == [kind], r
    return r.findings[0]


# ---------------------------------------------------------------- misuse

def test_shared_dealer_abort_reports_and_stops():
    r = run([program("shared_dealer")])
    assert r.returncode == ABORTED, r
    assert "received" not in r.stdout, r  # stopped at the first foreign call
    f = only_finding(r, "cross_thread")
    assert f["severity"] == "ERROR"
    assert f["mode"] == "abort" and f["policy"] == "handoff"
    assert f["call"] == "zmq_recv"
    assert f["socket_type"] == "DEALER"
    assert f["endpoints"] == ["connect inproc://echo"]
    assert re.fullmatch(r"0x[0-9a-f]+", f["socket"])
    assert has_fn(f["stack"], "receiver"), f["stack"]
    assert has_fn(f["owner_stack"], "sender"), f["owner_stack"]
    assert has_fn(f["created_stack"], "main"), f["created_stack"]
    assert f["thread"]["name"] == "receiver" and f["thread"]["running"] is True
    assert f["owner"]["name"] == "sender" and f["owner"]["running"] is True
    assert f["creator"]["name"] == "shared_dealer"
    assert f["python_stack"] is None
    frame = [x for x in f["stack"] if x["function"] == "receiver"][0]
    assert frame["file"].endswith("shared_dealer.c") and frame["line"] > 0
    # libc's frame is named, its line not looked up (that would decompress
    # libc's separate debug file, where valgrind's libc6-dbg put one).
    libc = [x for x in f["stack"] if x["function"] == "start_thread"]
    assert libc and libc[0]["module"].split("/")[-1].startswith("libc.so.") and not libc[0]["file"], f["stack"]

    err = r.stderr
    assert re.search(r"^={60,}$", err, re.M), err
    assert re.search(r"^==\d+==ERROR: zmq-guard: cross_thread: socket used by a thread that does not own it$",
                     err, re.M), err
    assert re.search(r"socket 0x[0-9a-f]+ \(DEALER, #\d+\), connect inproc://echo", err), err
    assert re.search(r'thread T\d+ "receiver" \(tid \d+\) calls zmq_recv:', err), err
    assert re.search(r"#0 0x[0-9a-f]+ in receiver .*shared_dealer\.c:\d+", err), err
    assert re.search(r'owner: thread T\d+ "sender" \(tid \d+, running\), which took the socket with zmq_send here:',
                     err), err
    assert re.search(r"in sender .*shared_dealer\.c:\d+", err), err
    assert re.search(r"socket created by thread T\d+ .*here:\n\s+#0 0x[0-9a-f]+ in main .*shared_dealer\.c:\d+",
                     err), err
    assert re.search(r"^HINT: ", err, re.M), err
    assert re.search(r'^SUMMARY: zmq-guard: cross_thread zmq_recv on DEALER socket 0x[0-9a-f]+ by T\d+ "receiver" '
                     r'in receiver shared_dealer\.c:\d+; owner T\d+ "sender" took it in sender shared_dealer\.c:\d+$',
                     err, re.M), err
    # The text and the JSON describe the same socket.
    assert f["socket"] in err


def test_shared_dealer_warn_reports_once_and_goes_on():
    r = run([program("shared_dealer")], ["--mode=warn"])
    assert r.returncode == 66, r
    assert "received 5" in r.stdout and "done" in r.stdout, r
    f = only_finding(r, "cross_thread")
    assert f["severity"] == "WARNING" and f["mode"] == "warn"
    assert has_fn(f["stack"], "receiver") and has_fn(f["owner_stack"], "sender")
    assert re.search(r"^==\d+==WARNING: zmq-guard: cross_thread:", r.stderr, re.M), r
    assert r.stderr.count("SUMMARY: zmq-guard:") == 1, r


def test_warn_exitcode_option():
    r = run([program("shared_dealer")], ["--mode=warn", "--exitcode=42"])
    assert r.returncode == 42, r
    assert r.kinds() == ["cross_thread"], r


def test_close_while_another_thread_is_blocked_in_recv():
    r = run([program("close_in_use")])
    assert r.returncode == ABORTED, r
    assert "closed" not in r.stdout, r
    f = only_finding(r, "close_while_in_use")
    assert f["call"] == "zmq_close" and f["socket_type"] == "PULL"
    assert has_fn(f["stack"], "main"), f["stack"]
    assert f["owner"]["name"] == "blocked"
    assert f["owner_role"] == "owner, inside a call on it", f
    assert has_fn(f["owner_stack"], "blocked_receiver"), f["owner_stack"]
    assert re.search(r'owner: thread T\d+ "blocked" \(tid \d+\), inside a call on this socket at the same time; '
                     r'it took the socket with zmq_recv here:', r.stderr), r
    assert "close_while_in_use" in r.stderr


# The owner's calls after its first take the owner path, which leaves no
# mark: these ask the kernel what the owner is doing (src/core/probe.h).

# Under tests/run.sh --sanitize, libzmq's poll goes through the sanitizer's
# interceptor: the sleeping call's return address is in the sanitizer's
# runtime, not in libzmq, and the probe answers "not inside" (doc/reliability.md).
PROBE_UNDER_SANITIZER = gt.plain_only("poll is the sanitizer's interceptor")


@PROBE_UNDER_SANITIZER
def test_close_while_the_owner_sleeps_in_recv_on_its_owner_path():
    r = run([program("owner_inside"), "close-blocked"])
    assert r.returncode == ABORTED, r
    assert "closed" not in r.stdout, r  # stopped before libzmq closed it
    f = only_finding(r, "close_while_in_use")
    assert f["call"] == "zmq_close" and f["socket_type"] == "PULL"
    assert has_fn(f["stack"], "main"), f["stack"]
    assert f["owner"]["name"] == "owner" and f["owner_role"] == "owner, inside a call on it", f
    assert has_fn(f["owner_stack"], "owner"), f["owner_stack"]


@pytest.mark.parametrize("mode,call", [("query-blocked", "zmq_getsockopt"), ("use-blocked", "zmq_recv"),
                                       ("linger-blocked", "zmq_setsockopt")])
@PROBE_UNDER_SANITIZER
def test_other_thread_while_the_owner_sleeps_in_recv_is_a_concurrent_call(mode, call):
    r = run([program("owner_inside"), mode])
    assert r.returncode == ABORTED, r
    f = only_finding(r, "concurrent_call")
    assert f["call"] == call and f["socket_type"] == "PULL"
    assert f["owner"]["name"] == "owner" and f["owner_role"] == "owner, inside a call on it", f
    assert re.search(r'owner: thread T\d+ "owner" \(tid \d+\), inside a call on this socket at the same time',
                     r.stderr), r


def test_forwarder_sending_on_a_socket_another_thread_sleeps_in_is_a_concurrent_call():
    # The forwarder's wrapper finds that socket in its second hint (it sent
    # on the other one last), still with the forwarder as owner there: the
    # hint is checked against the socket's owner now, the taker.
    r = run([program("forwarder"), "intrude"])
    assert r.returncode == ABORTED, r
    assert "forwarded 200" in r.stdout, r
    f = only_finding(r, "concurrent_call")
    assert f["call"] == "zmq_msg_send" and f["socket_type"] == "DEALER", f
    assert has_fn(f["stack"], "forwarder"), f["stack"]
    assert f["owner"]["name"] == "taker" and f["owner_role"] == "owner, inside a call on it", f
    assert has_fn(f["owner_stack"], "taker"), f["owner_stack"]


@pytest.mark.parametrize("mode", ["close-idle", "close-busy", "close-other", "close-loop"])
def test_close_by_another_thread_while_the_owner_is_elsewhere_is_a_handoff(mode):
    # Waiting in its own code, computing in its own code, asleep in a call
    # on another socket, asleep in its own poll on the socket's ZMQ_FD: the
    # owner is not inside a call on this one.
    r = run([program("owner_inside"), mode])
    assert_silent(r, "done")


@pytest.mark.parametrize("flags", [[], ["--mode=warn"], ["--mode=serialize"]])
def test_linger_set_by_the_closing_thread_is_part_of_the_handoff(flags):
    # pyzmq's close(linger=N) and Context.destroy(linger=N) set ZMQ_LINGER
    # just before zmq_close, from the closing thread; libzmq reads it only
    # at the close and at zmq_ctx_term.  Checked for overlap only (above:
    # linger-blocked), so here, with the owner alive and in its own code,
    # neither call is a use (nor, in serialize mode, a sharing).
    r = run([program("owner_inside"), "linger-idle"], flags)
    assert_silent(r, "done")


def test_use_after_close_warn_returns_enotsock():
    r = run([program("use_after_close")], ["--mode=warn"])
    assert r.returncode == 66, r
    assert "rc=-1 errno=ENOTSOCK" in r.stdout, r
    assert "done" in r.stdout, r
    f = only_finding(r, "use_after_close")
    assert f["call"] == "zmq_send" and f["socket_type"] == "PUSH"
    assert has_fn(f["stack"], "send_late"), f["stack"]
    assert has_fn(f["created_stack"], "main"), f["created_stack"]
    assert "SUMMARY: zmq-guard: use_after_close zmq_send" in r.stderr, r


def test_use_after_close_abort():
    r = run([program("use_after_close")])
    assert r.returncode == ABORTED, r
    assert "rc=" not in r.stdout, r
    f = only_finding(r, "use_after_close")
    assert has_fn(f["stack"], "send_late")


@pytest.mark.parametrize("mode", ["", "trylock", "recursive", "nested-owner", "nested-second"])
def test_sharing_under_one_mutex_is_silent(mode):
    # Each request/reply under one pthread mutex both workers hold (taken
    # with trylock by one; recursive and taken twice): libzmq's barrier.
    # Each worker takes it before its first socket call ever, before the
    # guard follows its mutexes; nested-*: and then another mutex, so that
    # the lock is found by its owner field, not as the latest one it took.
    assert_silent(run([program("own_mutex")] + ([mode] if mode else [])), "done")


def test_sharing_under_own_mutex_is_silent_under_overlap():
    assert_silent(run([program("own_mutex")], ["--policy=overlap"]), "done")


def test_a_call_without_the_common_mutex_is_reported_naming_the_thread():
    # worker-b's one request without the lock, after both made one under
    # it: reported at that call, whether or not worker-a is inside a call.
    r = run([program("own_mutex"), "forget"])
    assert r.returncode == ABORTED, r
    assert r.findings, r
    f = r.findings[0]
    assert f["kind"] in ("cross_thread", "concurrent_call") and f["call"] == "zmq_send", f
    assert f["thread"]["name"] == "worker-b" and has_fn(f["stack"], "request"), f
    assert f["owner"]["name"] == "worker-a", f
    assert "the socket is shared under a lock" in f["detail"], f


def test_a_first_call_without_the_mutex_another_thread_holds_is_reported():
    # worker-b's first request ever, without the lock, while worker-a holds
    # it (worker-a took it before its own first socket call).
    r = run([program("own_mutex"), "forget-first"])
    assert r.returncode == ABORTED, r
    f = only_finding(r, "cross_thread")
    assert f["call"] == "zmq_send", f
    assert f["thread"]["name"] == "worker-b" and has_fn(f["stack"], "forget_first_worker"), f
    assert f["owner"]["name"] == "worker-a", f


@pytest.mark.parametrize("flags", [["--policy=strict"], ["--locks=0"]])
def test_sharing_under_own_mutex_is_reported_by_strict_or_without_locks(flags):
    r = run([program("own_mutex")], flags + ["--mode=warn"])
    assert r.returncode == 66 and "cross_thread" in r.kinds(), r


def test_std_mutex_around_every_send_is_silent():
    assert_silent(run([program("std_mutex")]), "done")


def test_std_mutex_forgotten_once_is_reported_at_that_send():
    r = run([program("std_mutex"), "forget"])
    assert r.returncode == ABORTED, r
    line = [n for n, l in enumerate(open(os.path.join(os.path.dirname(__file__), "std_mutex.cpp")), 1)
            if "send without the lock" in l][0]
    assert any(f["call"] == "zmq_send" and any(fr["line"] == line for fr in f["stack"]) for f in r.findings), r


def test_strict_policy_reports_use_after_owner_exit_despite_reused_pthread_t():
    r = run([program("strict_reuse")], ["--policy=strict", "--mode=warn"])
    assert r.returncode == 66, r
    assert "received 2" in r.stdout, r
    f = only_finding(r, "cross_thread")
    assert f["policy"] == "strict"
    assert f["call"] == "zmq_send" and f["socket_type"] == "PUSH"
    assert has_fn(f["stack"], "second_user"), f["stack"]
    assert has_fn(f["created_stack"], "first_owner"), f["created_stack"]
    assert f["owner"]["running"] is False, f["owner"]
    assert f["owner"]["name"] == "first"
    assert f["thread"]["name"] == "second"
    assert re.search(r'owner: thread T\d+ "first" \(tid \d+, exited\)', r.stderr), r


def test_handoff_lets_a_socket_move_on_after_its_owner_exited():
    r = run([program("strict_reuse")])
    assert_silent(r, "received 2")


def test_short_overlapping_calls_are_caught():
    r = run([program("busy_pub")])
    assert r.returncode == ABORTED, r
    assert "done" not in r.stdout
    assert len(r.findings) == 1, r
    f = r.findings[0]
    assert f["kind"] in ("concurrent_call", "cross_thread"), f
    assert f["call"] == "zmq_send" and f["socket_type"] == "PUB"
    assert has_fn(f["stack"], "publisher"), f["stack"]


def test_short_overlapping_calls_are_caught_under_overlap():
    r = run([program("busy_pub")], ["--policy=overlap"])
    assert r.returncode == ABORTED, r
    f = only_finding(r, "concurrent_call")
    assert f["socket_type"] == "PUB"
    assert has_fn(f["stack"], "publisher"), f["stack"]
    assert f["owner_role"], f


def test_cppzmq_shared_socket():
    r = run([program("cppzmq_shared")])
    assert r.returncode == ABORTED, r
    f = only_finding(r, "cross_thread")
    assert f["call"] == "zmq_msg_recv" and f["socket_type"] == "DEALER"
    assert has_fn(f["stack"], "cpp_receiver"), functions(f["stack"])
    assert has_fn(f["owner_stack"], "cpp_sender"), functions(f["owner_stack"])
    assert has_fn(f["created_stack"], "main"), functions(f["created_stack"])
    # cppzmq's header code is compiled into the program: the summary may name
    # zmq::socket_t::recv; the stack shows the user's function below it.
    assert re.search(r"^SUMMARY: zmq-guard: cross_thread zmq_msg_recv on DEALER socket 0x[0-9a-f]+ by T\d+ ", r.stderr,
                     re.M), r
    assert re.search(r"#\d+ 0x[0-9a-f]+ in cpp_receiver\(zmq::socket_t&\) .*cppzmq_shared\.cpp:\d+", r.stderr), r


def test_cppzmq_shared_socket_warn():
    r = run([program("cppzmq_shared")], ["--mode=warn"])
    assert r.returncode == 66, r
    assert "received 3" in r.stdout, r
    assert r.kinds() == ["cross_thread"], r


def test_czmq_shared_socket():
    r = run([program("czmq_shared")])
    assert r.returncode == ABORTED, r
    f = only_finding(r, "cross_thread")
    assert f["call"] == "zmq_recvmsg" and f["socket_type"] == "DEALER"  # czmq's deprecated API
    assert has_fn(f["stack"], "zstr_recv") and has_fn(f["stack"], "czmq_receiver"), f["stack"]
    assert has_fn(f["owner_stack"], "czmq_sender"), f["owner_stack"]
    assert has_fn(f["created_stack"], "main"), f["created_stack"]


def test_czmq_shared_socket_warn_reports_only_the_sharing():
    # libzmq's zmq_recvmsg calls zmq_msg_recv through its own exported API:
    # that nested call is part of the same call, not a second thread.
    r = run([program("czmq_shared")], ["--mode=warn"])
    assert r.returncode == 66, r
    assert "received ping" in r.stdout, r
    assert r.kinds() == ["cross_thread"], r


# ---------------------------------------------------------------- correct

@pytest.mark.parametrize("name,expect", [
    ("main_only", "done"),
    ("per_thread", "received 400"),
    ("handoff_ctx_term", "recv during term: ETERM"),
    ("shutdown_block", "recv: -1 ETERM"),
    ("owner_exit_close", "done"),
    ("thread_safe", "received 600"),
    ("monitor", "events seen"),
    ("proxy", "replies 20"),
    ("czmq_actor", "round trips 10"),
    # AddressSanitizer's quarantine keeps a freed socket's address from the
    # next zmq_socket: the reuse this program makes cannot happen there.
    pytest.param("handle_reuse", "reused yes",
                 marks=gt.plain_only("no address reuse under ASan")),
    ("poll_owner", "round trips 50"),
    ("cppzmq_ok", "replies 20"),
    ("forwarder", "forwarded 200"),
])
def test_correct_program_is_silent(name, expect):
    assert_silent(run([program(name)]), expect)


@pytest.mark.parametrize("flags", [[], ["--mode=warn"], ["--mode=serialize"]])
def test_monitor_pair_at_a_closed_sockets_address_is_libzmqs_own(flags):
    # libzmq makes the monitor's PAIR inside zmq_socket_monitor, through its
    # own API and here inside the guard's pass-through region, at the
    # address of the PAIR the program has just closed; its I/O thread and
    # reaper send on it and the reaper closes it.  Those are libzmq's calls
    # on its own socket, not a use after close (abort mode stopped there;
    # warn mode refused the reaper's close, and zmq_ctx_term hung).
    assert_silent(run([program("monitor_reuse")], flags, timeout=30), "rounds 3, handshakes 3, stops 3")


@pytest.mark.parametrize("flags", [[], ["--mode=serialize"]])
def test_zmq_fd_and_rcvmore_read_before_a_handoff_claim_nothing(flags):
    # Only ZMQ_EVENTS processes the socket's commands; ZMQ_FD and
    # ZMQ_RCVMORE are plain reads, so main's reads before it passes the
    # socket to a new thread are not a use (the worker's calls were a
    # cross_thread in abort mode, a shared socket in serialize mode).
    assert_silent(run([program("fd_handoff")], flags), "worker got 2 parts")


@pytest.mark.parametrize("flags", [[], ["--mode=serialize"]])
def test_closed_thread_safe_sockets_are_closed(flags):
    # A thread-safe socket is exempt from ownership, not from its life: once
    # closed (here by a third thread) it is neither a leak at exit nor listed
    # by a zmq_ctx_term that a lingering PUSH, also closed, keeps blocked past
    # term_timeout_ms.
    r = run([program("thread_safe_close")], flags + ["--leaks=1", "-o", "term_timeout_ms=300"])
    assert_silent(r, "done")


def test_thread_safe_socket_use_after_close_warn_returns_enotsock():
    r = run([program("thread_safe_close"), "use-after-close"], ["--mode=warn"])
    assert r.returncode == 66, r
    assert "rc=-1 errno=ENOTSOCK" in r.stdout and "done" in r.stdout, r
    f = only_finding(r, "use_after_close")
    assert f["call"] == "zmq_connect" and f["socket_type"] == "CLIENT", f
    assert has_fn(f["stack"], "connect_late"), f["stack"]
    assert has_fn(f["created_stack"], "main"), f["created_stack"]


def test_thread_safe_socket_use_after_close_abort():
    r = run([program("thread_safe_close"), "use-after-close"])
    assert r.returncode == ABORTED, r
    assert "rc=" not in r.stdout, r
    f = only_finding(r, "use_after_close")
    assert f["socket_type"] == "CLIENT" and has_fn(f["stack"], "connect_late"), f


@pytest.mark.parametrize("name,expect", [
    ("main_only", "done"),
    ("per_thread", "received 400"),
    ("thread_safe", "received 600"),
    ("cppzmq_ok", "replies 20"),
])
def test_creator_only_program_is_silent_under_strict(name, expect):
    assert_silent(run([program(name)], ["--policy=strict"]), expect)


def test_strict_reports_a_hand_off():
    # What handoff accepts (main binds, a new thread uses and closes), strict
    # does not: the creator owns the socket for good.
    r = run([program("handoff_ctx_term")], ["--policy=strict", "--mode=warn"])
    assert r.returncode == 66, r
    assert "recv during term: ETERM" in r.stdout, r
    assert r.kinds() == ["cross_thread", "cross_thread"], r  # one per socket
    assert sorted(f["socket_type"] for f in r.findings) == ["REP", "REQ"]
    for f in r.findings:
        assert has_fn(f["stack"], "adopter") and has_fn(f["created_stack"], "main"), f
        assert f["owner"]["name"] == "handoff_ctx_ter"  # the creator (names are cut at 15)


# ---------------------------------------------------------------- private namespaces

def plugin():
    return program("libshare_plugin.so")


def test_plugin_loaded_rtld_local_is_guarded():
    r = run([program("plugin_host"), plugin(), "share"])
    assert "loaded: libzmq.so.5" in r.stdout, r
    assert r.returncode == ABORTED, r
    f = only_finding(r, "cross_thread")
    assert f["call"] == "zmq_recv" and f["socket_type"] == "DEALER"
    assert has_fn(f["stack"], "plugin_receiver"), f["stack"]
    assert has_fn(f["owner_stack"], "plugin_sender"), f["owner_stack"]
    assert has_fn(f["created_stack"], "plugin_run"), f["created_stack"]


def test_plugin_loaded_rtld_local_correct_is_silent():
    r = run([program("plugin_host"), plugin(), "ok"])
    assert "loaded: libzmq.so.5" in r.stdout, r
    assert_silent(r, "plugin returned 0")


# ASan refuses dlopen with RTLD_DEEPBIND ("please remove RTLD_DEEPBIND from
# dlopen flags"): the program ends before the plugin runs.
DEEPBIND_PLAIN = gt.plain_only("the ASan runtime refuses RTLD_DEEPBIND")


@DEEPBIND_PLAIN
def test_plugin_loaded_deepbind_is_guarded():
    # RTLD_DEEPBIND binds the plugin to libzmq past the preloaded wrappers
    # (PHP loads its extensions so); the guard points the plugin's entries
    # at its wrappers when the host takes the plugin's entry point with
    # dlsym.  Bound at load here (RTLD_NOW), as PHP's extensions are.
    env = {"PLUGIN_DEEPBIND": "1"}
    r = run([program("plugin_host"), plugin(), "share"], env=env)
    assert "loaded: libzmq.so.5" in r.stdout, r
    assert r.returncode == ABORTED, r
    f = only_finding(r, "cross_thread")
    assert f["call"] == "zmq_recv" and f["socket_type"] == "DEALER"
    assert has_fn(f["stack"], "plugin_receiver") and has_fn(f["owner_stack"], "plugin_sender"), f
    assert_silent(run([program("plugin_host"), plugin(), "ok"], env=env), "plugin returned 0")


# What ld.so itself binds lazily, as LD_DEBUG=bindings shows it: {name:
# the object it bound to} for each libzmq function the plugin called.
def lazy_bindings(stderr):
    return {m[1]: os.path.basename(m[0]) for m in re.findall(
        r"binding file \S*libshare_plugin\.so \[0\] to (\S+) \[0\]: normal symbol `(zmq_\w+)'", stderr)}


# The interposed functions plugin_run calls ("share" and "ok").
PLUGIN_CALLS = {"zmq_socket", "zmq_connect", "zmq_send", "zmq_recv", "zmq_close", "zmq_ctx_term"}


@DEEPBIND_PLAIN
def test_plugin_loaded_deepbind_lazily_is_guarded():
    # Bound lazily, the plugin's entries still lead to its PLT when the
    # guard looks, and each first call would bind to libzmq past the guard.
    # The guard finds in ld.so's scopes where they would bind (the plugin's
    # own libzmq) and stores the wrappers for that copy first: ld.so binds
    # none of the interposed functions, and the misuse is reported.
    env = {"PLUGIN_DEEPBIND": "1", "PLUGIN_LAZY": "1", "LD_DEBUG": "bindings"}
    r = run([program("plugin_host"), plugin(), "share"], env=env)
    assert r.returncode == ABORTED, r
    f = only_finding(r, "cross_thread")
    assert f["call"] == "zmq_recv" and f["socket_type"] == "DEALER"
    assert has_fn(f["stack"], "plugin_receiver") and has_fn(f["owner_stack"], "plugin_sender"), f
    bound = lazy_bindings(r.stderr)
    assert bound.get("zmq_ctx_new") == "libzmq.so.5", bound  # not interposed: ld.so binds it, as it would
    assert not PLUGIN_CALLS & bound.keys(), bound
    assert "past the guard" not in r.stderr, r
    ok = run([program("plugin_host"), plugin(), "ok"], env=env)
    assert ok.returncode == 0 and ok.findings == [] and "plugin returned 0" in ok.stdout, ok
    assert not PLUGIN_CALLS & lazy_bindings(ok.stderr).keys() and "past the guard" not in ok.stderr, ok


def test_plugin_loaded_lazily_without_deepbind_is_left_to_ld_so():
    # An object that looks in the global scope first binds to the guard's
    # wrappers by itself: the guard leaves its entries to ld.so's lazy
    # binding (every interposed function is bound by ld.so, to the guard).
    env = {"PLUGIN_LAZY": "1", "LD_DEBUG": "bindings"}
    r = run([program("plugin_host"), plugin(), "ok"], env=env)
    assert r.returncode == 0 and r.findings == [] and "plugin returned 0" in r.stdout, r
    bound = lazy_bindings(r.stderr)
    assert {n: bound.get(n) for n in PLUGIN_CALLS} == {n: "libzmqguard.so" for n in PLUGIN_CALLS}, bound
    r = run([program("plugin_host"), plugin(), "share"], env={"PLUGIN_LAZY": "1"})
    assert r.returncode == ABORTED and only_finding(r, "cross_thread")["call"] == "zmq_recv", r


@DEEPBIND_PLAIN
def test_plugin_loaded_deepbind_used_at_load_is_named_at_exit():
    # What stays past the guard: a plugin that runs from its constructor,
    # inside dlopen, with a host that then takes none of its symbols.  The
    # guard never got to look; its misuse goes unseen, and at exit the
    # guard says so, naming the plugin.
    r = run([program("plugin_host"), plugin(), "share"], env={"PLUGIN_DEEPBIND": "1", "PLUGIN_RUN_AT_LOAD": "share"})
    assert not r.timed_out and r.guard_active, r
    assert r.returncode == 0 and r.findings == [] and "plugin ran at load: 0" in r.stdout, r
    assert re.search(r"zmq-guard: \S*libshare_plugin\.so calls libzmq \(zmq_\w+\) directly, past the guard .*"
                     r"its sockets are not checked", r.stderr), r


@pytest.fixture
def renamed_plugin(tmp_path):
    """A wheel-like layout: the plugin needs libzmq-abc123.so.5, a renamed
    copy of Debian's libzmq in a private directory found through its rpath."""
    private = tmp_path / "plugin.libs"
    private.mkdir()
    lib = private / "libzmq-abc123.so.5"
    shutil.copy(os.path.realpath(LIBZMQ), lib)
    subprocess.run(["patchelf", "--set-soname", "libzmq-abc123.so.5", str(lib)], check=True)
    plug = tmp_path / "libshare_plugin.so"
    shutil.copy(plugin(), plug)
    subprocess.run(["patchelf", "--replace-needed", "libzmq.so.5", "libzmq-abc123.so.5", str(plug)], check=True)
    subprocess.run(["patchelf", "--set-rpath", "$ORIGIN/plugin.libs", str(plug)], check=True)
    needed = subprocess.run(["readelf", "-d", str(plug)], capture_output=True, text=True, check=True).stdout
    assert "[libzmq-abc123.so.5]" in needed and "[libzmq.so.5]" not in needed
    return str(plug)


def test_renamed_private_libzmq_copy_is_guarded(renamed_plugin):
    r = run([program("plugin_host"), renamed_plugin, "share"])
    # Only the private copy is in the process: nothing to find by name.
    assert re.findall(r"^loaded: (.*)$", r.stdout, re.M) == ["libzmq-abc123.so.5"], r
    assert r.returncode == ABORTED, r
    f = only_finding(r, "cross_thread")
    assert f["call"] == "zmq_recv" and f["socket_type"] == "DEALER"
    assert has_fn(f["stack"], "plugin_receiver") and has_fn(f["owner_stack"], "plugin_sender"), f


def test_renamed_private_libzmq_copy_correct_is_silent(renamed_plugin):
    r = run([program("plugin_host"), renamed_plugin, "ok"])
    assert re.findall(r"^loaded: (.*)$", r.stdout, re.M) == ["libzmq-abc123.so.5"], r
    assert_silent(r, "plugin returned 0")


# ---------------------------------------------------------------- dlsym (FFI bindings)

ASAN_RUNTIME = "/usr/lib/x86_64-linux-gnu/libasan.so.8"  # gcc's (Debian libasan8, scripts/deps.sh)


def test_functions_taken_with_dlsym_are_guarded():
    # The program takes libzmq's functions with dlsym on its handle, as
    # ctypes, cffi and the other FFI bindings do.
    r = run([program("dlsym_zmq"), "shared"], ["--mode=warn"])
    assert r.returncode == 66, r
    assert "done" in r.stdout, r
    f = only_finding(r, "cross_thread")
    assert f["call"] == "zmq_send" and f["socket_type"] == "PAIR"
    assert has_fn(f["stack"], "send_job") and has_fn(f["stack"], "main"), f["stack"]
    assert has_fn(f["owner_stack"], "owner"), f["owner_stack"]
    assert has_fn(f["created_stack"], "main"), f["created_stack"]
    assert f["owner"]["name"] == "owner", f
    assert "its sockets are not checked" not in r.stderr, r


def test_functions_taken_with_dlsym_correct_is_silent():
    assert_silent(run([program("dlsym_zmq"), "ok"]), "done")


def test_dlsym_finds_no_draft_function_libzmq_lacks():
    # Debian's libzmq exports no draft API; a program that tests for it with
    # dlsym must hear "absent", not get a wrapper failing with ENOTSUP.
    plain = subprocess.run([program("dlsym_zmq"), "drafts"], capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0, plain
    r = run([program("dlsym_zmq"), "drafts"])
    assert_silent(r, "done")
    lines = [l for l in r.stdout.splitlines() if l.startswith("zmq_")]
    expected = [l for l in plain.stdout.splitlines() if l.startswith("zmq_") and "from" not in l]
    assert expected == ["zmq_join: handle absent, default absent", "zmq_poller_add: handle absent, default absent",
                        "zmq_socket_get_peer_state: handle absent, default absent",
                        "zmq_connect_peer: handle absent, default absent", "zmq_join: dlvsym absent"], plain
    assert lines == expected + ["zmq_send from libzmqguard.so"], r


@pytest.fixture
def renamed_libzmq(tmp_path):
    """A renamed private copy of Debian's libzmq, as a wheel ships it."""
    lib = tmp_path / "libzmq-ffi123.so.5"
    shutil.copy(os.path.realpath(LIBZMQ), lib)
    subprocess.run(["patchelf", "--set-soname", "libzmq-ffi123.so.5", str(lib)], check=True)
    return str(lib)


def test_renamed_copy_taken_with_dlsym_is_guarded(renamed_libzmq):
    # The copy is found when its first function is looked up, not by name.
    r = run([program("dlsym_zmq"), "shared", renamed_libzmq], ["--mode=warn"])
    assert r.returncode == 66, r
    assert r.guarded == [renamed_libzmq], r
    f = only_finding(r, "cross_thread")
    assert has_fn(f["stack"], "send_job") and has_fn(f["owner_stack"], "owner"), f
    assert_silent(run([program("dlsym_zmq"), "ok", renamed_libzmq]), "done")


@gt.not_under("thread", "the program makes copy A's functions trap; ThreadSanitizer's runtime takes the SIGILL "
                        "of the unguarded run and ends the process its own way (exit 66), not by the signal")
def test_two_copies_each_get_their_own_calls(renamed_libzmq):
    # The linked libzmq and a renamed copy opened RTLD_LOCAL, used at once
    # and then each with the other's interposed functions made to trap
    # (two_copies_dlsym.c): a call sent to the wrong copy would die.
    plain = subprocess.run([program("two_copies_dlsym"), renamed_libzmq], capture_output=True, text=True,
                           timeout=60)
    # Without the guard the copies' own calls to their exported functions
    # meet in the global scope: copy B's zmq_poll calls A's zmq_getsockopt,
    # which traps.  The guard's wrapper is found there and sends it to B.
    assert plain.returncode == -signal.SIGILL and "two copies ok" not in plain.stdout, plain
    r = run([program("two_copies_dlsym"), renamed_libzmq])
    assert sorted(map(os.path.realpath, r.guarded)) == sorted([os.path.realpath(LIBZMQ), renamed_libzmq]), r
    assert_silent(r, "two copies ok")


@pytest.mark.parametrize("order", ["guard_first", "guard_second"])
def test_rtld_next_keeps_its_meaning_beside_another_preload(order):
    # A second preload library wraps getpid() and zmq_send() with
    # dlsym(RTLD_NEXT): its lookups must lead past itself, to libc and to
    # whatever follows it (the guard when the guard is after it, libzmq
    # otherwise); the executable's own lookups to that library.
    nxt = program("libzg_next.so")
    preload = nxt if order == "guard_first" else nxt + ":" + gt.LIB
    r = run([program("next_host")], env={"LD_PRELOAD": preload})
    assert_silent(r, "done")
    out = r.stdout.splitlines()
    assert "next: getpid -> libc.so.6, dlvsym -> libc.so.6" in out, r
    assert "host: next getpid -> libzg_next.so, default getpid -> libzg_next.so" in out, r
    if order == "guard_first":
        # The guard calls its libzmq copy directly: nothing reaches the
        # wrapper of a library after it.
        assert "host: next zmq_send -> libzmqguard.so" in out, r
        assert not any(l.startswith("next: zmq_send") for l in out), r
    else:
        assert "host: next zmq_send -> libzg_next.so" in out, r
        assert "next: zmq_send -> libzmqguard.so" in out, r


# Under ThreadSanitizer the process would hold two sanitizer runtimes.
@gt.not_under("thread", "preloads the ASan runtime")
@pytest.mark.parametrize("mode", ["shared", "ok"])
def test_dlsym_guarded_with_asan_runtime_first(mode):
    # The ASan runtime calls dlsym while it starts, before any constructor
    # of the guard ran, with its own string functions not yet usable.
    env = {"LD_PRELOAD": ASAN_RUNTIME + ":" + gt.LIB, "ASAN_OPTIONS": "detect_leaks=0"}
    r = run([program("dlsym_zmq"), mode], ["--mode=warn"], env=env)
    if mode == "ok":
        assert_silent(r, "done")
        return
    assert r.returncode == 66, r
    f = only_finding(r, "cross_thread")
    assert has_fn(f["stack"], "send_job") and has_fn(f["owner_stack"], "owner"), f


def test_socket_made_by_an_early_constructor_correct_is_silent():
    r = run([program("early_main"), "ok"])
    assert r.returncode == 0 and r.guard_active, r
    assert "early constructor: creating a socket" in r.stderr, r
    assert "zmq-guard" not in r.stderr, r
    assert r.findings == [], r
    assert "done" in r.stdout


def test_socket_made_by_an_early_constructor_shared_is_reported():
    r = run([program("early_main"), "share"])
    assert r.returncode == ABORTED, r
    f = only_finding(r, "cross_thread")
    assert f["call"] == "zmq_recv" and f["socket_type"] == "DEALER"
    assert f["endpoints"] == ["connect inproc://early"], f
    assert has_fn(f["stack"], "early_receiver"), f["stack"]
    assert has_fn(f["owner_stack"], "early_sender"), f["owner_stack"]
    assert has_fn(f["created_stack"], "early_constructor"), f["created_stack"]


def test_socket_made_while_a_constructor_waits_for_it_inside_dlopen():
    # A constructor run by dlopen holds the loader's lock and waits for main
    # to make a socket.  The guard looks its interpreters up again after the
    # load (Python, Ruby, ...: report/late_lookup.h); with dlsym, which takes
    # that lock, main waited for the constructor, which waited for main,
    # until its 20 s ran out (a deadlock without them).  Plain libzmq takes
    # no loader lock there, and neither does the guard now.
    r = run([program("ctor_wait"), os.path.join(gt.BUILD_ROOT, "tests", "e2e", "libctor_wait_lib.so")])
    assert not r.timed_out and r.returncode == 0 and r.guard_active, r
    assert r.stdout == "socket made while the constructor waited\n", r
    assert r.findings == [], r


def test_early_constructor_runs_before_the_guard_is_set_up():
    # What makes the two tests above meaningful: the library's constructor
    # makes its zmq calls before the guard's constructor has run.
    r = run([program("early_main"), "ok"])
    assert r.returncode == 0 and r.guard_active, r
    lines = r.stderr_raw.splitlines()
    early = [i for i, l in enumerate(lines) if l.startswith("early constructor")]
    active = [i for i, l in enumerate(lines) if re.match(r"zmq-guard \S+: active", l)]
    assert early and active and early[0] < active[0], r
    assert r.findings == [], r


def test_preinit_array_zmq_calls_correct_is_silent():
    r = run([program("preinit"), "ok"])
    assert r.returncode == 0 and r.guard_active, r
    assert r.stderr.strip() == "preinit: creating a socket", r
    assert r.findings == [] and "done" in r.stdout, r


def test_preinit_array_socket_shared_is_reported_with_the_options_given():
    # Calls from .preinit_array run before libc has set `environ`: the
    # guard must still see ZMQ_GUARD_OPTIONS (here mode=warn, json_path).
    r = run([program("preinit"), "share"], ["--mode=warn"])
    assert r.returncode == 66, r
    assert "done" in r.stdout, r
    f = only_finding(r, "cross_thread")
    assert f["mode"] == "warn" and f["severity"] == "WARNING", f
    assert f["call"] == "zmq_recv" and f["endpoints"] == ["connect inproc://preinit"], f
    assert has_fn(f["stack"], "preinit_receiver") and has_fn(f["owner_stack"], "preinit_sender"), f
    assert has_fn(f["created_stack"], "preinit_zmq"), f["created_stack"]


# ---------------------------------------------------------------- the wrapper and options

def wrapper(*args, env=None, timeout=30):
    full_env = dict(os.environ)
    full_env.pop("ZMQ_GUARD_OPTIONS", None)
    full_env.pop("LD_PRELOAD", None)
    full_env.update(env or {})
    return subprocess.run([gt.WRAPPER] + list(args), env=full_env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_help_exits_zero():
    p = wrapper("--help")
    assert p.returncode == 0, p
    assert "usage:" in p.stdout and "--mode" in p.stdout, p


def test_unknown_flag_exits_2_before_running(tmp_path):
    marker = tmp_path / "ran"
    p = wrapper("--bogus", "--", "touch", str(marker))
    assert p.returncode == 2, p
    # One line, naming the flag; the usage only for --help.
    assert p.stderr == "zmq-guard: unknown option --bogus (see zmq-guard --help)\n", p
    assert not marker.exists()
    p = wrapper("--bogus=1", "--", "touch", str(marker))
    assert p.returncode == 2 and p.stderr.startswith("zmq-guard: unknown option --bogus ("), p


def test_bad_mode_exits_2(tmp_path):
    marker = tmp_path / "ran"
    p = wrapper("--mode=bogus", "--", "touch", str(marker))
    assert p.returncode == 2, p
    assert "bogus" in p.stderr, p
    assert not marker.exists()


def test_unknown_key_in_environment_is_one_line_and_guard_still_runs():
    r = run([program("shared_dealer")], ["--mode=warn"], env={"ZMQ_GUARD_OPTIONS": "no_such_key=1"})
    lines = [l for l in r.stderr.splitlines() if "no_such_key" in l]
    assert len(lines) == 1, r
    assert "zmq-guard" in lines[0], r
    assert r.returncode == 66, r
    assert r.kinds() == ["cross_thread"], r


def test_unknown_key_on_a_correct_program_prints_only_that_line():
    r = run([program("main_only")], env={"ZMQ_GUARD_OPTIONS": "no_such_key=1"})
    assert r.returncode == 0 and r.guard_active, r
    assert r.findings == []
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no_such_key" in lines[0], r


def test_bad_options_say_nothing_in_a_process_without_sockets():
    # A guarded test suite runs shells and tools that never touch ZeroMQ:
    # their output (often captured) must not carry the guard's lines.
    r = run(["sh", "-c", "echo out; echo err >&2"], env={"ZMQ_GUARD_OPTIONS": "no_such_key=1:mode=loud"})
    assert r.returncode == 0 and r.guard_active, r
    assert (r.stdout, r.stderr) == ("out\n", "err\n"), r


def test_unwritable_log_path_falls_back_to_stderr():
    # Set past the wrapper, which refuses it (below): the library says so
    # once, at its first report, and reports to stderr.
    bad = "/nonexistent/dir/x.log"
    r = run([program("shared_dealer")], ["--mode=warn"], env={"ZMQ_GUARD_OPTIONS": "log_path=" + bad})
    assert r.returncode == 66, r
    lines = [l for l in r.stderr.splitlines() if bad in l]
    assert len(lines) == 1 and "reports go to stderr" in lines[0], r
    assert re.search(r"^SUMMARY: zmq-guard: cross_thread zmq_recv", r.stderr, re.M), r
    assert r.kinds() == ["cross_thread"], r


def test_unwritable_log_path_is_silent_until_a_report():
    # verbose=1's notice would be a report (to stderr, after saying that the
    # log cannot be opened): the unknown key's line shows the guard instead.
    r = run([program("main_only")], env={"ZMQ_GUARD_OPTIONS": "log_path=/nonexistent/dir/x.log:" + PROBE},
            verbose=False)
    assert_probe_only(r, "done")


@pytest.mark.parametrize("flag", ["--log-path=/nonexistent/dir/x.log", "--json-path=/nonexistent/dir/x.json"])
def test_wrapper_refuses_a_report_path_it_cannot_create(tmp_path, flag):
    marker = tmp_path / "ran"
    p = wrapper(flag, "--", "touch", str(marker))
    assert p.returncode == 2, p
    assert "/nonexistent/dir" in p.stderr.splitlines()[0], p
    assert not marker.exists()


def test_wrapper_takes_a_writable_file_in_a_directory_it_cannot_write():
    # An existing file needs nothing of its directory.  As an unprivileged
    # user (root may write anywhere, which would prove nothing), in a
    # directory that user can reach (pytest's tmp_path is root's alone).
    import pathlib
    import tempfile
    tmp_path = pathlib.Path(tempfile.mkdtemp(prefix="zg-nobody-"))
    tmp_path.chmod(0o755)
    # The wrapper and the library beside it, where that user can run them
    # (the build tree may sit under a directory only root can enter).
    wrapper_copy = tmp_path / "zmq-guard"
    shutil.copy(gt.WRAPPER, wrapper_copy)
    shutil.copy(gt.LIB, tmp_path / "libzmqguard.so")
    log = tmp_path / "guard.log"
    log.touch()
    log.chmod(0o666)
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(wrapper_copy)]
    ok = subprocess.run(nobody + ["--log-path=" + str(log), "--", "/bin/true"],
                        capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok
    refused = subprocess.run(nobody + ["--log-path=" + str(tmp_path / "new.log"), "--", "/bin/true"],
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "Permission denied" in refused.stderr, refused
    shutil.rmtree(tmp_path)


@pytest.mark.parametrize("args", [["--json-path=/tmp/a:b.json"], ["--log-path=/tmp/a,b.log"], ["--json-path"],
                                  ["-o"], ["--mode"]])
def test_wrapper_refuses_values_it_cannot_pass_on(tmp_path, args):
    # ':' and ',' separate ZMQ_GUARD_OPTIONS's pairs; '--' is never a value.
    marker = tmp_path / "ran"
    p = wrapper(*args, "--", "touch", str(marker))
    assert p.returncode == 2, p
    assert p.stderr.count("\n") == 1 and "(see zmq-guard --help)" in p.stderr, p
    assert not marker.exists()


def test_wrapper_refuses_a_missing_library_override(tmp_path):
    marker = tmp_path / "ran"
    p = wrapper("--", "touch", str(marker), env={"ZMQ_GUARD_LIBRARY": str(tmp_path / "nope.so")})
    assert p.returncode == 2, p
    assert p.stderr.count("\n") == 1 and "ZMQ_GUARD_LIBRARY" in p.stderr, p
    assert not marker.exists()


def test_log_path_receives_the_text_report(tmp_path):
    log = tmp_path / "guard.log"
    r = run([program("shared_dealer")], ["--mode=warn", "--log-path=" + str(log)])
    assert r.returncode == 66, r
    assert "zmq-guard" not in r.stderr, r
    text = log.read_text()
    assert re.search(r"^SUMMARY: zmq-guard: cross_thread zmq_recv .* in receiver", text, re.M), text


def test_json_path_expands_pid(tmp_path):
    pattern = str(tmp_path / "findings.%p.json")
    r = run([program("shared_dealer")], ["--mode=warn", "--json-path=" + pattern], json_report=False)
    assert r.returncode == 66, r
    files = os.listdir(tmp_path)
    assert len(files) == 1, files
    m = re.fullmatch(r"findings\.(\d+)\.json", files[0])
    assert m, files
    with open(tmp_path / files[0]) as fh:
        objs = [json.loads(l) for l in fh if l.strip()]
    assert [o["kind"] for o in objs] == ["cross_thread"]
    assert objs[0]["pid"] == int(m.group(1))
    banner_pid = re.search(r"^==(\d+)==WARNING", r.stderr, re.M).group(1)
    assert banner_pid == m.group(1)


# ---------------------------------------------------------------- the host's descriptors

def test_closed_inherited_descriptors_are_never_touched(tmp_path):
    """A daemon closes what it inherited and opens its own files, which get
    the numbers the guard's constructor may have used: the guard must not
    write into them (its report goes to its own files), close them or hang."""
    own = tmp_path / "own.txt"
    log = tmp_path / "guard.log"
    r = run([program("closed_fds"), str(own)], ["--mode=warn", "--log-path=" + str(log)])
    assert not r.timed_out, r
    assert r.returncode == 66, r
    assert r.stdout == "done\n", r
    assert own.read_text() == "before\nafter\n"
    f = only_finding(r, "cross_thread")
    assert f["thread"]["name"] == "intruder" and has_fn(f["stack"], "intruder"), f
    assert re.search(r"^SUMMARY: zmq-guard: cross_thread zmq_send .* in intruder closed_fds\.c:\d+", log.read_text(),
                     re.M), log.read_text()


def test_no_file_from_a_process_that_reports_nothing(tmp_path):
    pattern = str(tmp_path / "guard.%p")
    # verbose=1's notice would open the log file: the unknown key's line
    # shows the guard instead.
    r = run([program("main_only")], ["--json-path=" + pattern + ".json", "--log-path=" + pattern + ".log"],
            env={"ZMQ_GUARD_OPTIONS": PROBE}, json_report=False, verbose=False)
    assert_probe_only(r, "done")
    assert os.listdir(tmp_path) == []


def test_notices_do_not_create_the_json_file(tmp_path):
    # verbose=1's start-up lines are text: the JSON file is for findings.
    pattern = str(tmp_path / "guard.%p.json")
    r = run([program("main_only")], ["--json-path=" + pattern], json_report=False)
    assert_silent(r)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- the library's structure

def test_exports_are_exactly_the_api_table():
    names = gt.api_def_names()
    assert len(names) > 30 and len(set(names)) == len(names), names
    out = subprocess.run(["nm", "-D", "--defined-only", gt.LIB], capture_output=True, text=True, check=True).stdout
    exported = {l.split()[-1].split("@")[0] for l in out.splitlines() if l.strip()}
    # pthread_create: thread creation orders a hand-off; the lock operations:
    # a socket shared under one lock (src/core/order.h, src/core/locks.h);
    # dlsym/dlvsym: FFI bindings' lookups on libzmq (interpose/dlsym.cpp).
    locks = {"pthread_mutex_lock", "pthread_mutex_trylock", "pthread_mutex_timedlock", "pthread_mutex_clocklock",
             "pthread_mutex_unlock", "pthread_mutex_destroy", "sem_wait", "sem_trywait", "sem_timedwait",
             "sem_clockwait", "sem_post", "sem_destroy"}
    assert exported == set(names) | {"zmq_guard_version", "zmq_guard_release", "pthread_create", "dlsym", "dlvsym"} | locks, \
        (exported - set(names), set(names) - exported)


def test_library_needs_nothing_but_libc():
    out = subprocess.run(["readelf", "-d", gt.LIB], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", out)
    assert needed, out
    for lib in needed:
        for banned in ("libzmq", "libstdc++", "libunwind", "libdw", "libgcc_s"):
            assert banned not in lib, needed


def test_explicit_handoff_declared_is_silent():
    # Passed ping -> pong -> ping with zmq_guard_handoff() before each move.
    assert_silent(run([program("explicit_handoff")]), "received 3")


def test_explicit_handoff_undeclared_is_reported():
    r = run([program("explicit_handoff"), "undeclared"], ["--mode=warn"])
    assert r.returncode == 66, r
    f = only_finding(r, "cross_thread")
    assert f["thread"]["name"] == "pong" and f["owner"]["name"] == "ping", f
    assert has_fn(f["stack"], "pong") and has_fn(f["owner_stack"], "ping"), f


def test_handoff_header_without_the_guard():
    # The same program runs unguarded: the header's calls do nothing.
    p = subprocess.run([program("explicit_handoff")], capture_output=True, text=True, timeout=30,
                       env={k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ZMQ_GUARD_OPTIONS")})
    assert p.returncode == 0 and "received 3" in p.stdout, p


def test_suppressions_file_silences_a_known_finding(tmp_path):
    supp = tmp_path / "zmq-guard.supp"
    supp.write_text("# the shared DEALER is known; fixed in the next release\ncross_thread:receiver\n")
    # Without the file, the finding it names.
    r = run([program("shared_dealer")], ["--mode=warn"])
    assert r.returncode == 66, r
    f = only_finding(r, "cross_thread")
    assert has_fn(f["stack"], "receiver"), f["stack"]
    r = run([program("shared_dealer")], ["--mode=warn", "--suppressions=" + str(supp)])
    assert_silent(r, "received 5")


def test_malformed_suppressions_line_is_one_line_and_the_rest_applies(tmp_path):
    supp = tmp_path / "zmq-guard.supp"
    supp.write_text("no colon here\ncross_thread:nomatch_*\n")
    r = run([program("shared_dealer")], ["--mode=warn", "--suppressions=" + str(supp)])
    assert r.returncode == 66, r
    bad = [l for l in r.stderr.splitlines() if "suppressions" in l and ":1:" in l]
    assert len(bad) == 1 and "line ignored" in bad[0], r.stderr
    assert r.kinds() == ["cross_thread"], r


def test_unreadable_suppressions_file_is_one_line(tmp_path):
    r = run([program("main_only")], ["--suppressions=" + str(tmp_path / "missing.supp")])
    assert r.returncode == 0, r
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "cannot read suppressions file" in lines[0], r.stderr


# ------------------------------------------- hand-offs the program orders

@pytest.mark.parametrize("flags", [[], ["--mode=serialize"]])
def test_type_probe_on_a_closed_handle_is_enotsock_and_silent(flags):
    # pyzmq's closed probe in C: zmq_getsockopt(ZMQ_TYPE) on a handle this
    # process closed.  The guard answers ENOTSOCK without reaching libzmq
    # (whose answer would come from freed memory); the handle reused by a
    # new socket is that socket.
    r = run([program("synced"), "closed-probe"], flags)
    assert_silent(r, "rc=-1 errno=ENOTSOCK")
    assert "done" in r.stdout, r


def test_send_on_a_closed_handle_is_still_use_after_close():
    r = run([program("synced"), "closed-send"])
    assert r.returncode == ABORTED, r
    f = only_finding(r, "use_after_close")
    assert f["call"] == "zmq_send" and f["socket_type"] == "PUSH"
    assert has_fn(f["stack"], "closed"), f["stack"]


@pytest.mark.parametrize("mode,expect", [("creation", "done"), ("delegate", "done")])
def test_hand_off_ordered_by_creation_or_a_pipe_is_silent(mode, expect):
    # creation: main's last call, then pthread_create of the thread that
    # uses the socket from then on (ipykernel's IOPub pipe).  delegate: the
    # helper uses main's socket between main's request and its reply over an
    # inproc PAIR, three rounds (czmq's zmonitor; czmq_monitor below).
    assert_silent(run([program("synced"), mode]), expect)


def test_czmq_zmonitor_on_the_callers_socket_is_silent():
    assert_silent(run([program("czmq_monitor")]), "events 2 message 1")


def test_czmq_zmonitor_after_many_actors_is_silent():
    # Ten actors first fill what the main thread knows of other threads'
    # releases; then two monitors, and a bind on the first one's socket:
    # the first monitor's edge must not be forgotten for the second's (as
    # in czmq's own selftest run whole).
    assert_silent(run([program("czmq_monitor"), "crowded"]), "events 2")


def test_czmq_zgossip_is_silent():
    # Three zgossip nodes; the tuple alpha publishes reaches beta.
    assert_silent(run([program("czmq_gossip")]), "delivered 1")


def test_czmq_zproxy_and_zauth_actors_are_silent():
    # The actors' pipes order every hand-off (strict, which ignores them,
    # reports each actor's first signal on the pipe main made).
    assert_silent(run([program("czmq_proxy_auth")]), "proxy 1 auth 1")
    r = run([program("czmq_proxy_auth")], ["--policy=strict", "--mode=warn"])
    assert r.returncode == 66 and set(r.kinds()) == {"cross_thread"}, r


# Unordered sharing stays caught, deterministically: each program fixes the
# order of its calls with flags the guard does not see.
@pytest.mark.parametrize("mode,call,culprit,owner", [
    # main gave the socket to a new thread and goes on using it: the thread's
    # later use is not ordered after main's
    ("goes-on", "zmq_poll", "io_thread", "creation"),
    # the thread took it first: main's later use is not ordered after it
    ("goes-on-late", "zmq_getsockopt", "creation", "io_thread"),
    # main uses its socket before the helper's reply says the helper is done
    ("delegate-early", "zmq_bind", "delegate", "helper"),
])
def test_use_not_ordered_after_the_owners_is_cross_thread(mode, call, culprit, owner):
    r = run([program("synced"), mode])
    assert r.returncode == ABORTED, r
    f = only_finding(r, "cross_thread")
    assert f["call"] == call, f
    assert has_fn(f["stack"], culprit), f["stack"]
    assert has_fn(f["owner_stack"], owner), f["owner_stack"]
    assert re.search(r"SUMMARY: zmq-guard: cross_thread %s on \w+ socket 0x[0-9a-f]+ by T\d+ \"\w+\" in %s "
                     % (call, culprit), r.stderr), r.stderr


def test_heartbeat_thread_on_mains_socket_is_reported():
    # Either side may come first after the heartbeat thread starts; the one
    # that comes second is reported, as a send on the DEALER.
    r = run([program("synced"), "heartbeat"])
    assert r.returncode == ABORTED, r
    assert len(r.findings) == 1, r
    f = r.findings[0]
    assert f["kind"] in ("cross_thread", "concurrent_call") and f["call"] == "zmq_send", f
    assert {f["thread"]["name"], f["owner"]["name"]} == {"heartbeat", "synced"}, f


def test_events_read_on_a_socket_a_loop_thread_serves_is_reported():
    r = run([program("synced"), "events-loop"])
    assert r.returncode == ABORTED, r
    assert len(r.findings) == 1, r
    f = r.findings[0]
    assert f["kind"] in ("cross_thread", "concurrent_call") and f["call"] == "zmq_getsockopt", f
    assert has_fn(f["stack"], "events_loop") and f["owner"]["name"] == "control", f


@pytest.mark.parametrize("mode", ["creation", "delegate"])
def test_strict_still_reports_an_ordered_hand_off(mode):
    r = run([program("synced"), mode], ["--policy=strict", "--mode=warn"])
    assert r.returncode == 66, r
    assert "cross_thread" in r.kinds(), r


# ---------------------------------- suppressions match any stack (issue 17)

def test_suppression_naming_a_frame_only_in_the_owners_stack(tmp_path):
    # goes-on-late: main's call is the offence; io_thread is only in the
    # owner's stack (where it took the socket).
    supp = tmp_path / "owner.supp"
    supp.write_text("cross_thread:io_thread\n")
    r = run([program("synced"), "goes-on-late"], ["--suppressions=%s" % supp, "--print-suppressions=1"])
    assert r.returncode == 0 and r.findings == [] and "done" in r.stdout, r
    assert re.search(r"^zmq-guard: +1 cross_thread:io_thread \(%s:1\)$" % re.escape(str(supp)), r.stderr, re.M), r
    # Without the rule the same run is reported.
    r = run([program("synced"), "goes-on-late"])
    assert r.returncode == ABORTED and r.kinds() == ["cross_thread"], r


def test_suppression_naming_a_frame_only_where_the_socket_was_made(tmp_path):
    # shared_dealer: neither thread's stack has main; the creation stack does.
    supp = tmp_path / "created.supp"
    supp.write_text("*:main\n")
    r = run([program("shared_dealer")], ["--suppressions=%s" % supp, "--print-suppressions=1"])
    assert r.returncode == 0 and r.findings == [] and "done" in r.stdout, r
    assert re.search(r"^zmq-guard: +1 \*:main \(%s:1\)$" % re.escape(str(supp)), r.stderr, re.M), r


def test_print_suppressions_lists_the_built_in_rules_even_unused():
    r = run([program("synced"), "creation"], ["--print-suppressions=1"])
    assert r.returncode == 0 and r.findings == [], r
    m = re.search(r"^zmq-guard: suppressions used \((\d+) rules, (\d+) built-in\):$", r.stderr, re.M)
    assert m and m.group(1) == m.group(2), r.stderr
    listed = re.findall(r"^zmq-guard: +0 \S+ \(built-in\): .+$", r.stderr, re.M)
    assert len(listed) == int(m.group(2)), r.stderr
    # An empty list says so (czmq's selftests and actors, pyzmq's devices,
    # event loops, shadows and authenticator, ipykernel run without one).
    empty = "zmq-guard: the built-in list is empty"
    assert (empty in r.stderr) == (m.group(2) == "0"), r.stderr
    r = run([program("synced"), "creation"], ["--print-suppressions=1", "--builtin-suppressions=0"])
    assert "suppressions used (0 rules, 0 built-in)" in r.stderr, r
    assert "built-in rules off (builtin_suppressions=0)" in r.stderr and empty not in r.stderr, r


def test_summary_names_the_libraries_frame_not_start_thread():
    # Under strict, zgossip's actor thread signalling on a pipe made by main
    # is reported; its stack holds only czmq's frames and libc's.  The
    # SUMMARY names the innermost czmq function, never start_thread/clone.
    r = run([program("czmq_gossip")], ["--policy=strict"])
    assert r.returncode == ABORTED, r
    summary = [l for l in r.stderr.splitlines() if l.startswith("SUMMARY: ")]
    assert len(summary) == 1, r.stderr
    assert re.search(r'by T\d+ "[\w-]+" in z[a-z_]+; owner T\d+ "[\w-]+" took it in main czmq_gossip\.c:\d+$',
                     summary[0]), summary
    for system in ("start_thread", "clone", "__libc_start"):
        assert system not in summary[0], summary
