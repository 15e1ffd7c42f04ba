# SPDX-License-Identifier: MIT
"""Helpers shared by the pytest suites: run a program under the real
zmq-guard wrapper and look at what it reported."""
import json
import os
import re
import subprocess
import tempfile

WRAPPER = os.environ.get("ZMQ_GUARD_WRAPPER", "")
LIB = os.environ.get("ZMQ_GUARD_LIB", "")
BUILD_ROOT = os.environ.get("ZMQ_GUARD_BUILD_ROOT", "")
SOURCE_ROOT = os.environ.get("ZMQ_GUARD_SOURCE_ROOT", "")
PYTHON = "/usr/bin/python3"  # Debian's, with python3-zmq
# tests/run.sh --sanitize=...: the sanitizer runtime a program that was not
# built with it needs loaded before the sanitized guard (tests/meson.build).
TEST_PRELOAD = os.environ.get("ZMQ_GUARD_TEST_PRELOAD", "")
SANITIZE = os.environ.get("ZMQ_GUARD_SANITIZE", "")


def preload_value(libs):
    """LD_PRELOAD for a program run with the guard preloaded directly (not
    through the wrapper): `libs` (the guard, or copies of it) and, in a
    sanitizer run, the sanitizer's runtime.  ASan's runtime comes first,
    where it wants to be.  ThreadSanitizer's comes after the guard, as the
    wrapper puts it: the guard's pthread_create forwards to the next one,
    and with TSan's first the guard's (instrumented) thread start would run
    before TSan's interceptor had set up the new thread, and crash."""
    if "thread" in SANITIZE:
        return " ".join(filter(None, [libs, TEST_PRELOAD]))
    return " ".join(filter(None, [TEST_PRELOAD, libs]))


def plain_only(why):
    """Marks a test that cannot run under a sanitizer (`why` says which
    limit of the sanitizer's): the sanitizer run deselects it
    (tests/lib/guard_plugin.py), the plain run, which every CI run makes
    first, runs it.  Deselected, not skipped: nothing is left unchecked."""
    import pytest
    del why  # the reason is for the reader, beside the mark
    return pytest.mark.plain_only


def not_under(sanitizer, why):
    """Marks a test that cannot run under one sanitizer (`address` or
    `thread`, as ZMQ_GUARD_SANITIZE names it): that sanitizer's run
    deselects it, the plain run and the other sanitizer's run keep it.
    `why` says which limit, as for plain_only."""
    import pytest
    del why
    return pytest.mark.not_under(sanitizer)


# The two lines option verbose=1 adds (src/interpose/wrappers.cpp's
# constructor, resolve.cpp for each libzmq copy): run() turns it on to see
# the guard at work in the process, and takes exactly these lines out of
# the stderr the tests read.
ACTIVE_LINE = re.compile(r"zmq-guard \S+: active \(pid (\d+)\)")
GUARDING_LINE = re.compile(r"zmq-guard: guarding (/\S+)")
# The wrapper's own lines: the child it started (verbose=1) and its summary
# of the run at the end (tools/findings.cpp), each kept apart from the
# program's stderr.
STARTED_LINE = re.compile(r"zmq-guard: started pid (\d+): .*")
SUMMARY_PREFIX = "==zmq-guard== "


class Result:
    def __init__(self, proc, pid, findings, elapsed_timeout):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr_raw = proc.stderr
        self.findings = findings
        self.timed_out = elapsed_timeout
        self.pid = pid
        self.guard_pids = []  # the processes whose guard said it was active
        self.guarded = []  # the libzmq copies the guard found
        self.summary = []  # the wrapper's summary lines, without their prefix
        kept = []
        for line in proc.stderr.splitlines(keepends=True):
            active = ACTIVE_LINE.fullmatch(line.rstrip("\n"))
            guarding = GUARDING_LINE.fullmatch(line.rstrip("\n"))
            started = STARTED_LINE.fullmatch(line.rstrip("\n"))
            if started:
                self.pid = int(started.group(1))
            elif line.startswith(SUMMARY_PREFIX):
                self.summary.append(line[len(SUMMARY_PREFIX):].rstrip("\n"))
            elif active:
                self.guard_pids.append(int(active.group(1)))
            elif guarding:
                self.guarded.append(guarding.group(1))
            else:
                kept.append(line)
        self.stderr = "".join(kept)
        # The program run (the wrapper's child, which it names with
        # verbose=1) had the guard loaded and set up.  A silent run proves
        # nothing without it.
        self.guard_active = self.pid in self.guard_pids

    def kinds(self):
        return [f["kind"] for f in self.findings]

    def __repr__(self):
        return "<Result rc=%s findings=%s guard_active=%s>\n--- stdout\n%s\n--- stderr\n%s" % (
            self.returncode, self.kinds(), self.guard_active, self.stdout, self.stderr_raw)


