#!/usr/bin/python3
"""discrete_torch.py — PyTorch's side of tools/bench/discrete: one training step of the discrete families on
dynamically binarized Fashion-MNIST (made, mlegfn196) or UCI digits (d3pm), batch 128, written to compute
what the specs tools/bench/discrete-*.yaml compute with unigfn's plugins, call for call.

    discrete_torch.py --case made|mlegfn196|d3pm --threads T [--steps N] [--reps R] [--serve] [--data PATH]

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
d3pm (discrete-d3pm.yaml; plugins/models/d3pm, objective d3pm_hybrid): D3PM (Austin et al. 2021) on 8x8
  digits with 17 levels (D = 64, K = 17), T = 100, uniform kernel, cosine schedule; indices as d3pm.h's:
  s_k for k = 1..T, x = s_{T+1}, the network's time t = T+1-k (Austin's). One step, as d3pm_hybrid.c's
  hybrid_loss does it: k ~ U{1..T} a row; s_k ~ P_B(s_k | x) (d3pm_marginal_sample: each coordinate kept
  with ᾱ_k, else a uniform code); the x0-network, an MLP [onehot(s_k) (D·K), emb(t) (64)] -> 512 -> 512
  -> D·K, SiLU, with emb = [sin(t f_i), cos(t f_i)], f_i = 10000^(-i/31), i = 0..31 (ug_time_embedding),
  log_softmax over each coordinate's K logits: log p̃(x̃ | s_k) [B, D, K] (d3pm_x0_logp); then
  d3pm_kl_terms: log μ_θ = log_softmax(log a + log b̃) and log q = log_softmax(log a + log b) over the next
  value j, with log a_j = log Q_k[j, s_k] (log β_k/K off s_k, log(1 - β_k + β_k/K) at it) and log b_j =
  logsumexp(log p_j + log ᾱ_{k+1}, log(1 - ᾱ_{k+1}) - log K) (p = p̃ for μ_θ, onehot(x) with log zeros
  -1e4 for q; ᾱ_{T+1} = 1), KL = Σ_d Σ_j q (log q - log μ_θ) [B]; loss = T · mean(KL) + KL_0 + 0.01 ·
  mean(-Σ_d log p̃(x_d | s_k)), KL_0 = KL(P_B(s_1 | x) || uniform) in closed form (d3pm_prior_kl). The
  schedule is recomputed every step from φ (group backward, 0, untrained here: no graph, as unigfn records
  none through a group the term does not update): P_B's columns in float32 from φ (d3pm_schedule's
  tensors), P_F's and the marginal's ᾱ in double on the host (host_beta, host_cols). Per-row coefficients
  are indexed by k (unigfn multiplies a one-hot [B, T+1] by the column: the same values). φ is a parameter
  here too, so the counts agree. tools/bench/discrete_torch_check.py checks this loss against the direct
  matrix formulas.

The data batch is 128 training images drawn once, for made and mlegfn196 binarized once with
Bernoulli(level / 255) (the dataset's dynamic binarization), for d3pm the 17-level codes of 128 of the
1797 digits (any rows: the step's cost does not depend on which) (bench_train also draws one batch and
reuses it): data loading is not timed. The
caller sets OMP/OPENBLAS/MKL_NUM_THREADS; here set_num_threads(T), set_num_interop_threads(1). Protocol
as train_torch.py: without --serve R repetitions of N steps after a warm-up, one key=value line; with
--serve "ready", then "rep" -> "rep ms_iter=... cpu_ms_iter=...", "quit" -> the final line.
"""
import argparse
import gzip
import math
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
DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"  # the digits dataset's default path


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


def digits_batch(path, seed=0):
    """B of the UCI digits (digits.csv.gz: 64 levels 0..16 and the label a row) as codes: [B, 64] float32."""
    with gzip.open(path, "rt") as f:
        rows = np.loadtxt(f, delimiter=",", dtype=np.float32)
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.ascontiguousarray(rows[rng.choice(len(rows), B, replace=False), :64]))


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


NEG = -1.0e4                    # d3pm.h D3PM_NEG: the log of a structural zero
BETA_MAX = 1.0 - 1.0 / 1048576  # d3pm.h D3PM_BETA_MAX


def cosine_beta_bar(T):
    """d3pm_sched.c's cosine β̄ in our index: β̄[k] = β^A_{T+1-k} ([0] unused), float64 [T+1]."""
    bb = np.zeros(T + 1)
    for t in range(1, T + 1):
        f0 = math.cos(((t - 1) / T + 0.008) / 1.008 * math.pi / 2)
        f1 = math.cos((t / T + 0.008) / 1.008 * math.pi / 2)
        bb[T + 1 - t] = min(1.0 - f1 / f0, 0.999)
    return bb


