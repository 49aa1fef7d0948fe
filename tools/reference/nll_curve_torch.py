#!/usr/bin/python3
"""nll_curve_torch.py — an independent check of unigfn's §4.2 learning curves: train the PyTorch MLE-GFN
or EB-GFN iteration of tools/bench/train_torch.py (the same networks, objectives and learning rates as
experiments/paper/{mlegfn,ebgfn}-checkerboard.yaml) on fresh checkerboard batches and print the NLL
estimate every --every steps with unigfn's curve_nll settings (M = 20 particles, 500 held-out rows).

    /usr/bin/python3 tools/reference/nll_curve_torch.py --algo mlegfn --steps 1000 --every 500

The NLL estimator is REPRODUCTION §4's: log p(x) ~ logsumexp_j [log P_F(tau_j) - log P_B(tau_j|x)] - log M,
tau_j ~ P_B(.|x). Compare the printed values with `unigfn report curves --metric curve_nll` (or the
metrics table) of the unigfn run at the same step: same algorithm, different random streams, so they
agree within a few standard errors when the two implementations train the same way. One thread; about
0.4 s per MLE-GFN iteration on this 2-core machine. Needs python3-torch (not used by the test suite).
"""
import argparse
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import train_torch as T  # noqa: E402


def nll(model, held, M):
    """Mean and standard error of -log p_hat(x) over the held-out rows, in nats."""
    out = []
    with torch.no_grad():
        for i in range(0, held.shape[0], 100):
            x = held[i:i + 100]
            lpf, lpb, _ = T.walk_backward(model.pol, x.repeat(M, 1), T.D, False, False)
            lw = (lpf - lpb).view(M, -1)  # [M, rows]
            out.append(-(torch.logsumexp(lw, 0) - math.log(M)))
    v = torch.cat(out)
    return v.mean().item(), v.std().item() / math.sqrt(v.numel())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--algo", choices=["mlegfn", "ebgfn"], default="mlegfn")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--every", type=int, default=500)
    ap.add_argument("--particles", type=int, default=20)
    ap.add_argument("--samples", type=int, default=500, help="held-out rows")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    model = T.MLEGFN() if a.algo == "mlegfn" else T.EBGFN(1)
    held = T.checkerboard_bits(a.samples, seed=12345)
    t0 = time.time()
    for step in range(1, a.steps + 1):
        x = T.checkerboard_bits(T.B, seed=1000 + step)  # a fresh batch every step, as synthetic2d
        if a.algo == "ebgfn":  # K from 1 to D over 1e5 steps (ebm_cd k_anneal_steps)
            model.k = max(1, min(T.D, int(T.D * step / 1e5)))
        model.iteration(x)
        if step % a.every == 0:
            m, s = nll(model, held, a.particles)
            print(f"step {step} nll {m:.4f} +- {s:.4f} ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
