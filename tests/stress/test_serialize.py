# SPDX-License-Identifier: MIT
"""mode=serialize: threads sharing one socket take turns, lose nothing, never
deadlock, and each shared socket is reported once, as information."""
import subprocess

import pytest

import guardtest
from guardtest import PYTHON, functions, program, run

# The scenario a test drives: meson runs each scenario as its own test
# (tests/stress/meson.build, conftest.py); a ser_NAME program, or python
# for ser_stress.py.
scenario = pytest.mark.scenario

SER = ("--mode=serialize",)
SCRIPT = guardtest.SOURCE_ROOT + "/tests/stress/ser_stress.py"


def check_shared_once(r, function):
    """The one shared socket's report; `function` (None: not checked) is in
    the stack of the call reported."""
    assert r.returncode == 0, r
    assert not r.timed_out, r
    assert r.kinds() == ["shared_socket"], r
    f = r.findings[0]
    assert f["severity"] == "INFO"
    assert f["socket_type"] == "DEALER"
    assert f["thread"]["serial"] != f["owner"]["serial"]
    if function is not None:
        assert function in functions(f["stack"]), functions(f["stack"])
    assert "==INFO: zmq-guard: shared_socket" in r.stderr
    assert "ERROR" not in r.stderr and "WARNING" not in r.stderr
    return f


