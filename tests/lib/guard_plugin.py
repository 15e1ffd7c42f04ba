"""pytest plugin of the project's suites (loaded with -p guard_plugin from
tests/meson.build): the plain_only mark (guardtest.plain_only).  In a
sanitizer run (ZMQ_GUARD_SANITIZE set by the asan/tsan test setup) the
tests so marked are deselected, not skipped: the plain run, which
tests/run.sh makes first, has them."""
import os


def pytest_configure(config):
    config.addinivalue_line("markers", "plain_only: runs in the plain suite only, not under a sanitizer")


def pytest_collection_modifyitems(config, items):
    if not os.environ.get("ZMQ_GUARD_SANITIZE"):
        return
    keep = [i for i in items if i.get_closest_marker("plain_only") is None]
    gone = [i for i in items if i.get_closest_marker("plain_only") is not None]
    if gone:
        config.hook.pytest_deselected(items=gone)
        items[:] = keep
