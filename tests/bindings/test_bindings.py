"""Bindings that reach libzmq through dlopen + dlsym, run through the real
zmq-guard wrapper: misuse reported, correct programs silent.  Python's
ctypes is in tests/python, a C program doing what every FFI does in
tests/e2e (dlsym_zmq.c)."""
import os

import guardtest
from guardtest import run

HERE = os.path.dirname(os.path.abspath(__file__))
PERL = "/usr/bin/perl"
WARN = ["--mode=warn"]


def perl_script(name):
    return os.path.join(HERE, name)


def test_perl_zmq_ffi_socket_shared_by_ithreads_is_reported():
    # ithreads clone the socket object; the clone holds the same libzmq
    # socket.  Perl frames are not read yet: the report names the
    # interpreter's own functions, from the Perl call into the FFI sub.
    res = run([PERL, perl_script("ffi_pair.pl"), "shared"], WARN)
    assert res.returncode == 66, res
    assert "perl done" in res.stdout, res
    assert [f["kind"] for f in res.findings] == ["cross_thread"], res
    f = res.findings[0]
    assert f["call"] == "zmq_send" and f["socket_type"] == "PAIR", res
    for stack in ("stack", "owner_stack", "created_stack"):
        names = guardtest.functions(f[stack])
        assert "ffi_pl_sub_call" in names and "Perl_pp_entersub" in names, (stack, res)
    assert f["thread"]["serial"] != f["owner"]["serial"], res
    assert "its sockets are not checked" not in res.stderr, res


def test_perl_zmq_ffi_socket_per_thread_is_silent():
    res = run([PERL, perl_script("ffi_pair.pl"), "ok"], WARN)
    assert not res.timed_out and res.guard_active, res
    assert res.returncode == 0, res
    assert res.findings == [], res
    assert "zmq-guard" not in res.stderr, res
    assert "perl done" in res.stdout, res


RUBY = "/usr/bin/ruby"
RZMQ = os.path.join(HERE, "rzmq_pair.rb")


def rb_line(marker):
    """The line of rzmq_pair.rb that holds `marker` (once)."""
    with open(RZMQ) as f:
        found = [i for i, line in enumerate(f, 1) if marker in line]
    assert len(found) == 1, (marker, found)
    return found[0]


def rb_frames(stack):
    return [(f["file"], f["line"], f["method"]) for f in stack or []]


def test_ruby_ffi_rzmq_shared_socket_names_the_ruby_code_in_abort_mode():
    # ffi-rzmq makes every libzmq call with the GVL released (Ruby FFI's
    # blocking calls): the backtraces are read from each thread's own VM
    # stack, without the GVL.
    res = run([RUBY, RZMQ, "shared"], ["--mode=abort"])
    assert res.returncode == -6, res  # SIGABRT at the intruder's send
    assert "ruby done" not in res.stdout, res
    assert [f["kind"] for f in res.findings] == ["cross_thread"], res
    f = res.findings[0]
    assert f["call"] == "zmq_sendmsg" and f["socket_type"] == "PAIR", res
    assert f["thread"]["name"] == "intruder" and f["owner"]["name"] == "sender-main", res
    send = (RZMQ, rb_line("sock.send_string"), "send_job")
    # The offending thread: the program's own method, called from its block
    # (a block is named by its method, as Ruby's profilers name it).
    mine = rb_frames(f["ruby_stack"])
    assert mine[0][0].endswith("ffi-rzmq/socket.rb"), res
    assert send in mine and (RZMQ, rb_line("send_job(tx, 'two')"), "shared") in mine, res
    assert f["ruby_stack"][mine.index(send)]["class"] == "user", res
    # The owner where it took the socket, and where the socket was made.
    assert (RZMQ, rb_line("send_job(tx, 'one')"), "shared") in rb_frames(f["owner_ruby_stack"]), res
    created = rb_frames(f["created_ruby_stack"])
    assert (RZMQ, rb_line("tx = ctx.socket"), "make_pair") in created, res
    assert (RZMQ, rb_line("make_pair(ctx, 'rb')"), "shared") in created, res
    assert created[-1][2] == "<main>", res
    assert f["user_frame"]["function"] == "send_job" and f["user_frame"]["ruby"], res
    assert f["user_frame"]["line"] == send[1] and f["owner_user_frame"]["function"] == "send_job", res
    # The native frames are still there (Ruby FFI's call into libzmq).
    assert "rbffi_CallFunction" in guardtest.functions(f["stack"]), res
    # The text report says the same.
    line = send[1]
    assert "Ruby backtrace of this thread (most recent call first):" in res.stderr, res
    assert "%s:%d:in `send_job'" % (RZMQ, line) in res.stderr, res
    assert "Ruby backtrace where it took the socket" in res.stderr, res
    assert "Ruby backtrace where it was created" in res.stderr, res
    assert "%s:%d:in `make_pair'" % (RZMQ, rb_line("tx = ctx.socket")) in res.stderr, res
    assert "frames in ffi-rzmq (frames=all shows them)" in res.stderr, res
    summary = [l for l in res.stderr.splitlines() if l.startswith("SUMMARY: ")]
    assert len(summary) == 1, res
    assert ('by T3 "intruder" in send_job rzmq_pair.rb:%d; owner T2 "sender-main" took it in send_job '
            'rzmq_pair.rb:%d' % (line, line)) in summary[0], res


