# SPDX-License-Identifier: MIT
"""Each stress scenario is a meson test of its own (tests/stress/meson.build):
meson runs test_serialize.py, test_lifecycle.py and test_scale.py once per
scenario with --scenario=NAME, and each test there says which scenario it
drives with @scenario("NAME") (a ser_NAME, life_NAME or scale_NAME program,
or one named in meson.build beside the programs: python, exit_dtor).  A test
without the mark, or with a scenario meson does not run (--scenarios), stops
the collection: no test can be left out of the suite unnoticed."""
import os

import pytest


SCENARIO_FILES = ("test_serialize.py", "test_lifecycle.py", "test_scale.py")


def pytest_addoption(parser):
    parser.addoption("--scenario", help="run only the tests of this scenario")
    parser.addoption("--scenarios", help="comma list of the scenarios meson runs, each as a test of its own")


def pytest_configure(config):
    config.addinivalue_line("markers", "scenario(name): the stress scenario a test drives")


def scenario_of(item):
    mark = item.get_closest_marker("scenario")
    return mark.args[0] if mark else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    known = config.getoption("--scenarios")
    for item in items:
        if os.path.basename(str(item.fspath)) not in SCENARIO_FILES:
            continue
        name = scenario_of(item)
        if name is None:
            raise pytest.UsageError("%s has no @scenario mark: meson would never run it" % item.nodeid)
        if known and name not in known.split(","):
            raise pytest.UsageError("%s: scenario %s is not one meson runs (%s)" % (item.nodeid, name, known))
    want = config.getoption("--scenario")
    if not want:
        return
    keep = [i for i in items if scenario_of(i) == want]
    if not keep:
        raise pytest.UsageError("no test drives scenario %s" % want)
    gone = [i for i in items if scenario_of(i) != want]
    if gone:
        config.hook.pytest_deselected(items=gone)
        items[:] = keep


def pytest_sessionfinish(session, exitstatus):
    # Under a sanitizer every test of a scenario may be plain_only or
    # not_under it (guardtest; the fork scenarios under ASan): deselected
    # there, run by the plain suite.
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and os.environ.get("ZMQ_GUARD_SANITIZE"):
        print("every test of this scenario is deselected under this sanitizer: the plain suite runs it")
        session.exitstatus = pytest.ExitCode.OK
