# SPDX-License-Identifier: MIT
"""For the scripts: act once another thread sleeps in a given system call,
as the kernel says in /proc/self/task/TID/syscall, without guessing a delay
(tests/lib/asleep_in_poll.h does the same for the C programs)."""
import time

POLL = ("7", "271")  # poll, ppoll: where libzmq waits inside a blocking call
SLEEP = ("35", "230")  # nanosleep, clock_nanosleep: usleep()


def asleep_in(native_id, calls):
    """True when thread `native_id` of this process sleeps in one of
    `calls` (system call numbers, as text)."""
    try:
        with open("/proc/self/task/%d/syscall" % native_id) as f:
            return f.read().split()[0] in calls
    except (OSError, IndexError):
        return False


def wait_asleep_in(thread, calls, max_s=5.0):
    """Waits up to `max_s` until `thread` (started) sleeps in one of `calls`;
    returns whether it did."""
    deadline = time.monotonic() + max_s
    while not asleep_in(thread.native_id, calls):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True
