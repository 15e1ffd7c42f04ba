# SPDX-License-Identifier: MIT
"""Hostile processes: every file the guard reads or writes is input, every
option string is input, the guard may be preloaded twice, the process may
run set-user-ID.  The programs run with LD_PRELOAD set directly (the
wrapper refuses some of these paths before the library would see them).
Each case must end within its timeout, never crash, and say one short line
per problem (doc/reliability.md)."""
import os
import re
import shutil
import stat
import subprocess
import tempfile

import pytest

import guardtest as gt
from guardtest import program

TIMEOUT = 20  # a hang is the bug these tests catch: far above a normal run's 0.1 s


def preload(argv, options, lib=None, timeout=TIMEOUT, **kw):
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ZMQ_GUARD_OPTIONS")}
    env["LD_PRELOAD"] = gt.preload_value(lib or gt.LIB)
    if options is not None:
        env["ZMQ_GUARD_OPTIONS"] = options
    env["DEBUGINFOD_URLS"] = ""
    # A hang raises TimeoutExpired: the test fails with the command in it.
    return subprocess.run(argv, env=env, capture_output=True, timeout=timeout, **kw)


def text(b):
    return b.decode("utf-8", "replace")


def guard_lines(p):
    return [l for l in text(p.stderr).splitlines() if l.startswith("zmq-guard")]


# ---------------------------------------------------------------- the suppressions file

@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return str(path)


@pytest.fixture
def huge(tmp_path):
    path = tmp_path / "huge.supp"
    with open(path, "wb") as fh:
        fh.truncate(64 << 20)  # sparse: 64 MiB of NUL bytes, no line ending
    return str(path)


NOT_REGULAR = [("/dev/full", "a character device"), ("/dev/zero", "a character device"),
               ("/dev/urandom", "a character device"), ("fifo", "a FIFO"), ("/tmp", "a directory")]


@pytest.mark.parametrize("path,kind", NOT_REGULAR)
def test_suppressions_not_a_regular_file_is_one_line(path, kind, fifo):
    path = fifo if path == "fifo" else path
    # A process that never makes a socket never reads the file, nor says a word.
    quiet = preload(["/bin/sh", "-c", "echo ok"], "suppressions=" + path)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, b"ok\n", b""), quiet
    p = preload([program("main_only")], "suppressions=" + path)
    assert p.returncode == 0 and p.stdout == b"done\n", p
    assert guard_lines(p) == ["zmq-guard: cannot read suppressions file '%s': it is %s, not a regular file; "
                              "running without suppressions" % (path, kind)], p


def test_suppressions_file_over_1_mib_is_one_line(huge):
    p = preload([program("main_only")], "suppressions=" + huge)
    assert p.returncode == 0 and p.stdout == b"done\n", p
    assert guard_lines(p) == ["zmq-guard: cannot read suppressions file '%s': it is larger than 1 MiB; running "
                              "without suppressions" % huge], p


def test_suppressions_from_proc_are_read_to_their_end():
    # /proc files say st_size 0: the read goes by what comes, not by the size.
    p = preload([program("main_only")], "suppressions=/proc/self/maps")
    assert p.returncode == 0 and p.stdout == b"done\n", p
    lines = guard_lines(p)
    assert len(lines) == 11 and re.fullmatch(r"zmq-guard: suppressions /proc/self/maps: \d+ more lines ignored, "
                                             r"not shown", lines[-1]), lines


def test_suppressions_with_nul_bytes_long_lines_and_junk_keep_the_good_rules(tmp_path):
    supp = tmp_path / "junk.supp"
    supp.write_bytes(b"cross_thread:nomatch\x00receiver\n" +
                     b"cross_thread:" + b"A" * 5000 + b"\n" +
                     b"cross_thread:" + b"B" * 300 + b"\n" +
                     b"\x01\x02\x1b[31m:%n%s%s\n" +
                     b"\xff\xfe:x\n" +
                     b"cross_thread:receiver\n")
    p = preload([program("shared_dealer")], "mode=warn:suppressions=" + str(supp))
    assert p.returncode == 0 and b"received 5" in p.stdout, p  # the last line silenced the finding
    lines = guard_lines(p)
    assert len(lines) == 5, lines
    assert ":1: a NUL byte;" in lines[0] and ":2: longer than 511 bytes;" in lines[1], lines
    assert ":3: a pattern longer than 255 bytes;" in lines[2], lines
    assert ":4: expected 'kind:pattern'" in lines[3] and "\x1b" not in text(p.stderr), lines
    assert all(len(l) < 400 for l in lines), lines


