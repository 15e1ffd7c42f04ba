# SPDX-License-Identifier: MIT
"""Reports a user reads at a glance: the program's own frames, the runtime's
and libraries' folded into counted lines (frames=user, the default), every
frame with frames=all; each JSON frame marked with its class.  A pyzmq
script, a pytest test, a czmq actor, a stripped native program."""
import os
import re
import shutil
import subprocess

import guardtest as gt
from guardtest import line_of, program, run

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_PUSH = os.path.join(HERE, "scripts", "shared_push.py")
FOLD = r"\.\.\. \d+ frames? in .+ \(frames=all shows them\)"


def section(text, start, end=None):
    """The lines of one part of the report: from the line starting with
    `start` up to the next blank line."""
    lines = text.splitlines()
    i = next(k for k, l in enumerate(lines) if l.startswith(start))
    out = []
    for l in lines[i + 1:]:
        if not l.strip():
            break
        out.append(l)
    return out


def test_pyzmq_script_shows_its_own_lines_and_folds_the_rest():
    r = run([gt.PYTHON, SHARED_PUSH], ["--mode=warn"])
    assert r.kinds() == ["cross_thread"], r
    me = section(r.stderr, '  thread T')
    assert me[0] == "    Python traceback of this thread (most recent call last):", me
    assert me[1] == '      File "%s", line %d, in worker' % (SHARED_PUSH, line_of(SHARED_PUSH, "worker-send")), me
    assert me[2] == "      ... 1 frame in zmq/sugar/socket.py (frames=all shows them)", me
    assert re.fullmatch(r"    native stack: \d+ frames in socket\.cpython-\S+\.so, .* \(frames=all shows them\)",
                        me[3]), me
    assert len(me) == 4, me
    owner = section(r.stderr, "  owner: ")
    assert owner[1] == '      File "%s", line %d, in <module>' % (SHARED_PUSH, line_of(SHARED_PUSH, "main-send")), owner
    # JSON keeps every frame, each with its class.
    f = r.findings[0]
    assert [(os.path.basename(x["file"]), x["class"]) for x in f["python_stack"]][-2:] == \
        [("shared_push.py", "user"), ("socket.py", "library")], f["python_stack"]
    assert {x["class"] for x in f["stack"]} <= {"library", "runtime"}, f["stack"]
    assert f["user_frame"]["file"] == SHARED_PUSH and f["user_frame"]["line"] == line_of(SHARED_PUSH, "worker-send"), f["user_frame"]


def test_frames_all_shows_every_frame():
    r = run([gt.PYTHON, SHARED_PUSH], ["--mode=warn", "--frames=all"])
    me = section(r.stderr, '  thread T')
    assert 'socket.py", line' in me[2] and "in send" in me[2], me
    assert me[3] == "    native stack:", me
    assert all(re.match(r"    #\d+ 0x[0-9a-f]+ ", l) for l in me[4:]), me
    assert len(me) - 4 == len(r.findings[0]["stack"]), (me, r.findings[0]["stack"])
    assert "frames=all shows them" not in r.stderr, r


def test_pytest_test_starts_at_the_test_function(tmp_path):
    log = tmp_path / "guard.log"
    suite = os.path.join(HERE, "suites", "misuse")
    r = run([gt.PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", suite, suite],
            ["--mode=warn", "--log-path=" + str(log)])
    text = log.read_text()
    me = section(text, "  thread T")
    misuse = os.path.join(suite, "test_misuse.py")
    assert me[1] == '      File "%s", line %d, in worker' % (misuse, line_of(misuse, "worker-send")), me
    owner = section(text, "  owner: ")
    # pytest's and pluggy's dozens of frames before the test are one line.
    assert re.fullmatch(r"      " + FOLD, owner[1]) and "pytest" in owner[1], owner
    assert owner[2] == '      File "%s", line %d, in test_shares_a_socket' % (misuse, line_of(misuse, "main-send")), owner
    assert owner[3] == "      ... 1 frame in zmq/sugar/socket.py (frames=all shows them)", owner
    # The JSON has them all: pytest's marked as a library.
    py = r.findings[0]["owner_python_stack"]
    assert len(py) > 10 and any("/_pytest/" in x["file"] and x["class"] == "library" for x in py), py
    assert "in test test_misuse.py::test_shares_a_socket" in text, text


def test_czmq_actor_shows_the_actor_and_folds_libc():
    r = run([program("czmq_actor_shared")], ["--mode=warn"])
    assert r.kinds() == ["cross_thread"] and r.returncode == 66, r
    owner = section(r.stderr, "  owner: ")
    assert re.match(r"    #0 0x[0-9a-f]+ \(libczmq\.so\.4\+0x[0-9a-f]+\)$", owner[0]), owner
    actor = os.path.join(gt.SOURCE_ROOT, "tests", "e2e", "czmq_actor_shared.c")
    took, sent = line_of(actor, "actor-send"), line_of(actor, "main-send")
    assert re.match(r"    #1 0x[0-9a-f]+ in sending_actor \S*czmq_actor_shared\.c:%d " % took, owner[1]), owner
    assert re.fullmatch(r"    \.\.\. 2 frames in libc\.so\.6 \(frames=all shows them\)", owner[-1]), owner
    assert not any("start_thread" in l or "clone" in l for l in owner), owner
    assert re.search(r'^SUMMARY: .* in main czmq_actor_shared\.c:%d; owner T\d+ "[^"]*" took it in sending_actor '
                     r'czmq_actor_shared\.c:%d$' % (sent, took), r.stderr, re.M), r
    assert "has no symbols" not in r.stderr, r  # czmq's are a library's missing names, not the program's


def test_stripped_program_keeps_its_own_frames_and_says_how_to_get_names(tmp_path):
    exe = tmp_path / "shared_dealer"
    shutil.copy(program("shared_dealer"), exe)
    subprocess.run(["strip", "--strip-all", str(exe)], check=True)
    notes = subprocess.run(["readelf", "-n", str(exe)], capture_output=True, text=True, check=True).stdout
    build_id = re.search(r"Build ID: ([0-9a-f]+)", notes).group(1)
    r = run([str(exe)], ["--mode=warn"])
    assert r.kinds() == ["cross_thread"] and r.returncode == 66, r
    me = section(r.stderr, "  thread T")
    assert re.fullmatch(r"    #0 0x[0-9a-f]+ \(shared_dealer\+0x[0-9a-f]+\)", me[0]), me
    assert me[-1] == ("    (shared_dealer has no symbols: install its debug symbols (its -dbgsym or -dbg package) "
                      "or build it with -g; build-id %s)" % build_id), me
    assert re.search(r'^SUMMARY: .* by T\d+ "receiver" in shared_dealer\+0x[0-9a-f]+; owner T\d+ "sender" took it in '
                     r'shared_dealer\+0x[0-9a-f]+$', r.stderr, re.M), r
    r = run([str(exe)], ["--mode=warn", "--frames=all"])
    assert "in start_thread (libc.so.6+" in r.stderr, r
