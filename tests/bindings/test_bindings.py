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