def test_many_bad_suppressions_lines_say_at_most_eleven(tmp_path):
    supp = tmp_path / "bad.supp"
    supp.write_text("junk\n" * 5000)
    p = preload([program("main_only")], "suppressions=" + str(supp))
    assert p.returncode == 0, p
    lines = guard_lines(p)
    assert len(lines) == 11 and lines[-1].endswith(": 4990 more lines ignored, not shown"), lines


# ---------------------------------------------------------------- report files

def assert_reported_to_stderr(p, path, verb, outcome):
    assert p.returncode == 66 and b"received 5" in p.stdout, p
    said = [l for l in guard_lines(p) if path in l]
    assert len(said) == 1 and said[0].startswith("zmq-guard: cannot %s " % verb) and said[0].endswith(outcome), said
    assert re.search(r"^SUMMARY: zmq-guard: cross_thread zmq_recv", text(p.stderr), re.M), p


@pytest.mark.parametrize("opt", ["log_path", "json_path"])
@pytest.mark.parametrize("path,verb", [("/dev/full", "write"), ("/tmp", "open"), ("fifo", "open"),
                                       ("/nonexistent/x", "open")])
def test_report_file_that_cannot_take_a_report(opt, path, verb, fifo):
    # /dev/full: the open works and every write fails (ENOSPC); a directory
    # cannot be opened for writing; a FIFO without reader would block the
    # open for ever.
    path = fifo if path == "fifo" else path
    p = preload([program("shared_dealer")], "mode=warn:%s=%s" % (opt, path))
    assert_reported_to_stderr(p, path, verb, "reports go to stderr" if opt == "log_path" else "no JSON is written")


def test_unwritable_log_path_as_an_unprivileged_user():
    tmp = tempfile.mkdtemp(prefix="zg-hostile-")
    try:
        os.chmod(tmp, 0o755)  # root's directory: the user below may not create in it
        lib = os.path.join(tmp, "libzmqguard.so")
        prog = os.path.join(tmp, "shared_dealer")
        shutil.copy(gt.LIB, lib)
        shutil.copy(program("shared_dealer"), prog)
        log = os.path.join(tmp, "guard.log")
        p = preload(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", prog], "mode=warn:log_path=" + log,
                    lib=lib)
        assert_reported_to_stderr(p, log, "open", "reports go to stderr")
        assert "Permission denied" in text(p.stderr), p
        assert not os.path.exists(log)
    finally:
        shutil.rmtree(tmp)


@pytest.fixture
def full_disk():
    """A 64 KiB tmpfs (16 pages) with 15 pages taken and a log file of 3,096
    bytes in the last one: 1,000 bytes of a report fit, then the disk is
    full in the middle of it."""
    mnt = tempfile.mkdtemp(prefix="zg-full-")
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt], capture_output=True, text=True)
    if m.returncode != 0:
        os.rmdir(mnt)
        pytest.skip("cannot mount a tmpfs here (%s); /dev/full covers ENOSPC" % m.stderr.strip())
    try:
        with open(os.path.join(mnt, "filler"), "wb") as fh:
            fh.write(b"x" * (60 << 10))
        with open(os.path.join(mnt, "guard.log"), "wb") as fh:
            fh.write(b"-" * 3095 + b"\n")
        yield mnt
    finally:
        subprocess.run(["umount", mnt])
        os.rmdir(mnt)


def test_disk_full_in_the_middle_of_a_report(full_disk):
    log = os.path.join(full_disk, "guard.log")
    p = preload([program("shared_dealer")], "mode=warn:log_path=" + log)
    assert_reported_to_stderr(p, log, "write", "reports go to stderr")
    assert "No space left on device" in text(p.stderr), p
    head = open(log, "rb").read()[3096:]
    # The start went to the file, the rest to stderr.
    assert len(head) == 1000 and b"WARNING: zmq-guard: cross_thread" in head, head


# ---------------------------------------------------------------- option strings