def time_embedding(t, dim):
    """ug_time_embedding: [sin(t f), cos(t f)], f_i = exp(-ln(10000) i / (half - 1)) (float32 constants)."""
    half = dim // 2
    f = torch.from_numpy(np.exp(-math.log(10000.0) / (half - 1) * np.arange(half)).astype(np.float32))
    a = t.view(-1, 1) * f.view(1, half)  # [B, half]
    return torch.cat([torch.sin(a), torch.cos(a)], 1)  # [B, dim] (dim even)


class D3PM:
    """plugins/models/d3pm (uniform kernel) trained by d3pm_hybrid: see the module docstring."""

    def __init__(self, D=64, K=17, T=100, hidden=(512, 512), temb=64, ce_weight=0.01, lr=1e-3):
        self.D, self.K, self.T, self.temb, self.ce_weight = D, K, T, temb, ce_weight
        widths = [D * K + temb] + list(hidden) + [D * K]
        self.lin = nn.ModuleList([nn.Linear(widths[i], widths[i + 1]) for i in range(len(widths) - 1)])
        self.sched = nn.Module()
        self.sched.phi = nn.Parameter(torch.zeros(T), requires_grad=False)  # group backward: untrained here
        self.beta_bar = cosine_beta_bar(T)
        self.bbar32 = torch.from_numpy(self.beta_bar[1:].astype(np.float32))  # [T] β̄_k at k - 1
        self.modules = [self.lin, self.sched]
        self.opt = torch.optim.Adam(self.lin.parameters(), lr=lr)

    # ---- the schedule (d3pm_sched.c) ----
    def host_tables(self):
        """host_beta and host_cols from φ: P_F's columns [T+1] each (float32) and ᾱ [T+2] (float64)."""
        T, K = self.T, float(self.K)
        phi = self.sched.phi.detach().numpy().astype(np.float64)
        b = np.zeros(T + 2)
        b[1:T + 1] = np.minimum(self.beta_bar[1:] * np.exp(phi), BETA_MAX).astype(np.float32)
        ab = np.ones(T + 2)
        for k in range(T, 0, -1):
            ab[k] = ab[k + 1] * (1.0 - b[k])
        ab[0] = ab[1]
        col = np.zeros((4, T + 1))
        kk = np.arange(1, T + 1)
        col[0, 1:] = np.log(b[kk] / K)
        col[1, 1:] = np.log(1.0 - b[kk] + b[kk] / K)
        nab = ab[kk + 1]
        col[2, 1:] = np.where(nab > 0, np.log(np.maximum(nab, 1e-300)), NEG)
        col[3, 1:] = np.where(1 - nab > 0, np.log(np.maximum(1.0 - nab, 1e-300)), NEG)
        col[3, T] = NEG
        col = torch.from_numpy(col.astype(np.float32))
        return (col[0], col[1], col[2], col[3]), ab

    def pb_tables(self):
        """d3pm_schedule's P_B tensors from φ (float32): columns a1, a2, m1, m2 [T+1] and log ᾱ [T]."""
        K = float(self.K)
        beta = torch.clamp(self.bbar32 * torch.exp(self.sched.phi), 0.0, BETA_MAX)  # [T]
        log_ab = torch.flip(torch.cumsum(torch.flip(torch.log1p(-beta), [0]), 0), [0])  # [T] Σ_{j>=k}
        z, neg = torch.zeros(1), torch.full((1,), NEG)
        a1 = torch.cat([z, torch.log(torch.clamp(beta, min=1e-30)) - math.log(K)])
        a2 = torch.cat([z, torch.log(1.0 - beta * ((K - 1) / K))])
        nxt = log_ab[1:]  # [T-1] log ᾱ_{k+1}, k = 1..T-1
        m1 = torch.cat([z, nxt, z])
        m2 = torch.cat([z, torch.log(torch.clamp(1.0 - torch.exp(nxt), min=1e-30)), neg])
        return (a1, a2, m1, m2), log_ab

    # ---- the step terms (d3pm_steps.c) ----
    def x0_logp(self, s, t):
        """d3pm_x0_logp: log p̃(x̃ | s) [B, D, K] from one network pass on s [B, D] at times t [B]."""
        n = s.shape[0]
        oh = F.one_hot(s.long(), self.K).to(torch.float32).view(n, self.D * self.K)  # [B, D·K]
        h = torch.cat([oh, time_embedding(t, self.temb)], 1)  # [B, D·K + temb]
        for i, l in enumerate(self.lin):
            h = l(h)
            if i + 1 < len(self.lin):
                h = F.silu(h)
        return F.log_softmax(h.view(n, self.D, self.K), 2)

    def next_logits(self, s, logp, cols, k):
        """d3pm_next_logits (uniform): log a + log b over the next value j, [B, D, K]; k [B] per row."""
        n, D, K = s.shape[0], self.D, self.K
        a1, a2, m1, m2 = (c[k].view(n, 1, 1) for c in cols)  # d3pm_coef per row
        oh = F.one_hot(s.long(), K).bool()  # [B, D, K]
        la = torch.where(oh, a2, a1)  # d3pm_log_a
        u = logp + m1  # log ᾱ p_j
        v = (m2 - math.log(K)).view(n, 1, 1, 1).expand(n, D, K, 1)
        lb = torch.logsumexp(torch.cat([u.view(n, D, K, 1), v], 3), 3)  # log(ᾱ p_j + (1 - ᾱ)/K)
        return la + lb

    def prior_kl(self, log_ab):
        """d3pm_prior_kl (uniform): KL(P_B(s_1 | x) || uniform) for all D coordinates, [1]."""
        K = float(self.K)
        a = torch.exp(log_ab[0:1])  # ᾱ_1
        p = a * ((K - 1) / K) + 1.0 / K
        t1 = p * torch.log1p(a * (K - 1))
        om = 1.0 - a
        t2 = om * ((K - 1) / K) * torch.log(torch.clamp(om, min=1e-30))
        return (t1 + t2) * float(self.D)

    def loss(self, x, k, s, pf, pb, log_ab):
        """hybrid_loss after the draws: (loss, vb, ce) for data x, per-row k [B] and s_k [B, D]."""
        t = (self.T + 1 - k).to(torch.float32)  # d3pm_rows: t = T+1-k
        lp0 = self.x0_logp(s, t)  # [B, D, K]
        lmu = F.log_softmax(self.next_logits(s, lp0, pf, k), 2)
        lox = torch.where(F.one_hot(x.long(), self.K).bool(), torch.tensor(0.0), torch.tensor(NEG))  # log onehot(x)
        lq = F.log_softmax(self.next_logits(s, lox, pb, k), 2)
        kl = (torch.exp(lq) * (lq - lmu)).sum(2).sum(1)  # [B]
        vb = kl.mean() * float(self.T) + self.prior_kl(log_ab).sum()
        ce = -(lp0.gather(2, x.long().view(x.shape[0], self.D, 1)).view(x.shape[0], self.D).sum(1)).mean()
        return vb + ce * self.ce_weight, vb, ce

    def draw(self, x, ab):
        """k ~ U{1..T} a row and s_k ~ P_B(s_k | x) (d3pm_marginal_sample)."""
        n, D, K = x.shape[0], self.D, self.K
        k = torch.randint(1, self.T + 1, (n,))
        h = torch.from_numpy(ab.astype(np.float32))[k].view(n, 1)  # ᾱ_k a row
        keep = torch.rand(n, D) < h
        noise = torch.clamp(torch.floor(torch.rand(n, D) * K), 0.0, K - 1.0)  # uniform_codes
        s = torch.where(keep, x, noise) * (k > 0).to(torch.float32).view(n, 1)  # the root rows: zeros (none)
        return k, s

    def step(self, x):
        self.opt.zero_grad(set_to_none=True)
        pf, ab = self.host_tables()
        pb, log_ab = self.pb_tables()
        k, s = self.draw(x, ab)
        loss, vb, ce = self.loss(x, k, s, pf, pb, log_ab)
        vb.item(), ce.item()  # hybrid_loss logs both
        lv = loss.item()
        loss.backward()
        self.opt.step()
        return lv


