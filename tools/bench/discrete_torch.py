#!/usr/bin/python3
"""discrete_torch.py — PyTorch's side of tools/bench/discrete: one training step of the discrete families on
dynamically binarized Fashion-MNIST, batch 128, written to compute what the specs tools/bench/discrete-*.yaml
compute with unigfn's plugins, call for call.

    discrete_torch.py --case made|mlegfn196 --threads T [--steps N] [--reps R] [--serve] [--data DIR]

made (discrete-made.yaml; plugins/models/ar, objective kl_tb from data): MADE on 28x28 pixels (D = 784),
  masked linear layers 784 -> 1000 -> 1000 -> 1568 (K = 2 logits a pixel), ReLU. One step, as ar_traj.c's
  sample_backward and kl_tb.c's loss_data do it: the masked weights W_l * M_l (one product a layer, in the
  graph), the input encoded as -1 + 2x (ar's ordinal code of binary data), one pass -> logits [B, 1568],
  log_softmax over each pixel's two logits and the data value's entry picked: log P_F of every step [B, 784]
  (ar's all_logp); then the objective's sums over the 784 steps one column at a time (traj_terms.h
  ugo_sum_steps: the step terms are separate tensors there: a slice of column π[t] per step, and a zeros
  [B] per step for log P_B = 0), loss = mean(Σ log P_B - Σ log P_F), backward, Adam (lr 1e-3). The
  masks are MADE's (Germain et al. 2015): input degree d + 1 for pixel d (natural order), hidden degrees
  uniform from the layer below's smallest degree to D - 1, drawn here with numpy: other draws than ar's
  mask_seed gives, the same shapes and the same dense GEMMs.
mlegfn196 (discrete-mlegfn196.yaml; plugins/models/binary_gfn, kl_tb then tbc): train_torch.py's MLE-GFN
  iteration (tools/bench/train's, the walks of bgfn_traj.c) with its module constant D set to 196: P_F
  196-256x3-392 and P_B 196-256x3-196, LeakyReLU(0.01), 196-step trajectories, on 14x14 images (2x2 blocks
  averaged to their rounded mean level, as the dataset's pool: 2).
(d3pm: the third case of the issue, to be added with plugins/models/d3pm: a class here and an entry in
CASES below and in tools/bench/discrete's CASES.)

The data batch is 128 training images drawn once, binarized once with Bernoulli(level / 255) (the dataset's
dynamic binarization; bench_train also draws one batch and reuses it): data loading is not timed. The
caller sets OMP/OPENBLAS/MKL_NUM_THREADS; here set_num_threads(T), set_num_interop_threads(1). Protocol
as train_torch.py: without --serve R repetitions of N steps after a warm-up, one key=value line; with
--serve "ready", then "rep" -> "rep ms_iter=... cpu_ms_iter=...", "quit" -> the final line.
"""
import argparse
import gzip
import os
import resource
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_torch  # noqa: E402
from bench_common import serve_reps  # noqa: E402

B = 128
FMNIST = "/usr/share/datasets/fashion-mnist"


def fashion_batch(folder, pool, seed=0):
    """B training images of Fashion-MNIST, pooled (pool 2: the rounded mean of each 2x2 block's levels) and
    binarized with Bernoulli(level / 255): [B, D] float32 of 0/1."""
    path = os.path.join(folder, "train-images-idx3-ubyte.gz")
    opener = gzip.open if os.path.exists(path) else open
    if not os.path.exists(path):
        path = path[:-3]
    with opener(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[4:8], "big")
    px = np.frombuffer(raw, np.uint8, offset=16).reshape(n, 28, 28)
    rng = np.random.default_rng(seed)
    img = px[rng.choice(n, B, replace=False)].astype(np.float64)
    if pool == 2:
        img = np.floor(img.reshape(B, 14, 2, 14, 2).mean((2, 4)) + 0.5)
    img = img.reshape(B, -1) / 255.0
    return torch.from_numpy((rng.random(img.shape) < img).astype(np.float32))


