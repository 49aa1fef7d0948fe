"""bench_common.py — what the side-by-side benchmark drivers (tools/bench/mlp, train, continuous, ...) share:
the torch check, and the live worker processes they interleave repetitions between (the --serve protocol:
"ready", then one reply line per command, a final key=value line on "quit")."""
import subprocess
import sys


def require_torch(python, tool):
    """Exit 2 with the remedy, not a traceback, when `python` cannot import torch."""
    try:
        r = subprocess.run([python, "-c", "import torch"], capture_output=True, text=True)
        why = (r.stderr.strip().splitlines() or ["import torch failed"])[-1] if r.returncode else None
    except OSError as e:
        why = str(e)
    if why:
        sys.stderr.write("%s: the PyTorch side needs torch, and %s cannot import it (%s).\n"
                         "  install it: apt-get install python3-torch   (Debian's, for /usr/bin/python3)\n"
                         "  or point --python at an interpreter that has it\n" % (tool, python, why))
        sys.exit(2)


def kv(line):
    return {k: v for k, v in (f.split("=", 1) for f in line.split() if "=" in f)}


class Worker:
    """A bench process in --serve mode: one line per command."""

    def __init__(self, name, cmd, env, cwd=None):
        self.name = name
        self.p = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, bufsize=1)
        self.expect("ready")

    def expect(self, prefix):
        line = self.p.stdout.readline()
        if not line.startswith(prefix):
            self.p.kill()
            sys.exit("%s: expected '%s', got %r (exit %s)" % (self.name, prefix, line, self.p.poll()))
        return line

    def ask(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return kv(self.expect(cmd))

    def finish(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.flush()
        line = self.expect(("unigfn", "torch"))
        self.p.wait()
        return kv(line)


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def serve_reps(step, steps, reps, serve, who):
    """The PyTorch sides' half of the protocol: a warm-up of steps/5 calls of step() (which returns the
    loss), then R repetitions of `steps` calls, or with serve one repetition per "rep" line on stdin
    ("ready" first, "quit" or end of input stops). Returns (median wall ms, median CPU ms, reps) per
    call; CPU time counts every thread of the process."""
    import math
    import statistics
    import time

    def rep():
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            if not math.isfinite(step()):
                sys.exit("%s: loss is not finite" % who)
        return (time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps

    for _ in range(max(1, steps // 5)):
        step()
    samples = []
    if serve:
        print("ready", flush=True)
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "rep":
                t = rep()
                samples.append(t)
                print("rep ms_iter=%.6f cpu_ms_iter=%.6f" % (t[0] * 1e3, t[1] * 1e3), flush=True)
            elif cmd == "quit":
                break
            elif cmd:
                sys.exit("%s: unknown command '%s'" % (who, cmd))
    else:
        samples = [rep() for _ in range(reps)]
    if not samples:
        return float("nan"), float("nan"), 0
    return (statistics.median(t[0] for t in samples) * 1e3, statistics.median(t[1] for t in samples) * 1e3,
            len(samples))