def same_without_the_guard(scenario, kinds=("shared_socket",)):
    """Runs a scenario's program (ser_NAME) plain, then under mode=serialize:
    both must pass, and the guarded run reports `kinds` (its one shared
    socket)."""
    plain = subprocess.run([program("ser_" + scenario)], capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0 and f"ok {scenario}" in plain.stdout, plain
    r = run([program("ser_" + scenario)], SER, timeout=60)
    assert r.returncode == 0 and f"ok {scenario}" in r.stdout, r
    assert r.kinds() == list(kinds), r
    return r


@scenario("echo")
def test_c_echo_4_threads_repeated():
    for _ in range(3):
        r = run([program("ser_echo"), "4", "10000"], SER, timeout=120)
        f = check_shared_once(r, "echo_worker")
        assert "ok 40000 replies" in r.stdout
        assert "echo_worker" in guardtest.functions(f["owner_stack"])
        assert "shared_dealer" in guardtest.functions(f["created_stack"])
        assert f["endpoints"] == ["connect inproc://echo"]


@scenario("echo")
def test_c_echo_8_threads_ipc(tmp_path):
    r = run([program("ser_echo"), "8", "3000", "ipc://%s/echo" % tmp_path], SER, timeout=120)
    check_shared_once(r, "echo_worker")
    assert "ok 24000 replies" in r.stdout


@scenario("multipart")
def test_c_multipart_whole():
    for _ in range(2):
        r = run([program("ser_multipart"), "4", "5000"], SER, timeout=120)
        check_shared_once(r, "multipart_worker")
        assert "ok 20000 replies" in r.stdout


@scenario("recv_first")
def test_c_blocked_receiver_gets_reply_sent_later():
    for _ in range(3):
        r = run([program("ser_recv_first")], SER, timeout=60)
        assert r.returncode == 0 and "ok recv_first" in r.stdout, r
        assert r.kinds() == ["shared_socket"]


@scenario("timeouts")
def test_c_timeouts_and_dontwait_as_libzmq():
    r = run([program("ser_timeouts")], SER, timeout=60)
    assert r.returncode == 0 and "ok timeouts" in r.stdout, r
    assert r.kinds() == ["shared_socket"]  # the PULL shared by two threads
    assert r.findings[0]["socket_type"] == "PULL"


@scenario("eterm")
def test_c_eterm_wakes_waiters():
    r = run([program("ser_eterm")], SER, timeout=60)
    assert r.returncode == 0 and "ok eterm" in r.stdout, r
    assert r.kinds() == ["shared_socket"]


@scenario("unshared")
def test_c_unshared_is_silent():
    r = run([program("ser_unshared"), "20000"], SER, timeout=60)
    assert r.returncode == 0 and "ok unshared 20000" in r.stdout, r
    assert r.guard_active and r.stderr == "" and r.findings == [], r


@scenario("join")
def test_c_second_thread_joins_sole_user_asleep_in_recv():
    # Per round a new socket: its creator runs alone (the sole user's owner
    # path, no lock), blocks in recv, and a second thread's request must
    # wake it; then both use the socket.  Every reply arrives exactly once,
    # and each round's socket is reported once, as information.
    r = run([program("ser_join"), "30", "400"], SER, timeout=120)
    assert r.returncode == 0 and "ok join 30 rounds" in r.stdout, r
    assert not r.timed_out, r
    assert r.kinds() == ["shared_socket"] * 30, r.kinds()
    assert all(f["severity"] == "INFO" for f in r.findings)
    assert "ERROR" not in r.stderr and "WARNING" not in r.stderr


@scenario("waits")
def test_c_waits_as_libzmq_alone_and_shared():
    # RCVTIMEO below and above the guard's 20 ms wake-up period, a wait of
    # many periods that ends with its message, the option read back, and a
    # signal interrupting a wait: first on a socket one thread uses alone
    # (its calls go straight into libzmq), then shared.  The same program
    # passes without the guard.
    same_without_the_guard("waits")


@scenario("deadline")
def test_c_sole_users_timeout_counts_from_the_start_after_a_second_thread_comes():
    # A wait begun alone (straight into libzmq) and finished under the turns
    # (a second thread came 300 ms in) still ends RCVTIMEO after it began,
    # as the same program does without the guard.  The second thread only
    # asks the socket's type: serialized (the bias revoked), but no use, so
    # the socket is not shared and nothing is reported.
    r = same_without_the_guard("deadline", kinds=())
    assert r.guard_active, r


@scenario("questions")
def test_c_questions_and_linger_by_another_thread_share_nothing():
    # A question (a getsockopt other than ZMQ_EVENTS) and ZMQ_LINGER set by
    # another thread than the socket's sole user are serialized (each
    # revokes the user's bias and runs under the turn) but are no use: the
    # socket is not shared, nothing is reported, the user gets its bias back,
    # loses nothing, and its timeout is answered and kept.
    for _ in range(2):
        r = run([program("ser_questions"), "1", "2000"], SER, timeout=60)
        assert not r.timed_out, r
        assert r.returncode == 0 and "ok questions 2000" in r.stdout, r
        assert r.guard_active and r.stderr == "" and r.findings == [], r


@scenario("python")
def test_python_ctrl_c_reaches_a_thread_waiting_in_recv():
    plain = subprocess.run([PYTHON, SCRIPT, "sigint"], capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0 and "ok sigint" in plain.stdout, plain
    r = run([PYTHON, SCRIPT, "sigint"], SER, timeout=60)
    assert not r.timed_out, r
    assert r.returncode == 0, r
    assert "interrupted alone" in r.stdout and "interrupted shared" in r.stdout, r
    assert r.kinds() == ["shared_socket"], r


def back_pressure(side):
    # High-water marks of 1 and 2: senders sharing a PUSH keep waiting for
    # the receiver, receivers sharing a PULL keep waiting for the sender.
    # Every message arrives exactly once, on both CPUs and squeezed onto one.
    for hwm in ("1", "2"):
        for argv in ([program("ser_" + side), "4", "10000"], [program("ser_" + side), "8", "3000"]):
            for cpus in (None, "0"):
                prog = argv
                if cpus:
                    prog = ["taskset", "-c", cpus] + prog
                r = run(prog, SER, env={"ZG_STRESS_HWM": hwm}, timeout=120)
                assert not r.timed_out, (hwm, argv, cpus, r)
                assert r.returncode == 0 and "ok %d messages" % (int(argv[1]) * int(argv[2])) in r.stdout, r
                assert r.kinds() == ["shared_socket"], r


@scenario("push")
def test_c_back_pressure_fan_in():
    back_pressure("push")


@scenario("pull")
def test_c_back_pressure_fan_out():
    back_pressure("pull")


def check_python(r, line_fn):
    f = check_shared_once(r, None)
    py = [(fr["function"], fr["file"]) for fr in f["python_stack"]]
    assert any(fn == line_fn and file.endswith("ser_stress.py") for fn, file in py), py
    owner_py = [fr["function"] for fr in f["owner_python_stack"]]
    assert line_fn in owner_py, owner_py
    assert f["thread"]["python_name"].startswith(("worker-", "sender", "receiver")), f["thread"]
    assert "Python traceback of this thread" in r.stderr
    return f


@scenario("python")
def test_python_echo_4_threads_repeated():
    for _ in range(2):
        r = run([PYTHON, SCRIPT, "echo", "4", "5000"], SER, timeout=180)
        check_python(r, "worker")
        assert "ok 20000 replies" in r.stdout


@scenario("python")
def test_python_multipart_whole():
    r = run([PYTHON, SCRIPT, "multipart", "4", "3000"], SER, timeout=180)
    check_python(r, "worker")
    assert "ok 12000 replies" in r.stdout


@scenario("python")
def test_python_blocked_receiver_gets_reply_sent_later():
    r = run([PYTHON, SCRIPT, "recv_first"], SER, timeout=60)
    check_python(r, "<lambda>")
    assert "ok recv_first" in r.stdout


def check_poll(r):
    # The socket is shared first by a thread asleep in zmq_poll on it and
    # one that sends (then the poll_workers use it, already reported).
    f = check_shared_once(r, "late_sender")
    assert "blocked_poller" in functions(f["owner_stack"]), functions(f["owner_stack"])


@scenario("poll")
def test_c_poll_shared_socket():
    for _ in range(2):
        r = run([program("ser_poll"), "4", "5000"], SER, timeout=120)
        check_poll(r)
        assert "ok poll 20000 replies" in r.stdout


@scenario("poll_wide")
def test_c_poll_wide_set_stays_serialized():
    # 72 items per poll (the shared socket, a pipe, 70 idle sockets of the
    # polling thread): more than serialize mode keeps on the stack.
    r = run([program("ser_poll_wide"), "4", "3000"], SER, timeout=120)
    check_poll(r)
    assert "ok poll 12000 replies" in r.stdout


@scenario("proxy")
def test_c_proxy_serialized_while_another_thread_uses_its_backend():
    r = run([program("ser_proxy"), "4", "2000"], SER, timeout=120)
    assert r.returncode == 0 and "ok proxy 8000 requests" in r.stdout, r
    assert r.kinds() == ["shared_socket"], r
    f = r.findings[0]
    assert f["socket_type"] == "DEALER" and f["severity"] == "INFO"
    names = set(functions(f["stack"])) | set(functions(f["owner_stack"]))
    assert {"proxy_thread", "backend_user"} <= names, names


@scenario("proxy_full")
def test_c_proxy_obeys_its_control_socket_while_the_backend_cannot_accept():
    # A PUSH backend nobody reads, messages waiting on the frontend, and
    # PAUSE, RESUME, STATISTICS, TERMINATE each sent while the proxy's thread
    # sleeps: libzmq 4.3.4 serves the control socket (it reads the frontend
    # only while the backend can accept); the guard's proxy used to block
    # in the backend's send and never came back for TERMINATE.  No socket is
    # shared: nothing to report.
    for _ in range(3):
        same_without_the_guard("proxy_full", kinds=())


@scenario("msg_api")
def test_c_deprecated_msg_api_nested_calls():
    # libzmq's zmq_recvmsg calls the exported zmq_msg_recv: one turn, not two.
    r = run([program("ser_msg_api"), "4", "5000"], SER, timeout=120)
    f = check_shared_once(r, "msg_api_worker")
    assert "ok 20000 replies" in r.stdout
    assert f["call"] in ("zmq_sendmsg", "zmq_recvmsg")


@scenario("sendiov")
def test_c_sendiov_with_sndmore_leaves_no_message_open():
    # zmq_sendiov(ZMQ_SNDMORE) sends its vector as one whole message (libzmq
    # clears the flag on the last part): another thread's send right after
    # it must not wait for the rest of a message that never comes, whether
    # the sender was the socket's only user or the socket was shared.
    same_without_the_guard("sendiov")


@scenario("reserved")
def test_c_wait_behind_another_threads_message_sleeps_and_sees_eterm():
    # A send waiting for another thread's multipart message to end sleeps
    # while the socket's ZMQ_FD is readable (it reads ZMQ_EVENTS before each
    # wait, as after a failed attempt), goes once the message is whole, and
    # fails with ETERM when the context ends, as a send blocked in libzmq
    # does; zmq_ctx_term then returns.  Guard only: without it the second
    # send slips into the unfinished message.
    r = run([program("ser_reserved")], SER, timeout=60)
    assert not r.timed_out, r
    assert r.returncode == 0 and "ok reserved" in r.stdout, r
    assert r.kinds() == ["shared_socket"], r


@scenario("wake_tail")
def test_c_timeouts_just_above_the_wake_up_period_end_on_time():
    # The sole user's wait runs inside libzmq in wake-up periods of 20 ms;
    # the last one gets only what is left of the user's timeout, so that
    # RCVTIMEO/SNDTIMEO of 21, 30 and 45 ms end then, not at 40, 40 and 60.
    # Alone, then shared (both sockets); the same program passes without
    # the guard.
    plain = subprocess.run([program("ser_wake_tail")], capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0 and "ok wake_tail" in plain.stdout, plain
    r = run([program("ser_wake_tail")], SER, timeout=60)
    assert r.returncode == 0 and "ok wake_tail" in r.stdout, r
    assert sorted(f["socket_type"] for f in r.findings) == ["PULL", "PUSH"], r
    assert r.kinds() == ["shared_socket"] * 2, r


@scenario("timeout_options")
def test_c_timeout_options_refused_as_libzmq_refuses_them():
    # While a thread holds the socket alone the guard keeps its ZMQ_RCVTIMEO
    # and ZMQ_SNDTIMEO (libzmq has the wake-up ones): a value below -1 or of
    # the wrong length is refused with EINVAL, a read with the wrong length
    # too, both with ETERM after the context ended, as libzmq does; a
    # refused value does not become the user's, and once the socket is
    # shared libzmq has the user's timeout back (a receive waits for good,
    # not 20 ms).  The same program passes without the guard.
    same_without_the_guard("timeout_options")


# Under ASan: the cancellation's jump back into the thread's cleanup skips
# the guard's frames, instrumented, whose red zones stay poisoned; ASan's
# own no-return handler (__asan_handle_no_return) then reports its
# sigaltstack call landing in them as a stack-buffer-overflow.  Without the
# guard only libzmq's frames, not instrumented, are skipped, and ASan says
# nothing.  An ASan limit with jumps over instrumented frames.
@scenario("cancel")
@guardtest.plain_only("ASan and a cancellation's jump over instrumented frames")
def test_c_cancelled_threads_leave_the_socket_usable():
    # pthread_cancel of threads waiting in recv and in zmq_poll on a shared
    # socket, and of one inside libzmq with the turn held (its cleanup
    # handler sends on the same socket): the waiters' records leave the
    # socket's lists (the next thread reuses the stack they were on), the
    # turn goes to the cleanup handler and then to the others, who keep
    # receiving and sending.  Last, a socket's only user cancelled in a
    # blocking receive (inside libzmq, without the turn) sends from its
    # cleanup handler while a second thread waits to take the socket from
    # it: the stale busy mark must not keep them waiting for each other.
    # The same program passes without the guard; the second socket is
    # reported too.
    for _ in range(3):
        plain = subprocess.run([program("ser_cancel")], capture_output=True, text=True, timeout=60)
        assert plain.returncode == 0 and "ok cancel" in plain.stdout, plain
        r = run([program("ser_cancel")], SER, timeout=60)
        assert not r.timed_out, r
        assert r.returncode == 0 and "ok cancel" in r.stdout, r
        assert r.kinds() == ["shared_socket"] * 2, r


@scenario("poll_cancel")
def test_c_pollers_cancelled_mid_round_leave_no_waiter_behind():
    # 300 pollers of 16 shared sockets cancelled at random moments, each
    # followed by a thread that reuses its stack: the sockets keep working
    # (a record left on a list made the next wake spin for good, or crash).
    r = run([program("ser_poll_cancel"), "300"], SER, timeout=120)
    assert not r.timed_out, r
    assert r.returncode == 0 and "ok poll_cancel" in r.stdout, r
    assert set(r.kinds()) == {"shared_socket"}, r


@scenario("proxy_capture")
def test_c_proxy_with_a_thread_safe_capture_socket_stays_serialized():
    # zmq_proxy(PULL, PUSH, SCATTER) while another thread sends on the PUSH
    # backend too.  The capture socket is only sent to, and a thread-safe
    # one needs no turn: the guard's proxy takes it, instead of handing the
    # whole proxy to libzmq, which used the shared backend behind the turns
    # (malloc corruption, crashes).  Every message arrives once, every
    # forwarded one is captured.  Guard only: without it the backend's two
    # threads race.
    for _ in range(2):
        r = run([program("ser_proxy_capture"), "20000"], SER, timeout=120)
        assert not r.timed_out, r
        assert r.returncode == 0 and "ok proxy_capture 20000" in r.stdout, r
        assert r.kinds() == ["shared_socket"], r
        assert r.findings[0]["socket_type"] == "PUSH", r


@scenario("sendiov_hwm")
def test_c_sendiov_parts_wait_alone_and_are_sent_once():
    # zmq_sendiov without ZMQ_SNDMORE sends each part as a message of its
    # own.  At a high-water mark of 1 a part in the middle has to wait; the
    # guard must not send the vector again from its first part (it sent A1
    # over and over, and the call never ended).  Alone and shared; the same
    # program passes without the guard.
    same_without_the_guard("sendiov_hwm")


@scenario("first_multipart")
def test_c_a_message_begun_as_the_bias_was_given_ends_on_the_sole_users_path():
    # A thread's first call on a socket (under the turn: it gets the bias
    # there) is a message's first part, and its last part goes on the sole
    # user's own path.  The message is over: when a second thread comes, its
    # send (its receive) goes at once instead of waiting for a last part the
    # first thread has already sent (received).  The PUSH sends A+B, then C;
    # the PULL receives them the same way.  The same program passes without
    # the guard.
    plain = subprocess.run([program("ser_first_multipart")], capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0 and "ok first_multipart" in plain.stdout, plain
    r = run([program("ser_first_multipart")], SER, timeout=60)
    assert not r.timed_out, r
    assert r.returncode == 0 and "ok first_multipart" in r.stdout, r
    assert sorted(f["socket_type"] for f in r.findings) == ["PULL", "PUSH"], r