def run(argv, flags=(), env=None, timeout=60, cwd=None, json_report=True, verbose=True):
    """Runs `zmq-guard [flags] -- argv...`; returns a Result with the parsed
    JSON findings (json_path is added unless json_report is False).  With
    `verbose` (the default) the guard says it is active, which the Result
    records in guard_active, without those lines in its stderr; a test turns
    it off only where the notice itself would change what it checks (it
    goes to log_path and opens json_path)."""
    assert WRAPPER and os.path.exists(WRAPPER), "ZMQ_GUARD_WRAPPER not set: run through meson test"
    full_env = dict(os.environ)
    full_env.pop("ZMQ_GUARD_OPTIONS", None)
    full_env.pop("LD_PRELOAD", None)
    if TEST_PRELOAD:
        full_env["LD_PRELOAD"] = TEST_PRELOAD
        # The scenario programs leave what they allocate to exit (the ser_*
        # stress programs among others): leaks are checked by the unit and hostile suites.
        if "ASAN_OPTIONS" in full_env:
            full_env["ASAN_OPTIONS"] += ":detect_leaks=0"
    if env:
        full_env.update(env)
    with tempfile.TemporaryDirectory() as tmp:
        json_path = os.path.join(tmp, "findings.json")
        # First, so that a test's own flags still decide.
        cmd = [WRAPPER] + (["--verbose"] if verbose else []) + list(flags)
        if json_report:
            cmd.append("--json-path=" + json_path)
        cmd += ["--"] + list(argv)
        timed_out = False
        with subprocess.Popen(cmd, env=full_env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) as p:
            try:
                out, err = p.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                p.kill()
                try:
                    out, err = p.communicate(timeout=10)
                except subprocess.TimeoutExpired as e:  # a child of its own holds the pipes
                    out, err = [x.decode(errors="replace") if isinstance(x, bytes) else x or ""
                                for x in (e.stdout, e.stderr)]
        proc = subprocess.CompletedProcess(cmd, p.returncode, out, err)
        findings = []
        if json_report and os.path.exists(json_path):
            with open(json_path) as f:
                for line in f:
                    line = line.strip()
                    if line:
                        findings.append(json.loads(line))
        return Result(proc, p.pid, findings, timed_out)


def program(name):
    """Path of a scenario program built by meson (tests/e2e/NAME)."""
    for sub in ("tests/e2e", "tests/stress", "tests/hostile", "tests/python", "demo", "bench"):
        p = os.path.join(BUILD_ROOT, sub, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(name)


def functions(frames):
    return [f.get("function", "") for f in frames or []]


def api_def_names():
    """Every interposed function, in src/interpose/api.def's order."""
    path = os.path.join(SOURCE_ROOT, "src", "interpose", "api.def")
    names = []
    with open(path) as fh:
        for line in fh:
            m = re.match(r"\s*ZG_(?:SOCK|CALL)\(\s*[^,]+?,\s*(\w+)\s*,", line)
            if m:
                names.append(m.group(1))
    return names


def line_of(path, marker):
    """The number of the line of a source file whose comment holds
    `@marker`: tests name a program's lines by marker, not by number."""
    with open(path) as f:
        for n, text in enumerate(f, 1):
            if re.search(r"(#|//).*@%s\b" % re.escape(marker), text):
                return n
    raise AssertionError("no @%s in %s" % (marker, path))
