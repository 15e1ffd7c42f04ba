"""Helpers shared by the pytest suites: run a program under the real
zmq-guard wrapper and look at what it reported."""
import json
import os
import subprocess
import tempfile

WRAPPER = os.environ.get("ZMQ_GUARD_WRAPPER", "")
LIB = os.environ.get("ZMQ_GUARD_LIB", "")
BUILD_ROOT = os.environ.get("ZMQ_GUARD_BUILD_ROOT", "")
SOURCE_ROOT = os.environ.get("ZMQ_GUARD_SOURCE_ROOT", "")
PYTHON = "/usr/bin/python3"  # Debian's, with python3-zmq


class Result:
    def __init__(self, proc, findings, elapsed_timeout):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.findings = findings
        self.timed_out = elapsed_timeout

    def kinds(self):
        return [f["kind"] for f in self.findings]

    def __repr__(self):
        return "<Result rc=%s findings=%s>\n--- stdout\n%s\n--- stderr\n%s" % (
            self.returncode, self.kinds(), self.stdout, self.stderr)


def run(argv, flags=(), env=None, timeout=60, cwd=None, json_report=True):
    """Runs `zmq-guard [flags] -- argv...`; returns a Result with the parsed
    JSON findings (json_path is added unless json_report is False)."""
    assert WRAPPER and os.path.exists(WRAPPER), "ZMQ_GUARD_WRAPPER not set: run through meson test"
    full_env = dict(os.environ)
    full_env.pop("ZMQ_GUARD_OPTIONS", None)
    full_env.pop("LD_PRELOAD", None)
    if env:
        full_env.update(env)
    with tempfile.TemporaryDirectory() as tmp:
        json_path = os.path.join(tmp, "findings.json")
        cmd = [WRAPPER] + list(flags)
        if json_report:
            cmd.append("--json-path=" + json_path)
        cmd += ["--"] + list(argv)
        timed_out = False
        try:
            proc = subprocess.run(cmd, env=full_env, cwd=cwd, timeout=timeout,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        except subprocess.TimeoutExpired as e:
            timed_out = True
            proc = subprocess.CompletedProcess(cmd, -9, e.stdout or "", e.stderr or "")
            if isinstance(proc.stdout, bytes):
                proc.stdout = proc.stdout.decode(errors="replace")
            if isinstance(proc.stderr, bytes):
                proc.stderr = proc.stderr.decode(errors="replace")
        findings = []
        if json_report and os.path.exists(json_path):
            with open(json_path) as f:
                for line in f:
                    line = line.strip()
                    if line:
                        findings.append(json.loads(line))
        return Result(proc, findings, timed_out)


def program(name):
    """Path of a scenario program built by meson (tests/e2e/NAME)."""
    for sub in ("tests/e2e", "tests/stress", "tests/python", "demo", "bench"):
        p = os.path.join(BUILD_ROOT, sub, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(name)


def functions(frames):
    return [f.get("function", "") for f in frames or []]