# case -> (model class, the batch from the --data path, its default)
CASES = {"made": (MADE, lambda p: fashion_batch(p, 1), FMNIST),
         "mlegfn196": (MLEGFN196, lambda p: fashion_batch(p, 2), FMNIST),
         "d3pm": (D3PM, digits_batch, DIGITS)}


def main():
    ap = argparse.ArgumentParser(description="PyTorch side of tools/bench/discrete")
    ap.add_argument("--case", choices=sorted(CASES), required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--data", default=None, help="made, mlegfn196: the folder of train-images-idx3-ubyte[.gz] "
                    "(default %s); d3pm: digits.csv.gz (default %s)" % (FMNIST, DIGITS))
    a = ap.parse_args()
    torch.set_num_interop_threads(1)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cls, batch, default = CASES[a.case]
    model = cls()
    x = batch(a.data or default)
    n_params = sum(p.numel() for mod in model.modules for p in mod.parameters())
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    ms, cpu_ms, n_reps = serve_reps(lambda: model.step(x), a.steps, a.reps, a.serve, "discrete_torch")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("torch case=%s threads=%d steps=%d reps=%d ms_iter=%.6f cpu_ms_iter=%.6f params=%d maxrss_kb=%d "
          "maxrss_delta_kb=%d" % (a.case, a.threads, a.steps, n_reps, ms, cpu_ms, n_params, rss, rss - rss0),
          flush=True)


if __name__ == "__main__":
    main()
