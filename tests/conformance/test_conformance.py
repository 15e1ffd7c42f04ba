# SPDX-License-Identifier: MIT
"""The differential conformance suite: the driver (conform.c) runs its table
of cases plainly and under the preloaded guard in every mode; every row must
come out the same, field by field, and the guard must print nothing (the
driver is single-threaded, but for one helper thread that uses only sockets
of its own)."""
import json
import os
import subprocess

import pytest

import guardtest as gt

DRIVER = os.environ["ZMQ_GUARD_CONFORM"]
LIB = os.environ["ZMQ_GUARD_LIB"]
MODES = ["off", "abort", "warn", "serialize"]


def run(preload_mode=None, options="", shared=False, case=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZMQ_GUARD_") and k != "LD_PRELOAD"}
    if preload_mode:
        env["LD_PRELOAD"] = LIB
        env["ZMQ_GUARD_OPTIONS"] = "mode=" + preload_mode + options
    if shared:
        env["CONFORM_SHARED"] = "1"
    argv = [DRIVER] + ([case] if case else [])
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)


def rows(stdout):
    """{case: {field: value}} from the driver's rows, in their order."""
    out = {}
    for line in stdout.splitlines():
        case, _, rest = line.partition(":")
        fields = {}
        for word in rest.split():
            key, _, value = word.partition("=")
            fields[key] = value
        out[case] = fields
    return out


@pytest.fixture(scope="module")
def plain():
    r = run()
    # Plain libzmq is the reference: every case must run to its end there.
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr == "", r.stderr
    return rows(r.stdout)


def differences(plain_rows, guard_rows, mode):
    lines = []
    for case, want in plain_rows.items():
        got = guard_rows.get(case)
        if got is None:
            lines.append(f"mode={mode} {case}: no row")
            continue
        for field in sorted(set(want) | set(got)):
            a, b = want.get(field, "<none>"), got.get(field, "<none>")
            if a != b:
                lines.append(f"mode={mode} {case}: {field}: libzmq {a}, guard {b}")
    for case in guard_rows:
        if case not in plain_rows:
            lines.append(f"mode={mode} {case}: row the plain run has not")
    return lines


def timing_only(diff_lines):
    """The cases whose every difference is a time class (".time" fields)."""
    cases, other = set(), set()
    for line in diff_lines:
        case, _, rest = line.partition(": ")
        case = case.split(" ", 1)[1]
        (cases if rest.split(":")[0].endswith(".time") else other).add(case)
    return cases - other


def compare(want_rows, got_rows, mode, preload_mode, options="", shared=False):
    """The differences, after running again (plain and guarded) each case
    that differed only in a time class: a loaded machine can stall one call
    past half its timeout, once; a real difference comes back."""
    diff = differences(want_rows, got_rows, mode)
    for case in timing_only(diff):
        for _ in range(2):
            want = rows(run(shared=shared, case=case).stdout)
            got = rows(run(preload_mode, options, shared, case).stdout)
            if not differences(want, got, mode):
                diff = [line for line in diff if not line.startswith(f"mode={mode} {case}: ")]
                break
    return diff


@pytest.mark.parametrize("mode", MODES)
def test_same_as_libzmq(plain, mode):
    r = run(mode)
    diff = compare(plain, rows(r.stdout), mode, mode)
    assert not diff, "\n".join(diff)
    assert r.stderr == "", f"mode={mode}: the guard printed:\n{r.stderr}"
    assert r.returncode == 0, f"mode={mode}: exit status {r.returncode}"


def test_shared_sockets_serialized_same_as_libzmq(tmp_path):
    # Every socket used once by a second thread first (conform.c,
    # CONFORM_SHARED): serialize mode's locked path, the one shared sockets
    # take, against libzmq given the same calls.  Each socket is reported
    # shared, as information, and nothing else.
    want = run(shared=True)
    assert want.returncode == 0 and want.stderr == "", want.stdout + want.stderr
    opts = f":log_path={tmp_path}/guard.%p.log:json_path={tmp_path}/guard.%p.json"
    r = run("serialize", opts, shared=True)
    diff = compare(rows(want.stdout), rows(r.stdout), "serialize-shared", "serialize", opts, shared=True)
    assert not diff, "\n".join(diff)
    assert r.stderr == "" and r.returncode == 0, r.stderr
    kinds = []
    for name in os.listdir(tmp_path):
        if name.endswith(".json"):
            with open(tmp_path / name) as f:
                kinds += [json.loads(line)["kind"] for line in f if line.strip()]
    assert len(kinds) > 50 and set(kinds) == {"shared_socket"}, kinds


def test_every_interposed_function_has_a_case():
    listed = subprocess.run([DRIVER, "--list"], capture_output=True, text=True, check=True).stdout
    covered = {line.split()[0] for line in listed.splitlines() if line.strip()}
    fns = gt.api_def_names()
    assert len(fns) > 30, "api.def parsed wrong"
    missing = [fn for fn in fns if fn not in covered]
    assert not missing, "api.def functions without a conformance case: " + ", ".join(missing)
    unknown = sorted(covered - set(fns))
    assert not unknown, "cases for functions api.def does not have: " + ", ".join(unknown)


def test_differences_are_named():
    # The comparison itself: a changed field and a missing row are lines
    # naming case and field.
    a = {"x/y": {"rc": "-1", "rc.errno": "EINVAL"}, "x/z": {"rc": "0"}}
    b = {"x/y": {"rc": "-1", "rc.errno": "ENOTSOCK"}}
    assert differences(a, b, "m") == ["mode=m x/y: rc.errno: libzmq EINVAL, guard ENOTSOCK", "mode=m x/z: no row"]
    assert differences(a, a, "m") == []
    # Only a case all of whose differences are time classes is run again.
    lines = ["mode=m x/y: rc.time: libzmq now, guard waited", "mode=m x/z: rc.time: libzmq now, guard waited",
             "mode=m x/z: rc: libzmq 0, guard -1"]
    assert timing_only(lines) == {"x/y"}