def test_ruby_backtrace_of_a_call_made_with_the_gvl_held():
    # A function Ruby FFI attaches without :blocking runs with the GVL held:
    # the backtrace is read the same way, and nothing waits for the GVL.
    res = run([RUBY, RZMQ, "gvl"], ["--mode=warn"])
    assert res.returncode == 66 and "ruby done" in res.stdout, res
    assert [f["kind"] for f in res.findings] == ["cross_thread"], res
    f = res.findings[0]
    assert f["call"] == "zmq_send" and f["thread"]["name"] == "intruder", res
    assert "rb_nogvl" not in guardtest.functions(f["stack"]), res  # the GVL was not released
    assert "rb_nogvl" in guardtest.functions(f["owner_stack"]), res  # ffi-rzmq's send released it
    held = (RZMQ, rb_line("HeldGVL.zmq_send"), "send_holding_gvl")
    assert rb_frames(f["ruby_stack"])[0] == held, res
    assert f["user_frame"]["function"] == "send_holding_gvl" and f["user_frame"]["ruby"], res
    assert "in send_holding_gvl rzmq_pair.rb:%d; owner T2" % held[1] in f["summary"], res


def test_ruby_backtrace_in_a_forked_child():
    # The child's creation and report record and read its Ruby frames (the
    # guard's frame table and its locks start fresh in the child).
    res = run([RUBY, RZMQ, "fork"], ["--mode=warn"])
    assert not res.timed_out and "ruby done" in res.stdout, res
    assert [f["kind"] for f in res.findings] == ["cross_thread"], res
    f = res.findings[0]
    assert f["pid"] != res.pid, res  # the child's
    assert (RZMQ, rb_line("sock.send_string"), "send_job") in rb_frames(f["ruby_stack"]), res
    created = [m for _, _, m in rb_frames(f["created_ruby_stack"])]
    assert created[-4:] == ["shared", "forked", "forked", "<main>"], res


def test_a_suppression_names_a_ruby_method(tmp_path):
    # The rule names the program's own method, found only in the Ruby
    # backtraces (no native frame is called send_job).
    supp = tmp_path / "zmq-guard.supp"
    supp.write_text("cross_thread:send_job\n")
    res = run([RUBY, RZMQ, "shared"], ["--mode=warn", "--suppressions=" + str(supp)])
    assert not res.timed_out and res.guard_active, res
    assert res.returncode == 0 and res.findings == [], res
    assert "zmq-guard" not in res.stderr and "ruby done" in res.stdout, res


def test_ruby_ffi_rzmq_socket_per_thread_and_hand_off_are_silent():
    res = run([RUBY, RZMQ, "ok"], ["--mode=abort"])
    assert not res.timed_out and res.guard_active, res
    assert res.returncode == 0, res
    assert res.findings == [], res
    assert "zmq-guard" not in res.stderr, res
    assert "ruby done" in res.stdout, res


def test_ruby_backtrace_can_be_turned_off():
    # ruby=0: the report of a Ruby program is the native one of before.
    res = run([RUBY, RZMQ, "shared"], ["--mode=warn", "--ruby=0"])
    assert [f["kind"] for f in res.findings] == ["cross_thread"], res
    f = res.findings[0]
    assert f["ruby_stack"] is None and f["owner_ruby_stack"] is None and f["created_ruby_stack"] is None, res
    assert "Ruby backtrace" not in res.stderr, res