class MADE:
    D, K, H = 784, 2, [1000, 1000]

    def __init__(self):
        D, K = self.D, self.K
        widths = [D] + self.H + [D * K]
        self.lin = [nn.Linear(widths[i], widths[i + 1]) for i in range(len(widths) - 1)]
        rng = np.random.default_rng(0)
        deg = [np.arange(1, D + 1)]  # input unit of pixel d: degree rank[d] + 1 (natural order)
        for h in self.H:
            deg.append(rng.integers(max(1, deg[-1].min()), D, h))  # uniform in [min below, D - 1]
        self.masks = [torch.from_numpy((deg[l + 1][:, None] >= deg[l][None, :]).astype(np.float32))
                      for l in range(len(self.H))]
        out_deg = np.repeat(np.arange(1, D + 1), K)  # logits of pixel d see degrees < d + 1
        self.masks.append(torch.from_numpy((out_deg[:, None] > deg[-1][None, :]).astype(np.float32)))
        self.modules = self.lin
        self.opt = torch.optim.Adam([p for m in self.lin for p in m.parameters()], lr=1e-3)

    def step(self, x):
        D, K = self.D, self.K
        self.opt.zero_grad(set_to_none=True)
        w = [l.weight * m for l, m in zip(self.lin, self.masks)]  # ar_masked_weights: [out, in] each
        h = x * 2.0 - 1.0  # ar's ordinal input code of binary values: [B, D]
        for i, (wl, l) in enumerate(zip(w, self.lin)):
            h = F.linear(h, wl, l.bias)
            if i + 1 < len(self.lin):
                h = F.relu(h)
        lsm = F.log_softmax(h.view(B, D, K), 2)  # [B, D, K]
        lp = lsm.gather(2, x.long().view(B, D, 1)).view(B, D)  # all_logp: log P_F of every step
        lpf = lpb = None
        for t in range(D):  # ugo_sum_steps over log_pf: step t's term is column order[t] = t
            c = lp[:, t]
            lpf = c if lpf is None else lpf + c
        for t in range(D):  # ... and over log_pb: zeros [B] a step (P_B is a Dirac)
            z = torch.zeros(B)
            lpb = z if lpb is None else lpb + z
        loss = (lpb - lpf).mean()
        lv = loss.item()
        loss.backward()
        self.opt.step()
        return lv


class MLEGFN196:
    def __init__(self):
        train_torch.D = 196  # the walks, masks and networks of train_torch.py read this module constant
        self.m = train_torch.MLEGFN()
        self.modules = self.m.modules

    def step(self, x):
        return self.m.iteration(x)


# case -> (model class, pool of the data)
CASES = {"made": (MADE, 1), "mlegfn196": (MLEGFN196, 2)}


def main():
    ap = argparse.ArgumentParser(description="PyTorch side of tools/bench/discrete")
    ap.add_argument("--case", choices=sorted(CASES), required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--data", default=FMNIST, help="folder of train-images-idx3-ubyte[.gz]")
    a = ap.parse_args()
    torch.set_num_interop_threads(1)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cls, pool = CASES[a.case]
    model = cls()
    x = fashion_batch(a.data, pool)
    n_params = sum(p.numel() for mod in model.modules for p in mod.parameters())
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    ms, cpu_ms, n_reps = serve_reps(lambda: model.step(x), a.steps, a.reps, a.serve, "discrete_torch")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("torch case=%s threads=%d steps=%d reps=%d ms_iter=%.6f cpu_ms_iter=%.6f params=%d maxrss_kb=%d "
          "maxrss_delta_kb=%d" % (a.case, a.threads, a.steps, n_reps, ms, cpu_ms, n_params, rss, rss - rss0),
          flush=True)


if __name__ == "__main__":
    main()