JUNK = [
    "",
    "::::",
    ",,,:,",
    "=",
    "=1",
    "==",
    ":=:=x:",
    "mode=",
    "mode==warn",
    "mode=%n%s%s%s%x",
    "%n%n%n=%s",
    "log_path=%n%s%p%p%p%%",
    "mode=\x01\x02\x1b[2J\x7f",
    "\x1b]0;title\x07=1",
    "mode=w\xc3\x28rn",
    "\xff\xfe\xfd=\xc0\xaf",
    "mode=warn:mode=abort:mode=warn",
    "stack_depth=99999999999999999999999999",
    "stack_depth=-9223372036854775809",
    "exitcode= 7",
    "exitcode=+7",
    "exitcode=0x10",
    "leaks=2",
    "K" * 100000 + "=1",
    "mode=" + "W" * 100000,
    "log_path=" + "/x" * 300,
    ":".join("nokey%d" % i for i in range(200)),
]


@pytest.mark.parametrize("junk", JUNK, ids=range(len(JUNK)))
def test_junk_options_give_short_lines_and_never_crash(junk):
    env_text = junk.encode("latin-1")  # each character one byte, as written above
    # Not a word from a process without sockets.
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD",)}
    env = {k.encode(): v.encode() for k, v in env.items()}
    env[b"LD_PRELOAD"] = gt.preload_value(gt.LIB).encode()
    env[b"ZMQ_GUARD_OPTIONS"] = env_text
    quiet = subprocess.run(["/bin/sh", "-c", "echo ok"], env=env, capture_output=True, timeout=TIMEOUT)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, b"ok\n", b""), quiet
    p = subprocess.run([program("main_only")], env=env, capture_output=True, timeout=TIMEOUT)
    assert p.returncode == 0 and p.stdout == b"done\n", p
    lines = p.stderr.splitlines()
    for l in lines:
        assert l.startswith(b"zmq-guard: "), lines
        assert len(l) < 400, l[:100]
        assert not re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", l), l
    problems = [e for e in re.split(r"[:,]", junk) if e and e not in ("mode=warn", "mode=abort")]
    assert len(lines) <= max(1, len(problems)) + 1, lines


def test_duplicated_keys_last_one_wins():
    p = preload([program("shared_dealer")], "mode=abort:mode=warn")
    assert p.returncode == 66 and not guard_lines(p), p


# ---------------------------------------------------------------- two copies of the guard

def count_reports(p):
    return len(re.findall(r"^SUMMARY: zmq-guard:", text(p.stderr), re.M))


def test_same_library_preloaded_twice_is_one_guard():
    p = preload([program("shared_dealer")], "mode=warn:verbose=1", lib=gt.LIB + " " + gt.LIB)
    assert p.returncode == 66, p
    assert count_reports(p) == 1, p
    assert len(re.findall(r"zmq-guard \S+: active", text(p.stderr))) == 1, p


def test_two_copies_of_the_library_make_one_guard(tmp_path):
    copy = str(tmp_path / "libzmqguard-copy.so")
    shutil.copy(gt.LIB, copy)
    for libs, first, second in ((gt.LIB + " " + copy, gt.LIB, copy), (copy + ":" + gt.LIB, copy, gt.LIB)):
        p = preload([program("shared_dealer")], "mode=warn:verbose=1", lib=libs)
        assert p.returncode == 66 and b"received 5" in p.stdout, p
        assert count_reports(p) == 1, p
        assert len(re.findall(r"zmq-guard \S+: active", text(p.stderr))) == 1, p
        off = [l for l in guard_lines(p) if "stays off" in l]
        assert off == ["zmq-guard: another copy of the guard is active (%s); this one (%s) stays off"
                       % (first, second)], p


# ---------------------------------------------------------------- secure execution

