# SPDX-License-Identifier: MIT
"""Each binding Debian ships, run through the real zmq-guard wrapper: a
program that shares a socket between threads is reported (in abort mode,
naming the program's own function), a correct one is silent.  Perl's
ZMQ::FFI and Python's cffi reach libzmq through dlopen + dlsym; Rust's zmq
crate and Java's jzmq link it.  Python's ctypes and pyzmq are in
tests/python, C, C++ and czmq in tests/e2e.  PHP cannot share a socket
between threads (below); its misuse is the forked child's.
The packages come from scripts/deps.sh."""
import filecmp
import os
import re
import shutil
import signal
import subprocess

import pytest

import guardtest
from guardtest import run

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(guardtest.BUILD_ROOT, "tests", "bindings")
PERL = "/usr/bin/perl"
PHP = "/usr/bin/php"
JZMQ_JAR = "/usr/share/java/zmq.jar"
WARN = ["--mode=warn"]
ABORT = ["--mode=abort"]
ABORTED = -signal.SIGABRT  # the wrapper dies the way its program did


line_of = guardtest.line_of


def assert_silent(res, done):
    assert not res.timed_out and res.guard_active, res
    assert res.returncode == 0, res
    assert res.findings == [], res
    assert "zmq-guard" not in res.stderr, res
    assert done in res.stdout, res


def aborted_once(res):
    """The one cross_thread finding of a run that abort mode ended."""
    assert not res.timed_out, res
    assert res.returncode == ABORTED, res
    assert [f["kind"] for f in res.findings] == ["cross_thread"], res
    assert "cross_thread" in summary(res), res
    return res.findings[0]


def summary(res):
    """The report's SUMMARY line."""
    lines = [l for l in res.stderr.splitlines() if l.startswith("SUMMARY: zmq-guard: ")]
    assert len(lines) == 1, res
    return lines[0]


def perl_script(name):
    return os.path.join(HERE, name)


def perl_frames(frames, path):
    """(function, line) of a perl_stack's frames in the program's file."""
    return [(f["method"], f["line"]) for f in frames or [] if f["file"] == os.path.basename(path)]


def test_perl_zmq_ffi_socket_shared_by_ithreads_aborts_naming_the_program():
    # ithreads clone the socket object; the clone holds the same libzmq
    # socket.  Run from the script's directory: Perl names the file as it
    # was given.
    path = perl_script("ffi_pair.pl")
    res = run([PERL, "ffi_pair.pl", "shared"], ABORT, cwd=HERE)
    f = aborted_once(res)
    assert f["call"] == "zmq_send" and f["socket_type"] == "PAIR", res
    send, thread = line_of(path, "send"), line_of(path, "thread")
    # The thread's own sub where it sends, in the ithread's interpreter.
    assert perl_frames(f["perl_stack"], path) == [("main::send_job", send), ("main::__ANON__", thread),
                                                  ("(eval)", thread), ("(main)", thread)], res
    assert f["perl_stack"][0]["method"].startswith("ZMQ::FFI::") and f["perl_stack"][0]["class"] == "library", res
    # ZMQ::FFI's constructor asks the new socket for an option: the main
    # thread takes it where it creates it.
    assert perl_frames(f["owner_perl_stack"], path) == [("(main)", line_of(path, "create"))], res
    assert perl_frames(f["created_perl_stack"], path) == [("(main)", line_of(path, "create"))], res
    assert f["python_stack"] is None and f["ruby_stack"] is None, res
    assert f["user_frame"]["function"] == "main::send_job" and f["user_frame"]["line"] == send, res
    assert f["user_frame"]["language"] == "perl", res
    assert "in main::send_job ffi_pair.pl:%d;" % send in summary(res), res
    assert "Perl backtrace of this thread (most recent call first):\n" in res.stderr, res
    assert "      main::send_job at ffi_pair.pl line %d\n" % send in res.stderr, res
    assert "      ... 1 frame in ZMQ::FFI (frames=all shows them)\n" in res.stderr, res
    # The native frames stay: the FFI call, the interpreter's.
    for stack in ("stack", "owner_stack"):
        names = guardtest.functions(f[stack])
        assert "ffi_pl_sub_call" in names and "Perl_pp_entersub" in names, (stack, res)
    assert f["thread"]["serial"] != f["owner"]["serial"], res
    assert "its sockets are not checked" not in res.stderr, res
    assert "perl done" not in res.stdout, res


