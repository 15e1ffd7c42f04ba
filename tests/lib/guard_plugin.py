# SPDX-License-Identifier: MIT
"""pytest plugin of the project's suites (loaded with -p guard_plugin from
tests/meson.build): the plain_only and not_under marks
(guardtest.plain_only, guardtest.not_under).  In a sanitizer run
(ZMQ_GUARD_SANITIZE set by the asan/tsan test setup) the tests so marked
are deselected, not skipped: the plain run, which tests/run.sh makes
first, has them."""
import os


def pytest_configure(config):
    config.addinivalue_line("markers", "plain_only: runs in the plain suite only, not under a sanitizer")
    config.addinivalue_line("markers", "not_under(sanitizer): not run under that sanitizer (address, thread)")


def deselected(item, sanitize):
    if item.get_closest_marker("plain_only") is not None:
        return True
    return any(m.args[0] in sanitize for m in item.iter_markers("not_under"))


def pytest_collection_modifyitems(config, items):
    sanitize = os.environ.get("ZMQ_GUARD_SANITIZE")
    if not sanitize:
        return
    keep = [i for i in items if not deselected(i, sanitize)]
    gone = [i for i in items if deselected(i, sanitize)]
    if gone:
        config.hook.pytest_deselected(items=gone)
        items[:] = keep
