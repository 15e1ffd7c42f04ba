# SPDX-License-Identifier: MIT
"""demo-smoke: the demo's second act, checked.

The C++ ROUTER server runs unguarded; the Python DEALER client, whose two
threads share one socket, runs under the real zmq-guard wrapper in abort
mode.  It must be stopped by SIGABRT, and the report must name both thread
functions of client.py, so a user can see the two places that share it.
"""
import os
import signal
import subprocess
import tempfile
import time

import guardtest

CLIENT = os.path.join(guardtest.SOURCE_ROOT, "demo", "client.py")


def start_server(tmp):
    endpoint_file = os.path.join(tmp, "endpoint")
    server = subprocess.Popen([guardtest.program("demo-server"), "--endpoint-file", endpoint_file,
                               "--idle-exit", "2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not os.path.exists(endpoint_file):
        assert server.poll() is None, "demo-server died: %s" % (server.communicate(),)
        assert time.monotonic() < deadline, "demo-server wrote no endpoint in 10 s"
        time.sleep(0.02)
    with open(endpoint_file) as f:
        return server, f.read().strip()


def stop_server(server):
    # It exits by itself once idle; waiting proves that (nothing is left behind).
    try:
        out, err = server.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.communicate()
        raise AssertionError("demo-server did not exit after being idle")
    assert server.returncode == 0, err
    return err


def python_functions(frames):
    return [(os.path.basename(f["file"]), f["function"]) for f in frames or []]


def test_guarded_client_is_stopped_with_both_threads_named():
    with tempfile.TemporaryDirectory() as tmp:
        server, endpoint = start_server(tmp)
        try:
            res = guardtest.run([guardtest.PYTHON, CLIENT, endpoint], timeout=30)
        finally:
            server_log = stop_server(server)

    assert not res.timed_out, res
    assert res.returncode == -signal.SIGABRT, res
    assert "server: echoed" in server_log

    # Either thread may be the one caught; either way the report shows the
    # caught thread and the owner, one in each of the two functions.
    assert len(res.findings) == 1, res
    f = res.findings[0]
    assert f["kind"] in ("cross_thread", "concurrent_call"), res
    assert f["severity"] == "ERROR"
    assert f["socket_type"] == "DEALER"
    assert f["endpoints"] == ["connect " + endpoint]
    caught = python_functions(f["python_stack"])
    owner = python_functions(f["owner_python_stack"])
    both = {("client.py", "send_requests"), ("client.py", "receive_replies")}
    assert both & set(caught) and both & set(owner), res
    assert both <= set(caught) | set(owner), res
    assert ("client.py", "main") in python_functions(f["created_python_stack"]), res

    # The text a user reads says the same.
    text = res.stderr
    assert "==ERROR: zmq-guard: " + f["kind"] in text, res
    assert 'in send_requests' in text and 'in receive_replies' in text, res
    assert 'client.py", line' in text, res
    assert "SUMMARY: zmq-guard: " + f["kind"] in text, res
    # The guard stopped the client before it could finish.
    assert "replies in" not in res.stdout, res