def test_perl_frames_off_leaves_native_frames():
    res = run([PERL, perl_script("ffi_pair.pl"), "shared"], ABORT + ["--perl=0"])
    f = aborted_once(res)
    assert f["perl_stack"] is None and f["owner_perl_stack"] is None and f["created_perl_stack"] is None, res
    assert "Perl backtrace" not in res.stderr, res
    assert "ffi_pl_sub_call" in guardtest.functions(f["stack"]), res


def test_perl_sub_suppresses_its_finding(tmp_path):
    rules = tmp_path / "perl.supp"
    rules.write_text("cross_thread:main::send_job\n")
    res = run([PERL, perl_script("ffi_pair.pl"), "shared"], ABORT + ["--suppressions=%s" % rules])
    assert res.returncode == 0 and res.findings == [], res
    assert "perl done" in res.stdout and any("1 suppressed" in l for l in res.summary), res


def test_perl_zmq_ffi_socket_per_thread_is_silent():
    res = run([PERL, perl_script("ffi_pair.pl"), "ok"], WARN)
    assert not res.timed_out and res.guard_active, res
    assert res.returncode == 0, res
    assert res.findings == [], res
    assert "zmq-guard" not in res.stderr, res
    assert "perl done" in res.stdout, res


def perl_frames_by_place(out):
    """perl_frames.pl's output: for each place, its frames as (file's
    basename, line, function), most recent call first."""
    places, cur = {}, None
    for line in out.splitlines():
        if line.startswith("== "):
            cur = places.setdefault(line[3:], [])
            if cur:  # a place seen twice (the two closures): kept apart
                cur = places.setdefault(line[3:] + "2", [])
        elif cur is not None and line:
            file, num, func = line.split("\t")
            cur.append((os.path.basename(file), int(num), func))
    return places


