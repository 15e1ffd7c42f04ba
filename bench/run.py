#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""zmq-guard benchmarks, side by side.

Runs the bench programs plain (no preload) and guarded (mode=off, abort,
warn, serialize through LD_PRELOAD), interleaved so drift on the machine
hits every column alike, and prints medians and guarded/plain ratios.  Then
the same workloads as in-process A/B runs (each guarded program switches
between libzmq's own functions and the guard's every few milliseconds, and
neighbouring blocks are compared: what differs between processes cancels).
Then
the instruction count per intercepted call (callgrind, difference of two
run lengths, so start-up cancels), the shared-socket comparison (mode=
serialize against a mutex around each call, then in other shapes: thread
counts, sizes, zmq_send, tcp), resident memory over socket
create/close cycles, the Google Benchmark per-call table, and Helgrind and
DRD on the same throughput program for comparison.

  bench/run.py --build-dir BUILD [--quick | --full] [--only SECTIONS]

--quick takes about 7 minutes on 2 cores; --full takes longer (more runs,
larger counts, 64 KiB messages, one million create/close cycles).
"""
import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time

MODES = ["off", "abort", "warn", "serialize"]
# A second unguarded run in every round: its ratio to the first is the
# machine's own noise, the floor under every other ratio in the table.
NOISE = "plain-again"
SECTIONS = ["thr", "ab", "shared", "shapes", "calls", "locks", "rss", "percall", "pysockets", "rbsockets", "plsockets", "phpsockets", "tools"]


def parse_args():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(os.path.dirname(here), "build"))
    ap.add_argument("--lib", help="preload library (default BUILD/libzmqguard.so)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="about 7 minutes on 2 cores (default)")
    g.add_argument("--full", action="store_true", help="more runs and sizes")
    ap.add_argument("--runs", type=int, help="interleaved runs per cell (quick 5, full 7)")
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma list of: " + ",".join(SECTIONS))
    ap.add_argument("--json", help="also write all raw samples here")
    ap.add_argument("--modes", default=",".join([NOISE] + MODES),
                    help="columns of the throughput/latency table (comma list of: %s)" % ",".join([NOISE] + MODES))
    ap.add_argument("--pin", default="last",
                    help="CPU to pin throughput/latency runs to with taskset ('last', a number, or 'none'). "
                         "On a 2-core machine unpinned runs swing 20-40%% with where the scheduler puts the "
                         "two threads; pinned, run-to-run spread is a few percent")
    return ap.parse_args()


class Bench:
    def __init__(self, args):
        self.args = args
        self.full = args.full
        self.bdir = os.path.abspath(args.build_dir)
        self.lib = os.path.abspath(args.lib or os.path.join(self.bdir, "libzmqguard.so"))
        self.runs = args.runs or (7 if self.full else 5)
        self.raw = {}
        for f in [self.lib, self.prog("thr")]:
            if not os.path.exists(f):
                sys.exit(f"run.py: {f} missing; build first (ninja -C {self.bdir})")

    def prog(self, name):
        return os.path.join(self.bdir, "bench", "zg_bench_" + name)

    def env(self, mode):
        e = dict(os.environ)
        e.pop("LD_PRELOAD", None)
        e.pop("ZMQ_GUARD_OPTIONS", None)
        if mode not in ("plain", NOISE):
            # "abort:locks=0": a mode and further options.
            mode, _, more = mode.partition(":")
            e["LD_PRELOAD"] = self.lib
            e["ZMQ_GUARD_OPTIONS"] = "mode=" + mode + (":" + more if more else "")
        return e

    def pinned(self, argv):
        pin = self.args.pin
        if pin == "none" or not shutil.which("taskset"):
            return argv
        cpu = str(os.cpu_count() - 1) if pin == "last" else pin
        return ["taskset", "-c", cpu] + argv

    def run(self, argv, mode, timeout=300, pin=False):
        if pin:
            argv = self.pinned(argv)
        p = subprocess.run(argv, env=self.env(mode), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout)
        if p.returncode != 0:
            sys.exit(f"run.py: {' '.join(argv)} under {mode} failed ({p.returncode}):\n{p.stderr[-2000:]}")
        return p

    @staticmethod
    def field(out, key):
        m = re.search(r"\b%s=([0-9.]+)" % key, out)
        return float(m.group(1))

    @staticmethod
    def ab_pairs(out):
        """Every pair's ratio from a --ab run's ab_pairs= line."""
        got = re.search(r"^ab_pairs=([0-9.,]+)$", out, re.M)
        return [float(x) for x in got.group(1).split(",")]

    # -- throughput and latency ------------------------------------------------

    def workloads(self):
        # Each run lasts about half a second: shorter ones (tenths of a
        # second) move 5% between identical runs on a 2-vCPU VM, longer
        # ones about 1.5%.
        c = 1 if not self.full else 2
        w = []
        for tr, n8, n1k in [("inproc", 5000000, 600000), ("tcp", 2500000, 250000)]:
            w.append((f"thr {tr} 8B", ["thr", f"--transport={tr}", "--size=8", f"--count={n8 * c}"]))
            w.append((f"thr {tr} 1KiB", ["thr", f"--transport={tr}", "--size=1024", f"--count={n1k * c}"]))
            if self.full:
                w.append((f"thr {tr} 64KiB", ["thr", f"--transport={tr}", "--size=65536", "--count=40000"]))
                w.append((f"thr {tr} 8B zmq_send", ["thr", f"--transport={tr}", "--size=8", "--api=send",
                                                    f"--count={n8 * c}"]))
        w.append(("lat inproc 8B", ["lat", "--transport=inproc", "--size=8", f"--count={25000 * c}"]))
        w.append(("lat tcp 8B", ["lat", "--transport=tcp", "--size=8", f"--count={7000 * c}"]))
        if self.full:
            w.append(("lat tcp 1KiB", ["lat", "--transport=tcp", "--size=1024", "--count=14000"]))
        return w

    def section_thr(self):
        shown = [m for m in self.args.modes.split(",") if m in MODES or m == NOISE]
        modes = ["plain"] + shown
        work = self.workloads()
        samples = {(name, m): [] for name, _ in work for m in modes}
        rnd = random.Random(1)
        for r in range(self.runs):
            for name, argv in work:
                order = modes[:]
                rnd.shuffle(order)  # interleaved, in a fresh order each round
                for m in order:
                    out = self.run([self.prog(argv[0])] + argv[1:], m, pin=True).stdout
                    v = self.field(out, "msgs_per_s") if argv[0] == "thr" else self.field(out, "rtt_us")
                    samples[(name, m)].append(v)
        self.raw["thr"] = {f"{k[0]}|{k[1]}": v for k, v in samples.items()}
        where = "unpinned" if self.args.pin == "none" else "pinned to one CPU with taskset"
        print(f"\n## Throughput (msgs/s) and latency (round trip, us): medians of {self.runs} interleaved runs, {where}")
        print("ratio = median over rounds of guarded speed / plain speed in the same round "
              "(plain rtt / guarded rtt for latency)\n")
        hdr = f"{'workload':24} {'plain':>11} " + " ".join(f"{m:>11} {'ratio':>6}" for m in shown)
        print(hdr)
        print("-" * len(hdr))

        def ratios(name, lat, m):
            # Paired: each round's guarded run against the same round's plain
            # run (they ran back to back), so drift of the machine between
            # rounds cancels.  Higher is better (plain rtt / guarded rtt).
            return sorted((p / g if lat else g / p) for p, g in zip(samples[(name, "plain")], samples[(name, m)]))

        for name, argv in work:
            med = {m: statistics.median(samples[(name, m)]) for m in modes}
            lat = argv[0] == "lat"
            fmt = (lambda v: f"{v:11.1f}") if lat else (lambda v: f"{v:11.0f}")
            cells = [f"{fmt(med[m])} {statistics.median(ratios(name, lat, m)):6.3f}" for m in shown]
            print(f"{name:24} {fmt(med['plain'])} " + " ".join(cells))
        # How far the per-round ratios scatter: a cost smaller than this
        # spread (see the plain-again column) is not resolved by wall clock.
        print("\nspread of the per-round ratios: 25th-75th percentile\n")
        hdr = f"{'workload':24} " + " ".join(f"{m:>13}" for m in shown)
        print(hdr)
        print("-" * len(hdr))
        for name, argv in work:
            cells = []
            for m in shown:
                pairs = ratios(name, argv[0] == "lat", m)
                q = statistics.quantiles(pairs, n=4) if len(pairs) >= 2 else [pairs[0]] * 3
                cells.append(f"{q[0]:.3f}-{q[2]:.3f}")
            print(f"{name:24} " + " ".join(f"{c:>13}" for c in cells))

    # -- in-process A/B ---------------------------------------------------------------

    def ab_workloads(self):
        # Blocks of about 10 ms on this kind of machine, 60 of them per run.
        c = 2 if self.full else 1
        return [
            ("thr inproc 8B", ["thr", "--transport=inproc", "--size=8"], 100000),
            ("thr inproc 1KiB", ["thr", "--transport=inproc", "--size=1024"], 20000),
            ("thr tcp 8B", ["thr", "--transport=tcp", "--size=8"], 50000),
            ("thr tcp 1KiB", ["thr", "--transport=tcp", "--size=1024"], 5000),
            ("lat inproc 8B", ["lat", "--transport=inproc", "--size=8"], 1000),
            ("lat tcp 8B", ["lat", "--transport=tcp", "--size=8"], 250),
        ], 60 * c

    def section_ab(self):
        # A run without the guard is its own noise check: both halves of each
        # pair call libzmq, so its ratio is 1 but for the machine.
        shown = [m for m in self.args.modes.split(",") if m in MODES or m == NOISE]
        modes = [NOISE if m == NOISE else m for m in shown]
        work, blocks = self.ab_workloads()
        pairs = {(name, m): [] for name, _, _ in work for m in modes}
        rnd = random.Random(3)
        for r in range(self.runs):
            for name, argv, block in work:
                order = modes[:]
                rnd.shuffle(order)
                for m in order:
                    out = self.run([self.prog(argv[0])] + argv[1:] + [f"--count={block * blocks}", f"--ab={block}"],
                                   m, pin=True).stdout
                    pairs[(name, m)] += self.ab_pairs(out)
        self.raw["ab"] = {f"{k[0]}|{k[1]}": v for k, v in pairs.items()}
        print(f"\n## In-process A/B: {self.runs} runs per cell, {blocks} blocks each, pinned to one CPU")
        print("Each guarded run switches every block (about 10 ms) between libzmq's own functions and the guard's,")
        print("in the order A B B A; ratio = median over all pairs of neighbouring blocks of guarded speed / plain")
        print(f"speed (plain rtt / guarded rtt for latency); {NOISE} = a run without the guard (both halves plain).\n")
        hdr = f"{'workload':24} " + " ".join(f"{m:>11} {'25-75%':>13}" for m in modes)
        print(hdr)
        print("-" * len(hdr))
        for name, _, _ in work:
            cells = []
            for m in modes:
                v = sorted(pairs[(name, m)])
                q = statistics.quantiles(v, n=4) if len(v) >= 2 else [v[0]] * 3
                cells.append(f"{statistics.median(v):11.3f} {q[0]:.3f}-{q[2]:.3f}")
            print(f"{name:24} " + " ".join(cells))
        print(f"\n(pairs per cell: {len(pairs[(work[0][0], modes[0])])})")

    # -- shared socket -------------------------------------------------------------

    @staticmethod
    def paired(xs, ys):
        """Median over rounds of ys / xs, paired by round (the runs of one
        round ran back to back)."""
        return statistics.median([y / x for x, y in zip(xs, ys)])

    @staticmethod
    def rounds_won(xs, ys):
        return f"{sum(y > x for x, y in zip(xs, ys))}/{len(xs)}"

    def rate_cells(self, rnd, cells, argv, pin, record):
        """One round of a comparison: each (label, mode, extra argv) cell in a
        shuffled order, back to back; record(label, msgs_per_s) for each."""
        order = cells[:]
        rnd.shuffle(order)
        for label, mode, extra in order:
            out = self.run(argv + extra, mode, pin=pin).stdout
            record(label, self.field(out, "msgs_per_s"))

    def section_shared(self):
        # Long enough that the one report of the shared socket (symbolized once,
        # tens of milliseconds) does not decide the rate.  Run both ways: on
        # both CPUs, where the senders really contend (what a program sharing
        # a socket between threads does), and squeezed onto one CPU with
        # taskset, where they only take turns and a mutex costs just its
        # uncontended instructions.
        count = 8000000 if self.full else 4000000
        cells = [("plain, mutex around each send", "plain", ["--lock"]),
                 ("serialize, no mutex", "serialize", []),
                 ("serialize, mutex too", "serialize", ["--lock"])]
        places = [("2 CPUs", False), ("1 CPU (taskset)", True)]
        samples = {(c[0], p[0]): [] for c in cells for p in places}
        unshared = {"plain": [], "serialize": []}
        rnd = random.Random(2)
        for r in range(self.runs):
            for place, pin in places:
                self.rate_cells(rnd, cells, [self.prog("thr"), "--shared=4", f"--count={count}", "--size=8"], pin,
                                lambda label, rate: samples[(label, place)].append(rate))
            for mode in unshared:
                out = self.run([self.prog("thr"), f"--count={count}", "--size=8"], mode, pin=True).stdout
                unshared[mode].append(self.field(out, "msgs_per_s"))
        self.raw["shared"] = {f"{k[0]}|{k[1]}": v for k, v in samples.items()}
        self.raw["unshared"] = unshared
        print(f"\n## One PUSH socket shared by 4 sender threads, inproc, 8 B (msgs/s, medians of {self.runs} rounds)\n")
        print("x = median over rounds of the cell's rate / the mutex program's rate in the same round\n")
        paired = self.paired
        print(f"{'':34} " + " ".join(f"{p[0]:>22}" for p in places))
        mutex = cells[0][0]
        for label, _, _ in cells:
            row = []
            for place, _ in places:
                xs, ys = samples[(mutex, place)], samples[(label, place)]
                row.append(f"{statistics.median(ys):12.0f} x{paired(xs, ys):.3f}")
            print(f"{label:34} " + " ".join(f"{c:>22}" for c in row))
        wins = []
        for place, _ in places:
            xs, ys = samples[(mutex, place)], samples[(cells[1][0], place)]
            wins.append(self.rounds_won(xs, ys))
        print(f"{'rounds serialize beat the mutex':34} " + " ".join(f"{w:>22}" for w in wins))
        pu, su = statistics.median(unshared["plain"]), statistics.median(unshared["serialize"])
        print(f"\nOne sender thread, its own socket (1 CPU):")
        print(f"{'unshared: plain':34} {pu:12.0f}")
        print(f"{'unshared: serialize':34} {su:12.0f} ratio {paired(unshared['plain'], unshared['serialize']):.3f}")
        # The same comparison inside one process (thr --shared --ab): blocks
        # of the naive fix (libzmq's own functions under the mutex) and of
        # serialize mode (the guard's, no mutex) alternate, every thread
        # starting each block together.  Also under back-pressure (--hwm).
        block, blocks = 100000, 40 if not self.full else 80
        variants = [("in-process A/B", []), ("in-process A/B, --hwm=1000", ["--hwm=1000"])]
        ab = {(v[0], p[0]): [] for v in variants for p in places}
        for r in range(self.runs):
            for label, extra in variants:
                for place, pin in places:
                    out = self.run([self.prog("thr"), "--shared=4", "--size=8", f"--ab={block}",
                                    f"--count={block * blocks}"] + extra, "serialize", pin=pin).stdout
                    ab[(label, place)] += self.ab_pairs(out)
        self.raw["shared_ab"] = {f"{k[0]}|{k[1]}": v for k, v in ab.items()}
        print(f"\nserialize / mutex, median over pairs of neighbouring blocks ({block} messages each), 25-75%:")
        for label, _ in variants:
            row = []
            for place, _ in places:
                v = sorted(ab[(label, place)])
                q = statistics.quantiles(v, n=4)
                row.append(f"x{statistics.median(v):.3f} {q[0]:.2f}-{q[2]:.2f}")
            print(f"{label:34} " + " ".join(f"{c:>22}" for c in row))

    # -- shared socket, other shapes ----------------------------------------------

    def section_shapes(self):
        # The shared-socket comparison on both CPUs in other shapes than the
        # table above: fewer and more senders, larger messages, zmq_send,
        # tcp (where libzmq's I/O thread sets the pace), Python threads.
        # Separate processes, the two cells of a shape back to back in a
        # shuffled order.
        c = 2 if self.full else 1
        shapes = [("2 senders", ["--shared=2", f"--count={4000000 * c}"]),
                  ("8 senders", ["--shared=8", f"--count={4000000 * c}"]),
                  ("4 senders, 1 KiB", ["--shared=4", "--size=1024", f"--count={1000000 * c}"]),
                  ("4 senders, zmq_send", ["--shared=4", "--api=send", f"--count={4000000 * c}"]),
                  ("4 senders, tcp", ["--shared=4", "--transport=tcp", f"--count={2000000 * c}"])]
        shapes = [(name, [self.prog("thr")] + argv) for name, argv in shapes]
        # The same in Python (pyzmq), whose hand-made fix is a threading.Lock
        # around each send.
        py = "/usr/bin/python3"  # Debian's, with python3-zmq
        if subprocess.run([py, "-c", "import zmq"], capture_output=True).returncode == 0:
            script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "py_shared.py")
            shapes.append(("4 Python threads", [py, script, "--shared=4", f"--count={400000 * c}"]))
        cells = [("mutex", "plain", ["--lock"]), ("serialize", "serialize", [])]
        samples = {(sh, cell[0]): [] for sh, _ in shapes for cell in cells}
        rnd = random.Random(4)
        for r in range(self.runs):
            for shape, argv in shapes:
                self.rate_cells(rnd, cells, argv, False, lambda label, rate: samples[(shape, label)].append(rate))
        self.raw["shapes"] = {f"{k[0]}|{k[1]}": v for k, v in samples.items()}
        print(f"\n## A shared PUSH socket in other shapes, 2 CPUs, inproc 8 B unless said "
              f"(msgs/s, medians of {self.runs} rounds)\n")
        print(f"{'':24} {'mutex':>12} {'serialize':>12} {'ratio':>7} {'rounds won':>11}")
        for shape, _ in shapes:
            xs, ys = samples[(shape, "mutex")], samples[(shape, "serialize")]
            print(f"{shape:24} {statistics.median(xs):12.0f} {statistics.median(ys):12.0f} "
                  f"{self.paired(xs, ys):7.3f} {self.rounds_won(xs, ys):>11}")

    # -- instructions per call -----------------------------------------------------

    def callgrind_ir(self, count, mode, extra=(), prog="calls"):
        p = self.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                      self.prog(prog), f"--count={count}"] + list(extra), mode)
        return int(re.search(r"Collected : (\d+)", p.stderr).group(1))

    def section_calls(self):
        if not shutil.which("valgrind"):
            print("\n## Instructions per call: valgrind not installed, skipped")
            return
        n1, n2 = 20000, 120000
        # One socket pair (each wrapper's hint holds its socket), then two
        # used in turn (a forwarder's pattern: each function alternates
        # between two sockets, so the first hint misses every call).
        variants = [("", []), (", two socket pairs in turn", ["--pairs=2"])]
        self.raw["calls"] = {}
        for title, extra in variants:
            print(f"\n## Instructions per intercepted call (callgrind Ir, ({n2} - {n1}) messages, "
                  f"zmq_msg_send + zmq_msg_recv in one thread over inproc{title})\n")
            per = {}
            for m in ["plain", "off", "abort", "warn", "serialize"]:
                per[m] = (self.callgrind_ir(n2, m, extra) - self.callgrind_ir(n1, m, extra)) / (n2 - n1)
            self.raw["calls"][" ".join(extra) or "one pair"] = per
            print(f"{'':12} {'Ir/message':>11} {'added/call':>11}")
            for m, v in per.items():
                added = "" if m == "plain" else f"{(v - per['plain']) / 2:11.2f}"
                print(f"{m:12} {v:11.2f} {added}")

    def section_locks(self):
        # The program's own lock operations, which the guard interposes
        # (src/core/locks.h): what an uncontended pair costs plain and
        # guarded, once the process has a socket.  "locks=0" is the guard
        # with lock tracking off: the forwarding alone.
        if not shutil.which("valgrind"):
            print("\n## Instructions per lock pair: valgrind not installed, skipped")
            return
        n1, n2 = 20000, 120000
        rows = [("mutex, thread without a socket call", []),
                ("mutex, thread that made one (main)", ["--in=main"]),
                ("semaphore, thread without a socket call", ["--sem"]),
                ("semaphore, thread that made one (main)", ["--sem", "--in=main"])]
        cols = ["plain", "abort", "abort:locks=0"]
        print(f"\n## Instructions per uncontended lock + unlock pair (callgrind Ir, ({n2} - {n1}) pairs, "
              "after main made a socket)\n")
        print(f"{'':42} " + " ".join(f"{c:>14}" for c in cols) + f" {'added':>7}")
        self.raw["locks"] = {}
        for title, extra in rows:
            per = {}
            for c in cols:
                mode = c.split(":")[0]
                per[c] = (self.callgrind_ir(n2, c, extra, "locks") - self.callgrind_ir(n1, c, extra, "locks")) / (n2 - n1)
            self.raw["locks"][title] = per
            print(f"{title:42} " + " ".join(f"{per[c]:14.2f}" for c in cols) +
                  f" {per['abort'] - per['plain']:7.2f}")

    # -- memory -------------------------------------------------------------------

    def section_rss(self):
        cycles = 1000000 if self.full else 100000
        print(f"\n## Resident memory over {cycles} socket create/close cycles (KiB)\n")
        rows = {}
        for m in ["plain", "abort"]:
            out = self.run([self.prog("rss"), f"--cycles={cycles}"], m, timeout=1200).stdout
            rows[m] = [(int(a), int(b)) for a, b in re.findall(r"cycle=(\d+) kib=(\d+)", out)]
        self.raw["rss"] = rows
        print(f"{'cycle':>9} " + " ".join(f"{m:>9}" for m in rows))
        for i in range(len(rows["plain"])):
            print(f"{rows['plain'][i][0]:9} " + " ".join(f"{rows[m][i][1]:9}" for m in rows))

    # -- per-call Google Benchmark -------------------------------------------------

    def section_percall(self):
        exe = self.prog("percall")
        if not os.path.exists(exe):
            print("\n## Per-call benchmark: not built (libbenchmark-dev missing), skipped")
            return
        mt = "0.2" if self.full else "0.05"
        res = {}
        for m in ["plain", "abort"]:
            p = self.run([exe, "--benchmark_format=json", f"--benchmark_min_time={mt}",
                          f"--benchmark_repetitions={3 if self.full else 1}",
                          "--benchmark_report_aggregates_only=true"], m)
            data = json.loads(p.stdout)
            for b in data["benchmarks"]:
                if b.get("aggregate_name", "median") != "median":
                    continue
                name = b.get("run_name", b["name"]).replace("_median", "")
                res.setdefault(name, {})[m] = b["cpu_time"]
        self.raw["percall"] = res
        print("\n## Per-call cost, Google Benchmark, CPU ns per iteration (owner's path, mode=abort)\n")
        print(f"{'benchmark':26} {'plain':>9} {'guarded':>9} {'added':>8}")
        for name, v in res.items():
            print(f"{name:26} {v['plain']:9.1f} {v['abort']:9.1f} {v['abort'] - v['plain']:8.1f}")

    # -- socket creation from Python ---------------------------------------------

    def section_pysockets(self):
        # A socket's creation records the creator's stack: its cost per
        # socket (create + close), plain and guarded runs interleaved, at two
        # stack depths, from Python (pyzmq) and from C side by side.  Wall
        # time, and the process's CPU time (all threads), which a machine
        # shared with other work disturbs less.
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "py_sockets.py")
        py = "/usr/bin/python3"  # Debian's, with python3-zmq
        have_py = subprocess.run([py, "-c", "import zmq"], capture_output=True).returncode == 0
        langs = ([("python", [py, script, "--count=3000"])] if have_py else []) + \
            [("c", [self.prog("sockets"), "--count=3000"])]
        self.creation_table("pysockets", langs)
        if not have_py:
            print("(pyzmq missing: the Python rows are left out)")

    def section_rbsockets(self):
        # The same for Ruby's ffi-rzmq: a socket's creation records its Ruby
        # backtrace.
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rb_sockets.rb")
        rb = "/usr/bin/ruby"  # Debian's, with ruby-ffi-rzmq
        if subprocess.run([rb, "-e", "require 'ffi-rzmq'"], capture_output=True).returncode != 0:
            print("\n## Socket creation from Ruby: ruby-ffi-rzmq missing, skipped")
            return
        self.creation_table("rbsockets", [("ruby", [rb, script, "--count=3000"])])

    def section_plsockets(self):
        # The same for Perl's ZMQ::FFI: a socket's creation records its Perl
        # frames.
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pl_sockets.pl")
        pl = "/usr/bin/perl"  # Debian's, with libzmq-ffi-perl
        if subprocess.run([pl, "-MZMQ::FFI", "-e", "1"], capture_output=True).returncode != 0:
            print("\n## Socket creation from Perl: libzmq-ffi-perl missing, skipped")
            return
        self.creation_table("plsockets", [("perl", [pl, script, "--count=1000"])])

    def section_phpsockets(self):
        # The same for PHP's php-zmq: a socket's creation records its PHP
        # backtrace.
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "php_sockets.php")
        php = "/usr/bin/php"  # Debian's, with php-zmq
        if subprocess.run([php, "-r", "new ZMQContext();"], capture_output=True).returncode != 0:
            print("\n## Socket creation from PHP: php-zmq missing, skipped")
            return
        self.creation_table("phpsockets", [("php", [php, script, "--count=3000"])])

    def creation_table(self, key, langs):
        print("\n## Socket creation (create + close a REQ socket, us per socket, "
              f"medians of {self.runs} interleaved runs, mode=abort)\n")
        print(f"{'':8} {'stack depth':12} {'plain':>8} {'guarded':>8} {'x plain':>8}   "
              f"{'cpu plain':>9} {'guarded':>8} {'x plain':>8}")
        res = {}
        for lang, argv in langs:
            for depth in (30, 200):
                cell = {"plain": [], "abort": []}
                for _ in range(self.runs):
                    for m in random.sample(list(cell), len(cell)):
                        out = self.run(argv + [f"--depth={depth}"], m, pin=True).stdout
                        cell[m].append((self.field(out, "us_per_socket"), self.field(out, "cpu_us_per_socket")))
                p = [statistics.median(x[k] for x in cell["plain"]) for k in (0, 1)]
                g = [statistics.median(x[k] for x in cell["abort"]) for k in (0, 1)]
                res[f"{lang}/{depth}"] = cell
                print(f"{lang:8} {depth:<12} {p[0]:8.1f} {g[0]:8.1f} {g[0] / p[0]:8.2f}   "
                      f"{p[1]:9.1f} {g[1]:8.1f} {g[1] / p[1]:8.2f}")
        self.raw[key] = res

    # -- Helgrind and DRD ----------------------------------------------------------

    def section_tools(self):
        if not shutil.which("valgrind"):
            return
        count = 20000 if self.full else 5000
        native = 5000000  # as in the throughput table; rates compare across counts

        def rate(prefix, mode):
            if not prefix:
                # Without a tool: pinned as in the throughput table, median of 3.
                argv = [self.prog("thr"), "--transport=inproc", "--size=8", f"--count={native}"]
                runs = [self.field(self.run(argv, mode, pin=True).stdout, "msgs_per_s") for _ in range(3)]
                return statistics.median(runs), 0
            argv = [self.prog("thr"), "--transport=inproc", "--size=8", f"--count={count}"]
            p = subprocess.run(prefix + argv, env=self.env(mode), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=900)
            errs = re.search(r"ERROR SUMMARY: (\d+) errors", p.stderr)
            return self.field(p.stdout, "msgs_per_s"), (int(errs.group(1)) if errs else 0)

        rows = [("plain", [], "plain"), ("zmq-guard mode=abort", [], "abort"),
                ("helgrind", ["valgrind", "--tool=helgrind"], "plain"),
                ("drd", ["valgrind", "--tool=drd"], "plain")]
        print(f"\n## The same throughput program under each tool (inproc, 8 B; {count} messages under valgrind)\n")
        base = None
        for label, prefix, mode in rows:
            r, errs = rate(prefix, mode)
            base = base or r
            extra = f"  ({errs} errors reported on this correct program)" if prefix else ""
            print(f"{label:22} {r:11.0f} msgs/s  {base / r:7.1f}x slower{extra}")


def main():
    args = parse_args()
    b = Bench(args)
    want = [s.strip() for s in args.only.split(",") if s.strip()]
    t0 = time.monotonic()
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    distro = ""
    try:
        with open("/etc/os-release") as f:
            distro = next((l.split("=", 1)[1].strip().strip('"') for l in f if l.startswith("PRETTY_NAME")), "")
    except OSError:
        pass
    print(f"# zmq-guard bench ({'full' if args.full else 'quick'}): {distro}, {os.cpu_count()} CPUs, {cpu}, "
          f"kernel {platform.release()}")
    print(f"# library {b.lib}")
    for s in SECTIONS:
        if s in want:
            getattr(b, "section_" + s)()
            sys.stdout.flush()
    print(f"\n# total {time.monotonic() - t0:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(b.raw, f, indent=1)


if __name__ == "__main__":
    main()
