#!/usr/bin/python3
"""mlp_torch.py — PyTorch's side of tools/bench/mlp: one training step (forward, backward, Adam) of the
MLP 32 -> 256 -> 256 -> 256 -> 96 with LeakyReLU(0.01) and a mean-squared-error loss.

    mlp_torch.py --batch B --threads T [--steps N] [--reps R]

Prints one key=value line like bench_mlp (wall and process-CPU time per step, medians). The driver sets OMP/OPENBLAS/MKL_NUM_THREADS before this
starts (Debian's torch calls the system OpenBLAS, whose pool only the environment sizes); here
torch.set_num_threads(T) sizes ATen's OpenMP pool and set_num_interop_threads(1) keeps the
inter-op pool from adding threads. Same weights and data as bench_mlp.c (splitmix64 generator).
"""
import argparse
import resource
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

WIDTHS = [32, 256, 256, 256, 96]


def gen(n, seed, bound):
    """splitmix64 uniform in [-bound, bound) — the same sequence as bench_mlp.c's gen()."""
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(seed) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    u = (z >> np.uint64(40)).astype(np.float64)
    return torch.from_numpy(((u - 8388608.0) / 8388608.0 * bound).astype(np.float32))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_interop_threads(1)
    torch.set_num_threads(a.threads)

    mods = []
    for l in range(len(WIDTHS) - 1):
        lin = torch.nn.Linear(WIDTHS[l], WIDTHS[l + 1])
        bound = 1.0 / WIDTHS[l] ** 0.5
        with torch.no_grad():
            lin.weight.copy_(gen(lin.weight.numel(), 1000 + 2 * l, bound).reshape(lin.weight.shape))
            lin.bias.copy_(gen(lin.bias.numel(), 1001 + 2 * l, bound))
        mods.append(lin)
        if l + 2 < len(WIDTHS):
            mods.append(torch.nn.LeakyReLU(0.01))
    net = torch.nn.Sequential(*mods)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = gen(a.batch * WIDTHS[0], 1, 1.0).reshape(a.batch, WIDTHS[0])
    target = gen(a.batch * WIDTHS[-1], 2, 1.0).reshape(a.batch, WIDTHS[-1])

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(net(x), target)
        loss.backward()
        opt.step()

    for _ in range(max(1, a.steps // 5)):
        step()
    samples, cpu = [], []
    for _ in range(a.reps):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(a.steps):
            step()
        samples.append((time.perf_counter() - t0) / a.steps)
        cpu.append((time.process_time() - c0) / a.steps)
    ms = statistics.median(samples) * 1e3
    print("torch batch=%d threads=%d steps=%d reps=%d ms_step=%.6f cpu_ms_step=%.6f maxrss_kb=%d "
          "torch_threads=%d interop_threads=%d" % (a.batch, a.threads, a.steps, a.reps, ms,
                                                   statistics.median(cpu) * 1e3,
                                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                  torch.get_num_threads(), torch.get_num_interop_threads()))


if __name__ == "__main__":
    main()