def secure_run(tmp, options, setuid):
    lib = os.path.join(tmp, "libzmqguard.so")
    prog = os.path.join(tmp, "secure_host")
    shutil.copy(gt.LIB, lib)
    shutil.copy(program("secure_host"), prog)
    os.chown(prog, 65534, 65534)
    os.chmod(prog, 0o4755 if setuid else 0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ZMQ_GUARD_OPTIONS")}
    env["ZMQ_GUARD_OPTIONS"] = options
    env["DEBUGINFOD_URLS"] = ""
    return subprocess.run([prog, lib], env=env, capture_output=True, timeout=TIMEOUT, cwd=tmp)


@pytest.mark.skipif(os.geteuid() != 0, reason="making a set-user-ID program of another user needs root")
def test_secure_execution_writes_no_file_and_says_so_once():
    tmp = tempfile.mkdtemp(prefix="zg-secure-")
    try:
        os.chmod(tmp, 0o777)  # the set-user-ID user could create files here: only the guard's choice stops it
        opts = "mode=warn:log_path=%s/guard.log:json_path=%s/guard.json:suppressions=%s/guard.supp" % (tmp, tmp, tmp)
        with open(os.path.join(tmp, "guard.supp"), "w") as fh:
            fh.write("cross_thread:intruder\n")
        os.chmod(os.path.join(tmp, "guard.supp"), 0o644)
        # The same program and options without set-user-ID: the files are
        # written and the suppression applies (the check below can fail).
        plain = secure_run(tmp, opts, setuid=False)
        assert plain.stdout.startswith(b"secure 0\n") and plain.returncode == 0, plain
        assert b"secure-execution" not in plain.stderr, plain
        os.unlink(os.path.join(tmp, "guard.supp"))
        with open(os.path.join(tmp, "guard.supp"), "w") as fh:
            fh.write("# nothing suppressed\n")
        plain = secure_run(tmp, opts, setuid=False)
        assert plain.returncode == 66 and os.path.exists(os.path.join(tmp, "guard.log")), plain
        assert os.path.exists(os.path.join(tmp, "guard.json")), plain
        for f in ("guard.log", "guard.json"):
            os.unlink(os.path.join(tmp, f))
        with open(os.path.join(tmp, "guard.supp"), "w") as fh:
            fh.write("cross_thread:intruder\n")

        p = secure_run(tmp, opts, setuid=True)
        assert p.stdout.startswith(b"secure 1\n") and b"done" in p.stdout, p
        assert p.returncode == 66, p  # the suppressions file was ignored too
        said = [l for l in guard_lines(p) if "secure-execution" in l]
        assert said == ["zmq-guard: secure-execution process (setuid, setgid or capabilities): ignoring log_path, "
                        "json_path, suppressions; reports go to stderr"], p
        assert re.search(r"^SUMMARY: zmq-guard: cross_thread zmq_send", text(p.stderr), re.M), p
        assert sorted(os.listdir(tmp)) == ["guard.supp", "libzmqguard.so", "secure_host"], os.listdir(tmp)
    finally:
        shutil.rmtree(tmp)


# ---------------------------------------------------------------- errno

def api_def_names():
    with open(os.path.join(gt.SOURCE_ROOT, "src", "interpose", "api.def")) as fh:
        return re.findall(r"^\s*ZG_(?:SOCK|CALL)\(\s*[^,]+?,\s*(\w+)\s*,", fh.read(), re.M)


def errno_lines(lib, options, cross):
    argv = [program("errno_probe")] + (["cross"] if cross else [])
    if lib:
        p = preload(argv, options)
    else:
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ZMQ_GUARD_OPTIONS")}
        p = subprocess.run(argv, env=env, capture_output=True, timeout=TIMEOUT)
    assert p.stdout.endswith(b"done\n"), p
    return p, text(p.stdout).splitlines()


@pytest.mark.parametrize("options,cross", [("mode=abort", False), ("mode=warn", True), ("mode=serialize", True),
                                           ("mode=off", True), ("mode=warn:policy=strict", True),
                                           ("mode=warn:policy=overlap", True)])
def test_errno_after_every_call_is_what_libzmq_left(options, cross):
    _, plain = errno_lines(None, None, cross)
    # Every function of the table is called, or absent from this libzmq (drafts).
    called = {l.split()[0].split(":")[-1].split("/")[0].split("(")[0] for l in plain}
    assert set(api_def_names()) <= called, set(api_def_names()) - called
    assert any(l.endswith(" 4242") for l in plain) and any(l.endswith(" 11") for l in plain), plain
    p, guarded = errno_lines(gt.LIB, options, cross)
    # The cross thread's calls are findings but for overlap, which sees no overlap.
    assert p.returncode == (66 if cross and "warn" in options and "overlap" not in options else 0), p
    diff = [(a, b) for a, b in zip(plain, guarded) if a != b]
    assert len(plain) == len(guarded) and not diff, diff
