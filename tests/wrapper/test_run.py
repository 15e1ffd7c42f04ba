# SPDX-License-Identifier: MIT
"""The wrapper supervises a run: every finding of every process of the tree
reaches the user at the end (whatever the process did with its stderr), the
exit status carries the verdict, signals and statuses pass through, and the
run's findings become JUnit and SARIF for CI.  Real pytest suites, real
pyzmq, real programs."""
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

import guardtest as gt
from guardtest import program

HERE = os.path.dirname(os.path.abspath(__file__))
MISUSE = os.path.join(HERE, "suites", "misuse", "test_misuse.py")
SHARED_PUSH = os.path.join(HERE, "scripts", "shared_push.py")
SHARED_DEALER = os.path.join(gt.SOURCE_ROOT, "tests", "e2e", "shared_dealer.c")
PYTHON = gt.PYTHON
PREFIX = "==zmq-guard== "


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "ZMQ_GUARD_OPTIONS", "ZMQ_GUARD_SESSION", "PYTEST_CURRENT_TEST",
                        "PYTEST_ADDOPTS")}
    env.update(extra or {})
    return env


def guard(args, timeout=120, env=None, cwd=None):
    return subprocess.run([gt.WRAPPER] + list(args), env=clean_env(env), cwd=cwd, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def summary(p):
    """The wrapper's summary lines, without their prefix."""
    return [l[len(PREFIX):] for l in p.stderr.splitlines() if l.startswith(PREFIX)]


def pytest_args(suite):
    # Capture stays on (pytest's default): that is where reports vanished.
    d = os.path.join(HERE, "suites", suite)
    return [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", d, d]


def test_warn_mode_pytest_suite_names_the_test_and_fails_the_run():
    p = guard(["--mode=warn", "--"] + pytest_args("misuse"))
    assert "3 passed" in p.stdout, p  # every test passed: only the guard can fail the run
    assert p.returncode == 66, p
    s = summary(p)
    assert s[0] == "1 distinct finding in this run:", p.stderr
    assert re.fullmatch(r'  cross_thread zmq_msg_send on PUSH socket 0x[0-9a-f]+ by T\d+ "worker" in worker '
                        r'test_misuse.py:%d; owner T\d+ "MainThread" took it in test_shares_a_socket test_misuse.py:%d'
                        % (gt.line_of(MISUSE, "worker-send"), gt.line_of(MISUSE, "main-send")), s[1]), s
    assert re.fullmatch(r"    1 time: pid \d+ in test test_misuse.py::test_shares_a_socket", s[2]), s
    assert re.fullmatch(r"total: 1 finding \(1 report in 1 process\), 0 suppressed", s[3]), s
    assert len(s) == 4, s


def test_abort_mode_pytest_dies_and_the_report_survives():
    p = guard(["--"] + pytest_args("misuse"))
    assert p.returncode == -signal.SIGABRT, p  # the wrapper dies as pytest did
    s = summary(p)
    line = gt.line_of(MISUSE, "worker-send")
    assert any(re.match(r"  cross_thread zmq_msg_send on PUSH socket .* in worker test_misuse.py:%d;" % line, l)
               for l in s), p
    assert any(l.endswith("in test test_misuse.py::test_shares_a_socket") for l in s), s


def test_correct_suite_is_silent():
    p = guard(["--mode=warn", "--"] + pytest_args("correct"))
    assert p.returncode == 0, p
    assert "2 passed" in p.stdout, p
    assert summary(p) == [] and "zmq-guard" not in p.stderr, p


@pytest.mark.parametrize("mode,child_status", [("warn", 66), ("abort", -signal.SIGABRT)])
def test_a_child_that_throws_its_stderr_away_still_fails_the_run(mode, child_status):
    script = os.path.join(HERE, "scripts", "shared_push.py")
    p = guard(["--mode=" + mode, "--", PYTHON, os.path.join(HERE, "scripts", "quiet_parent.py"), script])
    assert "child ended with %d" % child_status in p.stdout, p
    assert p.returncode == 66, p  # the parent exited 0
    # The child's own report went to /dev/null: all there is, is the summary.
    assert [l for l in p.stderr.splitlines() if not l.startswith(PREFIX)] == [], p
    s = summary(p)
    line = gt.line_of(SHARED_PUSH, "worker-send")
    assert any(re.match(r'  cross_thread zmq_msg_send on PUSH socket .* by T\d+ "worker" in worker shared_push.py:%d;'
                        % line, l) for l in s), p
    assert any(re.fullmatch(r"    1 time: pid \d+ \(%s %s\)" % (re.escape(PYTHON), re.escape(script)), l)
               for l in s), s


def test_serialize_mode_keeps_the_status_and_still_sums_up():
    script = os.path.join(HERE, "scripts", "shared_push.py")
    p = guard(["--mode=serialize", "--", PYTHON, script])
    assert p.returncode == 0, p
    assert any(l.startswith("  shared_socket zmq_msg_send on PUSH") for l in summary(p)), p


def test_exit_status_and_command_errors_pass_through(tmp_path):
    assert guard(["--", "sh", "-c", "exit 7"]).returncode == 7
    p = guard(["--", str(tmp_path / "no-such-program")])
    assert p.returncode == 127 and "cannot run" in p.stderr, p
    p = guard(["--", "sh", "-c", "kill -TERM $$"])
    assert p.returncode == -signal.SIGTERM, p


FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
             signal.SIGALRM)


def default_signals():
    # The wrapper keeps what it inherits, as exec would: a signal blocked or
    # ignored by whatever started the suite (a background job ignores INT
    # and QUIT; a runner's thread may block some) would never reach it.
    # These tests are about the wrapper, so it starts from the defaults.
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    for s in FORWARDED:
        signal.signal(s, signal.SIG_DFL)


def signal_state(pid):
    """The kernel's view of a process's signals, for a failure message."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return [l.strip() for l in f if l.startswith(("State", "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt"))]
    except OSError as e:
        return [str(e)]


def start(args, **kw):
    return subprocess.Popen([gt.WRAPPER] + args, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=default_signals, **kw)


def test_signals_sent_to_the_wrapper_reach_the_program():
    p = start(["--", PYTHON, os.path.join(HERE, "scripts", "signals.py")])
    assert p.stdout.readline().startswith("ready"), p
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert out == "TERM\n" and p.returncode == 3, (out, err)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGTERM])
def test_a_program_killed_by_a_passed_signal_kills_the_wrapper_the_same_way(sig):
    p = start(["--", PYTHON, "-c", "import os, signal, sys\n"
                                   "for s in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGTERM):\n"
                                   "    signal.signal(s, signal.SIG_DFL)\n"
                                   "print('ready', flush=True)\n"
                                   "signal.pause()\n"])
    assert p.stdout.readline() == "ready\n"
    p.send_signal(sig)
    try:
        p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        state = signal_state(p.pid)
        children = subprocess.run(["ps", "-o", "pid,stat,cmd", "--ppid", str(p.pid)], capture_output=True, text=True)
        p.kill()
        raise AssertionError("the wrapper did not end: %s; its children: %s" % (state, children.stdout))
    assert p.returncode == -sig, p.returncode


def test_terminal_ctrl_c_reaches_the_program_once():
    # The terminal signals the whole foreground process group, the program
    # included: the wrapper must not pass it on a second time.  A USR1 sent
    # after it through the wrapper is handled after any INT the wrapper
    # passed on (signals pending together go in order of number).
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.pop("LD_PRELOAD", None)
        os.execv(gt.WRAPPER, [gt.WRAPPER, "--", PYTHON, os.path.join(HERE, "scripts", "signals.py")])
    out = b""

    def read_until(marker):
        nonlocal out
        deadline = time.monotonic() + 60
        while marker not in out:
            assert time.monotonic() < deadline, out
            r, _, _ = select.select([fd], [], [], 1)
            if r:
                try:
                    out += os.read(fd, 1024)
                except OSError:
                    break
        return out

    read_until(b"ready")
    os.write(fd, b"\x03")  # Ctrl-C
    read_until(b"INT 1")
    os.kill(pid, signal.SIGUSR1)
    read_until(b"USR1 after")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert b"USR1 after 1 INT" in out, out
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (status, out)


def test_junit_and_sarif_from_a_run(tmp_path):
    junit, sarif = tmp_path / "guard.xml", tmp_path / "guard.sarif"
    script = os.path.join(HERE, "scripts", "shared_push.py")
    p = guard(["--mode=warn", "--junit=" + str(junit), "--sarif=" + str(sarif), "--", PYTHON, script])
    assert p.returncode == 66, p
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("tests") == "1" and suite.get("failures") == "1", ET.tostring(suite)
    case = suite.find("testcase")
    assert case.get("classname") == "zmq-guard.cross_thread", case.attrib
    sent, took = gt.line_of(script, "worker-send"), gt.line_of(script, "main-send")
    assert case.get("name") == "python3: cross_thread zmq_msg_send in worker shared_push.py:%d" % sent, case.attrib
    failure = case.find("failure")
    assert failure.get("type") == "cross_thread" and "worker shared_push.py:%d" % sent in failure.get("message")
    assert 'File "%s", line %d, in worker' % (script, sent) in failure.text, failure.text
    log = check_sarif(json.loads(sarif.read_text()))
    result = log["runs"][0]["results"][0]
    loc = result["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "file://" + script and loc["region"]["startLine"] == sent, result
    owner = result["relatedLocations"][0]["physicalLocation"]
    assert owner["artifactLocation"]["uri"] == "file://" + script and owner["region"]["startLine"] == took, result


def test_junit_of_a_clean_run_has_no_failures(tmp_path):
    junit, sarif = tmp_path / "guard.xml", tmp_path / "guard.sarif"
    p = guard(["--junit=" + str(junit), "--sarif=" + str(sarif), "--"] + pytest_args("correct"))
    assert p.returncode == 0 and summary(p) == [], p
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("failures") == "0" and suite.find("testcase/failure") is None, ET.tostring(suite)
    assert check_sarif(json.loads(sarif.read_text()))["runs"][0]["results"] == []


def check_sarif(log):
    """The properties SARIF 2.1.0's schema requires, and the types it gives
    them, for everything the file holds."""
    assert log["version"] == "2.1.0" and isinstance(log["runs"], list), log
    for run in log["runs"]:
        driver = run["tool"]["driver"]
        assert isinstance(driver["name"], str) and driver["name"]
        ids = [r["id"] for r in driver.get("rules", [])]
        assert all(isinstance(i, str) and i for i in ids), driver
        for res in run.get("results", []):
            assert isinstance(res["message"]["text"], str) and res["message"]["text"], res
            assert res["ruleId"] in ids and ids[res["ruleIndex"]] == res["ruleId"], res
            assert res["level"] in ("none", "note", "warning", "error"), res
            for loc in res.get("locations", []) + res.get("relatedLocations", []):
                phys = loc.get("physicalLocation")
                if phys:
                    assert isinstance(phys["artifactLocation"]["uri"], str), loc
                    if "region" in phys:
                        assert isinstance(phys["region"]["startLine"], int) and phys["region"]["startLine"] >= 1
                assert isinstance(loc["message"]["text"], str), loc
                if "id" in loc:
                    assert isinstance(loc["id"], int) and loc["id"] >= -1, loc
    return log


def plain_preload(argv, json_path, mode="warn", supp=None):
    env = clean_env({"LD_PRELOAD": gt.LIB,
                     "ZMQ_GUARD_OPTIONS": "mode=%s:json_path=%s" % (mode, json_path) +
                                          (":suppressions=" + supp if supp else "")})
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


def test_report_merges_files_from_several_processes(tmp_path):
    # Runs without the wrapper (plain LD_PRELOAD, json_path=...%p), as a
    # test suite that cannot use it would.
    pattern = str(tmp_path / "guard-%p.json")
    for _ in range(2):
        assert plain_preload([program("shared_dealer")], pattern).returncode == 66
    assert plain_preload([program("main_only")], pattern).returncode == 0
    files = sorted(str(f) for f in tmp_path.glob("guard-*.json"))
    assert len(files) == 2, files  # a process with nothing to say writes no file
    junit, sarif = tmp_path / "r.xml", tmp_path / "r.sarif"
    p = subprocess.run([gt.WRAPPER, "report", "--junit=" + str(junit), "--sarif=" + str(sarif)] + files,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, p
    s = [l[len(PREFIX):] for l in p.stdout.splitlines()]
    assert s[0] == "1 distinct finding in this run:", p.stdout
    assert re.match(r'  cross_thread zmq_recv on DEALER socket 0x[0-9a-f]+ by T\d+ "receiver" in receiver '
                    r'shared_dealer.c:\d+; owner T\d+ "sender" took it in sender shared_dealer.c:\d+$', s[1]), s
    assert re.fullmatch(r"    2 times: pid \d+ \(\S+/shared_dealer\); pid \d+ \(\S+/shared_dealer\)", s[2]), s
    assert s[3] == "total: 1 finding (2 reports in 2 processes), 0 suppressed", s
    cases = ET.parse(junit).getroot().findall("testsuite/testcase")
    line = gt.line_of(SHARED_DEALER, "recv")
    assert [c.get("name") for c in cases] == ["shared_dealer: cross_thread zmq_recv in receiver shared_dealer.c:%d" % line]
    res = check_sarif(json.loads(sarif.read_text()))["runs"][0]["results"]
    assert len(res) == 1 and res[0]["properties"]["count"] == 2, res
    uri = res[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    # The native file, absolute (the build's relative path resolved).
    assert uri == "file://" + os.path.join(gt.SOURCE_ROOT, "tests/e2e/shared_dealer.c"), uri


def test_report_on_files_without_findings_exits_0(tmp_path):
    empty = tmp_path / "none.json"
    empty.write_text("")
    p = subprocess.run([gt.WRAPPER, "report", str(empty)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == PREFIX + "no findings in 1 file\n", p


@pytest.mark.parametrize("content", ["not json\n", '{"kind": 3}\n', "[1,2]\n", '{"kind":"x"' + "]" * 100 + "\n",
                                     "[" * 100000 + "\n"])
def test_report_on_junk_says_which_line_and_exits_2(tmp_path, content):
    f = tmp_path / "junk.json"
    f.write_text(content)
    p = subprocess.run([gt.WRAPPER, "report", str(f)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p
    assert len(p.stdout.splitlines()) == 1 and "junk.json:1: not a zmq-guard finding" in p.stdout, p


def test_usage_is_made_from_the_option_table():
    usage = subprocess.run([gt.WRAPPER, "--help"], capture_output=True, text=True, timeout=60)
    table = subprocess.run([gt.WRAPPER, "--help-options"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 0 and table.returncode == 0, (usage, table)
    rows = {}
    for line in table.stdout.splitlines()[1:]:
        name, _, default, _ = line.split(None, 3)
        rows[name] = (default, line[line.rindex("[") + 1:-1])
    flags = set(re.findall(r"(?<= )--([a-z-]+)(?:=\S+)?", usage.stdout))
    for name in rows:
        if name != "help":  # --help is the usage itself
            assert name.replace("_", "-") in flags, (name, usage.stdout)
    for option, short in (("mode", "-m"), ("policy", "-p")):
        default, words = rows[option]
        line = next(l for l in usage.stdout.splitlines() if l.startswith("  %s, --%s=" % (short, option)))
        assert line.split(None, 2)[2] == words.replace(default, default + " (default)", 1), line
        assert "--%s=%s " % (option, words.replace(", ", "|")) in usage.stdout


def test_report_refuses_a_missing_file_and_unknown_flags(tmp_path):
    p = subprocess.run([gt.WRAPPER, "report", str(tmp_path / "missing.json")], capture_output=True, text=True)
    assert p.returncode == 2 and "cannot read" in p.stdout, p
    p = subprocess.run([gt.WRAPPER, "report", "--bogus", "x"], capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr == "zmq-guard: report: unknown option --bogus (see zmq-guard --help)\n", p


def test_suppressed_findings_are_counted_and_never_fail_the_run(tmp_path):
    supp = tmp_path / "zmq-guard.supp"
    supp.write_text("cross_thread:receiver\n")
    p = guard(["--mode=warn", "--suppressions=" + str(supp), "--", program("shared_dealer")])
    assert p.returncode == 0, p
    assert summary(p) == ["total: 0 findings (0 reports in 0 processes), 1 suppressed"], p.stderr


def test_keep_session_keeps_the_json_lines():
    p = guard(["--mode=warn", "--keep-session", "--", program("shared_dealer")])
    kept = [l for l in summary(p) if l.startswith("session kept in ")]
    assert len(kept) == 1, p
    d = kept[0][len("session kept in "):]
    try:
        assert oct(os.stat(d).st_mode & 0o777) == "0o700"
        files = os.listdir(d)
        assert len(files) == 1 and files[0].endswith(".jsonl"), files
        with open(os.path.join(d, files[0])) as f:
            rec = json.loads(f.readline())
        assert rec["kind"] == "cross_thread" and rec["user_frame"]["function"] == "receiver", rec
    finally:
        subprocess.run(["rm", "-rf", d])


def test_session_is_removed_after_the_run(tmp_path):
    p = guard(["--mode=warn", "--", program("shared_dealer")], env={"TMPDIR": str(tmp_path)})
    assert p.returncode == 66 and summary(p), p
    assert list(tmp_path.iterdir()) == [], list(tmp_path.iterdir())


def test_a_session_left_by_a_killed_wrapper_is_removed_by_the_next(tmp_path):
    # A wrapper killed outright cannot remove its session; the next wrapper
    # with the same TMPDIR finds its lock free and removes it.  A session
    # kept on purpose stays.
    env = {"TMPDIR": str(tmp_path)}
    kept = guard(["--mode=warn", "--keep-session", "--", program("shared_dealer")], env=env)
    assert kept.returncode == 66, kept
    p = subprocess.Popen([gt.WRAPPER, "--", PYTHON, os.path.join(HERE, "scripts", "signals.py")],
                         env=clean_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().startswith("ready"), p
    p.kill()
    p.wait(timeout=60)
    p.stdout.close()
    p.stderr.close()
    left = sorted(os.listdir(tmp_path))
    assert len(left) == 2 and all(n.startswith("zmq-guard.") for n in left), left
    assert guard(["--", "true"], env=env).returncode == 0
    assert os.listdir(tmp_path) == [k for k in left if k in kept.stderr], (os.listdir(tmp_path), kept.stderr)


def test_a_wrapper_inside_a_wrapper_passes_its_findings_up():
    inner = [gt.WRAPPER, "--mode=warn", "--", program("shared_dealer")]
    p = guard(["--mode=warn", "--", "sh", "-c", '"$@" 2>/dev/null; exit 0', "sh"] + inner)
    assert p.returncode == 66, p
    assert any(l.startswith("  cross_thread zmq_recv on DEALER") for l in summary(p)), p


@pytest.mark.parametrize("mode", ["warn", "abort"])
def test_a_jupyter_kernels_finding_reaches_the_user(mode):
    # The kernel's stderr is the kernel manager's (here thrown away), and
    # the client exits 0 whatever the kernel did: the summary and the
    # status are all the user gets.
    p = guard(["--mode=" + mode, "--", PYTHON, os.path.join(HERE, "scripts", "kernel_driver.py")], timeout=180)
    assert "client exits 0" in p.stdout, p
    assert p.returncode == 66, p
    if mode == "warn":
        assert "cell: ok" in p.stdout, p
    s = summary(p)
    kernel = r"    1 time: pid \d+ \(%s -m ipykernel_launcher -f \S+\.json\)" % re.escape(PYTHON)
    if mode == "abort":
        # The kernel stops at its first finding: the cell's, or one of
        # ipykernel's own start-up (its Control socket's race).
        assert any(re.fullmatch(kernel, l) for l in s), s
        return
    cell = [i for i, l in enumerate(s)
            if re.match(r'  cross_thread zmq_msg_send on PUSH socket \S+ by T\d+ "worker" in worker \d+\.py:7; '
                        r'owner T\d+ "MainThread" took it in <module> \d+\.py:9$', l)]
    assert len(cell) == 1, p.stderr
    assert re.fullmatch(kernel, s[cell[0] + 1]), s


def test_a_wrapper_killed_outright_takes_the_program_along():
    p = start(["--", PYTHON, os.path.join(HERE, "scripts", "signals.py")])
    child = int(p.stdout.readline().split()[1])
    p.kill()
    p.wait(timeout=60)
    deadline = time.monotonic() + 60
    while os.path.exists("/proc/%d" % child):
        with open("/proc/%d/stat" % child) as f:
            if f.read().split(")")[-1].split()[0] == "Z":
                break  # dead, waiting for its new parent to reap it
        assert time.monotonic() < deadline, "the program outlived its wrapper"
        time.sleep(0.01)