def run_perl_probe(path, perl_flags=(), env=None):
    """Runs a Perl script that calls perl_probe.so (the reader alone:
    report/perl.cpp) through FFI::Platypus, as ZMQ::FFI calls libzmq; the
    probe preloaded, as the guard is (its thread-local storage is
    initial-exec)."""
    probe = os.path.join(OUT, "perl_probe.so")
    env = dict(os.environ, LD_PRELOAD=guardtest.preload_value(probe), **(env or {}))
    env.pop("ZMQ_GUARD_OPTIONS", None)
    proc = subprocess.run([PERL, *perl_flags, path, probe], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc
    assert proc.stdout.endswith("== done\n"), proc.stdout
    return proc


def test_perl_reader_names_subs_files_and_lines_in_every_thread():
    path = perl_script("perl_frames.pl")
    proc = run_perl_probe(path)
    places = perl_frames_by_place(proc.stdout)
    name = "perl_frames.pl"
    inner, outer = (name, line_of(path, "inner"), "main::inner"), (name, line_of(path, "outer"), "main::outer")
    assert places["main"] == [inner, outer, (name, line_of(path, "main"), "(main)")], proc.stdout
    # Perl runs a BEGIN block as a sub, inside an eval, at compile time.
    begin, end = line_of(path, "begin"), line_of(path, "begin-end")
    assert places["begin"] == [(name, begin, "main::BEGIN"), (name, end, "(eval)"), (name, end, "(main)")], proc.stdout
    # A string eval is a frame of its own, in a file Perl names "(eval N)".
    ev = places["eval"]
    assert ev[:2] == [inner, outer] and ev[-1] == (name, line_of(path, "eval"), "(main)"), proc.stdout
    assert re.fullmatch(r"\(eval \d+\)", ev[2][0]) and ev[2][1:] == (1, "(eval)"), proc.stdout
    # An ithread's own interpreter: its sub, then the eval threads.xs runs
    # it in, entered where threads->create was called.
    where = line_of(path, "thread")
    assert places["thread"] == [inner, outer, (name, where, "main::__ANON__"), (name, where, "(eval)"),
                                (name, where, "(main)")], proc.stdout
    # Two closures (two CVs of one __ANON__ glob) named alike.
    for key in ("closure", "closure2"):
        assert places[key] == [inner, (name, line_of(path, "closure"), "main::__ANON__"),
                               (name, line_of(path, "closure-call"), "(main)")], proc.stdout


def test_perl_reader_under_the_debugger_names_the_subs_caller_names():
    # perl -d calls every sub through DB::sub, whose frames caller() hides:
    # the reader's one walk over the contexts then disagrees with
    # Perl_caller_cx, and it takes Perl_caller_cx's levels instead.
    path = perl_script("perl_frames.pl")
    proc = run_perl_probe(path, ["-d"], {"PERLDB_OPTS": "NonStop=1"})
    places = perl_frames_by_place(proc.stdout)
    name = "perl_frames.pl"
    assert places["main"] == [(name, line_of(path, "inner"), "main::inner"), (name, line_of(path, "outer"), "main::outer"),
                              (name, line_of(path, "main"), "(main)")], proc.stdout
    # The debugger names a closure by where it is written.
    closure = line_of(path, "closure")
    assert places["closure"][1] == (name, closure, "main::__ANON__[%s:%d]" % (path, closure)), proc.stdout
    assert "DB::sub" not in proc.stdout, proc.stdout


def test_perl_reader_never_runs_an_overloaded_record_separator():
    # The first read is checked against Perl_mess, which stringifies $/
    # once a file was read: with an object in $/ the check waits (no
    # frames), and is made at the next record, $/ a string again.
    path = perl_script("perl_rs.pl")
    proc = run_perl_probe(path)
    assert "overload ran" not in proc.stdout, proc.stdout
    places = perl_frames_by_place(proc.stdout)
    assert places["object"] == [], proc.stdout
    assert places["string"] == [("perl_rs.pl", line_of(path, "frames"), "main::frames"),
                                ("perl_rs.pl", line_of(path, "string"), "(main)")], proc.stdout


def test_perl_layout_table_matches_the_running_perls_options():
    # perl_layout (meson test) holds the offsets against the headers; the
    # binary options the guard insists on are the running perl's.
    with open(os.path.join(guardtest.SOURCE_ROOT, "src", "report", "perl_layout.h")) as f:
        text = f.read()
    block = text[text.index("#define ZG_PL_BINCOMPAT"):]
    ours = "".join(re.findall(r'"([^"]*)"', block.split("\n\n")[0]))
    perls = subprocess.run([PERL, "-MConfig", "-e", "print join(' ', '', Config::bincompat_options())"],
                           capture_output=True, text=True, check=True).stdout
    assert ours == perls, (ours, perls)


# --- Python cffi, ABI mode (dlopen + dlsym) -----------------------------------

def py_frames(frames, path):
    return [(f["function"], f["line"]) for f in frames or [] if f["file"] == path]


def test_cffi_shared_socket_aborts_naming_the_program():
    path = os.path.join(HERE, "cffi_pair.py")
    res = run([guardtest.PYTHON, path, "shared"], ABORT)
    f = aborted_once(res)
    assert f["call"] == "zmq_send" and f["socket_type"] == "PAIR", res
    assert ("send_job", line_of(path, "send")) in py_frames(f["python_stack"], path), res
    assert ("main", line_of(path, "main-send")) in py_frames(f["owner_python_stack"], path), res
    assert ("main", line_of(path, "create")) in py_frames(f["created_python_stack"], path), res
    assert f["thread"]["python_name"] == "worker" and f["owner"]["python_name"] == "MainThread", res
    assert f["user_frame"]["function"] == "send_job", res
    assert "in send_job cffi_pair.py:%d" % line_of(path, "send") in summary(res), res
    assert "cffi done" not in res.stdout, res


def test_cffi_socket_handed_to_a_new_thread_is_silent():
    assert_silent(run([guardtest.PYTHON, os.path.join(HERE, "cffi_pair.py"), "ok"]), "cffi done")


# --- Rust's zmq crate (linked) ------------------------------------------------

def copy_if_changed(src, dst):
    """Copies src over dst unless they are equal, keeping src's time, so
    that cargo sees a change only when there is one."""
    if os.path.exists(dst) and filecmp.cmp(src, dst, shallow=False):
        return
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copy2(src, dst)


@pytest.fixture(scope="session")
def rust_pair():
    """tests/bindings/rust built with Debian's cargo and rustc, offline,
    from Debian's crate registry (librust-zmq-dev), in the build directory:
    the first run compiles the zmq crate (a few seconds), later runs find
    it built.  A debug build (debuginfo): the report names functions."""
    src = os.path.join(OUT, "rust-src")
    for rel in ("Cargo.toml", os.path.join("src", "main.rs")):
        copy_if_changed(os.path.join(HERE, "rust", rel), os.path.join(src, rel))
    home = os.path.join(OUT, "cargo-home")
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, "config.toml"), "w") as f:
        f.write('[source.crates-io]\nreplace-with = "debian"\n'
                '[source.debian]\ndirectory = "/usr/share/cargo/registry"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARGO", "RUSTUP", "RUSTC"))}
    # Debian's cargo and rustc, whatever else is first on PATH.
    env.update(CARGO_HOME=home, CARGO_TARGET_DIR=os.path.join(OUT, "rust-target"), RUSTC="/usr/bin/rustc")
    subprocess.run(["/usr/bin/cargo", "build", "--offline", "--quiet"], cwd=src, env=env, check=True, timeout=600)
    return os.path.join(OUT, "rust-target", "debug", "zg_rust_pair")


def test_rust_shared_socket_aborts_naming_the_program(rust_pair):
    main_rs = os.path.join(HERE, "rust", "src", "main.rs")
    res = run([rust_pair, "shared"], ABORT)
    f = aborted_once(res)
    assert f["call"] == "zmq_msg_send" and f["socket_type"] == "PAIR", res
    names = guardtest.functions(f["stack"])
    # Rust's symbols demangled as rustc-demangle prints them, no hash.
    assert names[:3] == ["<T as zmq::Sendable>::send", "zmq::Socket::send", "zg_rust_pair::send_job"], res
    assert "zg_rust_pair::send_job" in guardtest.functions(f["owner_stack"]), res
    assert "zg_rust_pair::main" in guardtest.functions(f["created_stack"]), res
    # The program's own function, not the crate's: SUMMARY and user_frame.
    u = f["user_frame"]
    assert u["function"] == "zg_rust_pair::send_job" and u["line"] == line_of(main_rs, "send"), res
    assert u["file"].endswith("/src/main.rs"), res
    assert "in zg_rust_pair::send_job main.rs:%d" % u["line"] in summary(res), res
    assert f["thread"]["name"] == "rust-worker" and f["owner"]["tid"] == res.pid, res
    assert "rust done" not in res.stdout, res


def test_rust_socket_moved_to_a_new_thread_is_silent(rust_pair):
    assert_silent(run([rust_pair, "ok"]), "rust done")


# --- Java's jzmq (linked by its JNI library) ----------------------------------

@pytest.fixture(scope="session")
def java_classes():
    """JzmqPair.java compiled against Debian's jzmq into the build
    directory, again only when the source is newer."""
    out = os.path.join(OUT, "java")
    src = os.path.join(HERE, "JzmqPair.java")
    cls = os.path.join(out, "JzmqPair.class")
    if not os.path.exists(cls) or os.path.getmtime(cls) < os.path.getmtime(src):
        os.makedirs(out, exist_ok=True)
        subprocess.run(["javac", "-cp", JZMQ_JAR, "-d", out, src], check=True, timeout=300)
    return out


def java(classes, mode):
    return ["java", "-Xshare:auto", "-cp", JZMQ_JAR + ":" + classes, "JzmqPair", mode]


def java_frames(frames):
    """(method, file, line) of a Java stack's frames."""
    return [(f["method"], f["file"], f["line"]) for f in frames or []]


def test_java_shared_socket_aborts_naming_the_program(java_classes):
    # Each thread's Java frames come from JVMTI: the program's own method
    # and line, jzmq's beneath it.  The native stack still ends at jzmq's
    # JNI function (the JVM's own frames are JIT or interpreter code, in no
    # object).  Java threads carry their Java names as OS names.
    src = os.path.join(HERE, "JzmqPair.java")
    res = run(java(java_classes, "shared"), ABORT, timeout=120)
    f = aborted_once(res)
    assert f["call"] == "zmq_sendmsg" and f["socket_type"] == "PAIR", res
    send = ("JzmqPair.sendJob", "JzmqPair.java", line_of(src, "send"))
    here = java_frames(f["java_stack"])
    assert here[0] == ("org.zeromq.ZMQ$Socket.send", "Native Method", -2), res
    assert here[2] == send, res
    # The worker's lambda, as javac numbers it (lambda$main$N).
    assert here[3][0].startswith("JzmqPair.lambda$main$"), res
    assert here[3][1:] == ("JzmqPair.java", line_of(src, "worker-send")), res
    assert here[-1][0] == "java.lang.Thread.run", res
    assert [f["class"] for f in f["java_stack"]][:3] == ["library", "library", "user"], res
    assert java_frames(f["owner_java_stack"])[2:] == [send, ("JzmqPair.main", "JzmqPair.java", line_of(src, "main-send"))], res
    created = java_frames(f["created_java_stack"])
    assert created[0] == ("org.zeromq.ZMQ$Socket.construct", "Native Method", -2), res
    assert created[-1] == ("JzmqPair.main", "JzmqPair.java", line_of(src, "create")), res
    # The program's own method, not jzmq's: SUMMARY and user_frame.
    u = f["user_frame"]
    assert (u["function"], u["file"], u["line"], u["language"]) == send + ("java",), res
    assert f["owner_user_frame"]["function"] == "JzmqPair.sendJob", res
    assert 'by T2 "jzmq-worker" in JzmqPair.sendJob JzmqPair.java:%d; owner T1 "java" took it in JzmqPair.sendJob' % (
        send[2]) in summary(res), res
    # As Java prints them; jzmq's and the runtime's folded.
    assert "    Java stack trace of this thread (most recent call first):\n" \
           "      ... 2 frames in org.zeromq (frames=all shows them)\n" \
           "      at JzmqPair.sendJob(JzmqPair.java:%d)\n" % send[2] in res.stderr, res
    assert guardtest.functions(f["stack"])[0] == "Java_org_zeromq_ZMQ_00024Socket_send", res
    assert guardtest.functions(f["created_stack"])[0] == "Java_org_zeromq_ZMQ_00024Socket_construct", res
    assert f["thread"]["name"] == "jzmq-worker", res
    assert "java done" not in res.stdout, res


def test_java_frames_every_one_and_off(java_classes):
    # frames=all prints every frame as Java does (a native method's, a
    # lambda's hidden class); java=0 reads none: the report names jzmq's
    # JNI function, as before Java frames were read.  Warn mode: the VM
    # exits normally with the guard's JVMTI environment in it.
    res = run(java(java_classes, "shared"), WARN + ["--frames=all"], timeout=120)
    assert res.returncode == 66 and "java done" in res.stdout, res
    assert "      at org.zeromq.ZMQ$Socket.send(Native Method)\n" in res.stderr, res
    assert re.search(r"\n      at JzmqPair\$\$Lambda\S*\.run\(Unknown Source\)\n", res.stderr), res
    res = run(java(java_classes, "shared"), ABORT + ["--java=0"], timeout=120)
    f = aborted_once(res)
    assert f["java_stack"] is None and f["owner_java_stack"] is None and f["created_java_stack"] is None, res
    assert f["user_frame"]["function"] == "Java_org_zeromq_ZMQ_00024Socket_send", res
    assert "Java stack trace" not in res.stderr, res


def test_java_suppression_names_a_java_method(java_classes, tmp_path):
    # A rule matches a Java frame's Class.method with a glob, as it does a
    # Python or native function.
    rules = tmp_path / "rules.txt"
    rules.write_text("cross_thread:JzmqPair.send*\n")
    res = run(java(java_classes, "shared"), ABORT + ["--suppressions=%s" % rules], timeout=120)
    assert res.returncode == 0 and "java done" in res.stdout, res
    assert res.findings == [] and "total: 0 findings (0 reports in 0 processes), 1 suppressed" in res.summary, res


def test_java_leak_names_its_creation_after_the_vm_is_gone(java_classes):
    # leaks=1 lists open sockets from the guard's exit handler, after the
    # VM has died (VMDeath stops the Java reader): the creation's frames,
    # recorded while the VM lived, are made text from the guard's table.
    src = os.path.join(HERE, "JzmqPair.java")
    res = run(java(java_classes, "leak"), ["--leaks=1"], timeout=120)
    assert res.returncode == 0 and "java done" in res.stdout, res
    assert [f["kind"] for f in res.findings] == ["leak"], res
    created = java_frames(res.findings[0]["created_java_stack"])
    assert ("JzmqPair.leak", "JzmqPair.java", line_of(src, "leak")) in created, res
    assert "      at JzmqPair.leak(JzmqPair.java:%d)\n" % line_of(src, "leak") in res.stderr, res


def test_java_exit_while_recording_does_not_hang(java_classes):
    # System.exit while a daemon thread creates sockets and hands each to a
    # new thread: the VM's exit stops every thread that enters the VM for
    # good, then runs the guard's exit handler, which takes each open
    # socket's lock (leaks=1).  A Java stack being recorded under that lock
    # must not be caught inside the VM (VMDeath stops the reader first).
    # The race is narrow: five runs a test.
    for _ in range(5):
        res = run(java(java_classes, "exit"), ["--leaks=1"], timeout=60)
        assert not res.timed_out and res.returncode == 0 and "java done" in res.stdout, res
        assert {f["kind"] for f in res.findings} <= {"leak"}, res


def test_java_socket_handed_to_a_new_thread_is_silent(java_classes):
    assert_silent(run(java(java_classes, "ok"), timeout=120), "java done")


# --- PHP's zmq extension (linked, loaded with RTLD_DEEPBIND) ------------------
# Debian's PHP is built without thread safety (php -i: "Thread Safety =>
# disabled") and Debian ships no threading extension for it (no parallel,
# no pthreads): one PHP process runs one thread, so no PHP program can
# share a socket between threads.  What PHP programs do get wrong is
# pcntl_fork() with the parent's sockets.  PHP loads extensions with
# RTLD_DEEPBIND, which binds zmq.so to libzmq past the preloaded guard:
# the guard points zmq.so's entries at its wrappers (deepbind.cpp), and
# without that neither program below would be checked at all.

PHP_PAIR = os.path.join(HERE, "php_pair.php")


def php_frames(stack):
    return [(f["file"], f["line"], f["method"]) for f in stack or []]


def php_at(marker, function):
    return (PHP_PAIR, line_of(PHP_PAIR, marker), function)


def php_child_report(mode, options=ABORT, php_args=()):
    """The one use_after_fork finding of php_pair.php's child."""
    res = run([PHP] + list(php_args) + [PHP_PAIR, mode], options)
    assert not res.timed_out, res
    # The child aborted; the parent saw it and finished.
    assert "child status 0 signaled %d" % signal.SIGABRT in res.stdout and "php done" in res.stdout, res
    assert res.returncode == 66, res
    assert [f["kind"] for f in res.findings] == ["use_after_fork"], res
    f = res.findings[0]
    assert f["call"] == "zmq_sendmsg" and f["socket_type"] == "PUSH", res
    return res, f


def test_php_child_using_the_parents_socket_names_the_php_code():
    # The PHP frames are read from the Zend engine's own frames, the
    # engine's exported functions vouching for the layout (doc/bindings.md).
    res, f = php_child_report("fork")
    send = php_at("send", "send_job")
    # php-zmq's method first, at the line that called it (as PHP's own
    # backtraces place a function written in C), then the program's code.
    assert php_frames(f["php_stack"]) == [
        php_at("send", "ZMQSocket->send"), send, php_at("child-send", "{main}")], res
    assert [x["class"] for x in f["php_stack"]] == ["library", "user", "user"], res
    # Where the parent made the socket: php-zmq names its methods in lower
    # case (ReflectionMethod says "getsocket" too).
    assert php_frames(f["created_php_stack"]) == [
        php_at("create", "ZMQContext->getsocket"), php_at("create", "make_socket"),
        php_at("push-made", "{main}")], res
    # use_after_fork names no owner: nothing where it was taken.
    assert f["owner"] is None and f["owner_php_stack"] is None, res
    assert f["ruby_stack"] is None and f["python_stack"] is None, res
    u = f["user_frame"]
    assert (u["file"], u["line"], u["function"], u["language"]) == send + ("php",), res
    # The native frames are still there: php-zmq's method, the engine's.
    assert "zim_zmqsocket_send" in guardtest.functions(f["stack"]), res
    # The text report says the same.
    assert "    PHP backtrace of this thread (most recent call first):\n" \
           "      ... 1 frame in php-zmq (frames=all shows them)\n" \
           "      send_job() in %s:%d\n" \
           "      {main}() in %s:%d\n" % (PHP_PAIR, send[1], PHP_PAIR, line_of(PHP_PAIR, "child-send")) in res.stderr, res
    assert "    PHP backtrace where it was created (most recent call first):\n" in res.stderr, res
    assert "      make_socket() in %s:%d\n" % (PHP_PAIR, line_of(PHP_PAIR, "create")) in res.stderr, res
    assert summary(res).endswith('by T2 "php" in send_job php_pair.php:%d' % send[1]), res


def test_php_frames_of_methods_closures_and_internal_callers():
    # A closure that array_map (a function written in C) calls, inside a
    # method called on an object: named as PHP's backtraces name them.
    res, f = php_child_report("method")
    assert php_frames(f["php_stack"]) == [
        php_at("send", "ZMQSocket->send"), php_at("send", "send_job"), php_at("closure", "Worker->{closure}"),
        php_at("map", "array_map"), php_at("map", "Worker->run"), php_at("child-run", "{main}")], res
    assert f["user_frame"]["function"] == "send_job", res
    assert "      Worker->run() in %s:%d\n" % (PHP_PAIR, line_of(PHP_PAIR, "map")) in res.stderr, res


def test_a_suppression_names_a_php_function(tmp_path):
    # The rule names the program's own function, found only in the PHP
    # backtrace (no native frame is called send_job): the child goes on.
    supp = tmp_path / "zmq-guard.supp"
    supp.write_text("use_after_fork:send_job\n")
    res = run([PHP, PHP_PAIR, "fork"], ABORT + ["--suppressions=" + str(supp)])
    assert not res.timed_out and res.guard_active, res
    assert res.returncode == 0 and res.findings == [], res
    # libzmq itself then refuses the parent's socket (EINTR): php-zmq throws.
    assert "child status 255 signaled 0" in res.stdout and "php done" in res.stdout, res
    assert "Uncaught ZMQSocketException" in res.stderr and "ERROR: zmq-guard" not in res.stderr, res


@pytest.mark.parametrize("jit", ["off", "function"])
def test_php_frames_with_opcache_and_its_jit(jit):
    # php-fpm runs with opcache on (Debian's default): functions then live
    # in opcache's shared memory, and with the JIT the engine's own code
    # keeps the line of each frame where the interpreter keeps it.
    res, f = php_child_report("method", php_args=[
        "-d", "opcache.enable_cli=1", "-d", "opcache.jit=" + jit, "-d", "opcache.jit_buffer_size=16M"])
    assert php_frames(f["php_stack"]) == [
        php_at("send", "ZMQSocket->send"), php_at("send", "send_job"), php_at("closure", "Worker->{closure}"),
        php_at("map", "array_map"), php_at("map", "Worker->run"), php_at("child-run", "{main}")], res


def test_php_frames_of_sockets_made_in_a_delegated_generator():
    # A generator another one delegates to (yield from) runs below a frame
    # the engine stands in for the delegating one with, without a function:
    # left out (the delegating generator is not named).  The process's
    # first stack, the one the layout is verified on, is such a one.
    res, f = php_child_report("generator")
    assert php_frames(f["created_php_stack"]) == [
        php_at("create", "ZMQContext->getsocket"), php_at("create", "make_socket"), php_at("gen-push", "sockets"),
        php_at("gen-made", "iterator_to_array"), php_at("gen-made", "{main}")], res


def test_php_frames_where_process_vm_readv_is_refused():
    # The layout is verified through reads that cannot fault: where a
    # seccomp filter refuses process_vm_readv (EPERM), through
    # /proc/self/mem.  (Without that, the report fell back to native frames.)
    res = run([os.path.join(OUT, "deny_vm_readv"), PHP, PHP_PAIR, "fork"], ABORT)
    assert [f["kind"] for f in res.findings] == ["use_after_fork"], res
    f = res.findings[0]
    assert php_frames(f["php_stack"]) == [
        php_at("send", "ZMQSocket->send"), php_at("send", "send_job"), php_at("child-send", "{main}")], res


def test_php_backtrace_agrees_with_phps_own():
    # In warn mode the child's send goes on into libzmq, which refuses a
    # socket of the parent's (EINTR): php-zmq throws, and PHP prints its own
    # backtrace of that same call.  PHP's line #i names function i at the
    # place its caller's code is (the guard's frame i + 1), or "[internal
    # function]" when a function written in C called it; its last is
    # {main}.  The guard's frames say the same, one per function.
    res = run([PHP, PHP_PAIR, "method"], WARN)
    assert not res.timed_out and res.returncode == 66, res
    assert [f["kind"] for f in res.findings] == ["use_after_fork"], res
    ours = res.findings[0]["php_stack"]
    assert ours and ours[0]["method"] == "ZMQSocket->send", res
    out = res.stdout + res.stderr
    assert "Uncaught ZMQSocketException" in out, res
    trace = re.findall(r"^#\d+ (.*)$", out.split("Stack trace:", 1)[1], re.M)
    in_c = {"ZMQSocket->send", "array_map"}  # the program's functions written in C
    expected = []
    for frame, caller in zip(ours, ours[1:]):
        where = "[internal function]" if caller["method"] in in_c else "%s(%d)" % (caller["file"], caller["line"])
        expected.append("%s: %s()" % (where, frame["method"]))
    assert trace == expected + ["{main}"], (trace, ours)


def test_php_backtrace_can_be_turned_off():
    # php=0: the report of a PHP program is the native one: php-zmq's
    # method (ZMQSocket::send), then the Zend engine's frames.
    res, f = php_child_report("fork", ABORT + ["--php=0"])
    assert f["php_stack"] is None and f["created_php_stack"] is None, res
    assert "PHP backtrace" not in res.stderr, res
    assert "zim_zmqsocket_send" in guardtest.functions(f["stack"]), res
    assert "zim_zmqcontext_getsocket" in guardtest.functions(f["created_stack"]), res
    assert f["user_frame"]["function"] == "zim_zmqsocket_send", res
    assert "use_after_fork" in summary(res) and "in zim_zmqsocket_send" in summary(res), res


def test_php_single_thread_program_is_silent_and_checked():
    res = run([PHP, PHP_PAIR, "ok"])
    assert_silent(res, "php done")
    assert any("libzmq.so.5" in path for path in res.guarded), res

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
    assert f["thread"]["ruby_name"] == "intruder" and f["owner"]["ruby_name"] == "sender-main", res
    assert f["creator"]["name"] == "ruby" and f["creator"]["ruby_name"] == "", res  # main, unnamed
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
    assert f["thread"]["ruby_name"] == "intruder" and f["owner"]["ruby_name"] == "sender-main", res
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
    assert f["thread"]["ruby_name"] == "intruder" and f["owner"]["ruby_name"] == "sender-main", res
    assert (RZMQ, rb_line("sock.send_string"), "send_job") in rb_frames(f["ruby_stack"]), res
    created = [m for _, _, m in rb_frames(f["created_ruby_stack"])]
    assert created[-4:] == ["shared", "forked", "forked", "<main>"], res


def test_ruby_thread_names_are_read_whole_from_the_vm():
    # Thread#name= gives the OS 15 bytes of a name, and nothing for the
    # main thread: the report reads each name whole from the VM (the
    # intruder's own at the report, without the GVL; the owner's and the
    # creator's as they noted them when they took or made the socket).
    res = run([RUBY, RZMQ, "names"], ["--mode=warn"])
    assert res.returncode == 66 and "ruby done" in res.stdout, res
    assert [f["kind"] for f in res.findings] == ["cross_thread"], res
    f = res.findings[0]
    intruder, owner, main = "intruder-ünd-a-long-name", "sender-main-with-a-long-name", "the-main-thread-of-rzmq-pair"
    assert f["thread"]["ruby_name"] == intruder and f["thread"]["name"] == "intruder-ünd-a", res
    assert f["owner"]["ruby_name"] == owner and f["owner"]["name"] == "sender-main-wit", res
    assert f["creator"]["ruby_name"] == main and f["creator"]["name"] == "ruby", res
    assert f["thread"]["python_name"] == "", res
    assert 'thread T3 "%s" (tid %d) calls zmq_sendmsg' % (intruder, f["thread"]["tid"]) in res.stderr, res
    assert 'owner: thread T2 "%s" (tid %d, running)' % (owner, f["owner"]["tid"]) in res.stderr, res
    assert 'socket created by thread T1 "%s" (tid %d, running)' % (main, f["creator"]["tid"]) in res.stderr, res
    assert 'by T3 "%s" in send_job' % intruder in f["summary"] and 'owner T2 "%s" took it' % owner in f["summary"], res


def test_a_ruby_thread_renamed_since_it_noted_its_name_shows_its_os_name():
    # The owner noted its name when it took the socket, then renamed
    # itself: the noted name no longer agrees with its OS name, which the
    # report shows instead of a stale name.
    res = run([RUBY, RZMQ, "rename"], ["--mode=warn"])
    assert res.returncode == 66 and "ruby done" in res.stdout, res
    f = res.findings[0]
    assert f["owner"]["name"] == "owner-after-the" and f["owner"]["ruby_name"] == "", res
    assert 'owner: thread T2 "owner-after-the" (tid' in res.stderr and "owner-before" not in res.stderr, res
    assert f["thread"]["ruby_name"] == "intruder", res


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
    assert f["thread"]["ruby_name"] == "" and f["thread"]["name"] == "intruder", res
    assert "Ruby backtrace" not in res.stderr, res
