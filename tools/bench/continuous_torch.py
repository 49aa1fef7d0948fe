#!/usr/bin/python3
"""continuous_torch.py — PyTorch's side of tools/bench/continuous: one training step of the continuous
families on 2-D data, batch 256, written to compute what the specs in experiments/continuous/specs/
compute with unigfn's plugins, call for call.

    continuous_torch.py --case ddpm|mlegfn_ddpm|realnvp|ssm --threads T [--steps N] [--reps R] [--serve]

ddpm (specs/ddpm.yaml; plugins/models/ddpm, objective ddpm_simple): ε-network MLP on [s, emb(t)]
  (2 + 64 -> 256 -> 256 -> 256 -> 2, SiLU; emb = ug_time_embedding of Ho's t = T+1-k: sin | cos of
  t·exp(-ln(1e4) i / 31), i < 32), T = 100, linear β̄ (1e-4..0.02 rescaled by 1000/T). One step: k ~ U{1..T}
  a row, s = √ᾱ_k c(x) + √(1-ᾱ_k) ε (c(x) = x / 0.25, x_scale), loss = mean (ε - ε_θ(s, t))², backward,
  Adam (lr 1e-3) and the parameters' moving average (ema 0.999).
mlegfn_ddpm (specs/mlegfn-ddpm.yaml): the ddpm step, then TBC (Eq. 22) on φ (β_k = β̄_k e^φ_k): every row
  twice (512 rows), τ ~ P_B(·|x) for all T steps (s_k = √(1-β_k) s_{k+1} + √β_k ε, states detached),
  log P_B with a graph in φ, log P_F by the ε-network without a graph (P_F uses β as a constant),
  loss = mean (w(τ) - w(τ'))², w = Σ log P_F - Σ log P_B; backward into φ, Adam (lr 1e-4), ema. The spec
  runs TBC every 20 steps; the benchmark runs it every step (objective.1.every=1) to time the TBC step.
realnvp (specs/realnvp.yaml): 8 affine couplings, each an MLP 2 -> 128 -> 128 -> 4 (ReLU) on the fixed
  coordinate, log-scales 2·tanh(r/2); maximum likelihood: z = f^{-1}(x) through the 8 inverses,
  loss = -mean(log N(z) + Σ log|det|), backward, Adam.
ssm (specs/scoresde-ssm.yaml): ScoreSDE (VP) score MLP on [x, emb(100 t)] (2 + 32 -> 256 -> 256 -> 256 ->
  2, SiLU; the output divided by the marginal std, the plugin's net parameterization); per row a uniform
  index, x_k from the discrete chain's closed-form marginal, one Rademacher projection v;
  loss = mean λ_k (vᵀ ∂(vᵀs)/∂x + ½ |s|²) (SSM-VR, λ_k = V_k) through a second-order graph, backward, Adam.

The data batch is 256 fixed checkerboard points (drawn once; generation is not timed, as bench_train
does). The caller sets OMP/OPENBLAS/MKL_NUM_THREADS; here set_num_threads(T), set_num_interop_threads(1).
Protocol as train_torch.py: without --serve R repetitions of N steps after a warm-up, one key=value
line; with --serve "ready", then "rep" -> "rep ms_iter=... cpu_ms_iter=...", "quit" -> the final line.
"""
import argparse
import math
import os
import resource
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import serve_reps  # noqa: E402

B = 256
T = 100


def checkerboard(n, seed=0):
    rng = np.random.default_rng(seed)
    x1 = rng.random(n) * 4 - 2
    x2 = rng.random(n) - rng.integers(0, 2, n) * 2 + (np.floor(x1) % 2)
    return torch.from_numpy((np.stack([x1, x2], 1) * 2).astype(np.float32))


def mlp(widths, act):
    mods = []
    for i in range(len(widths) - 1):
        mods.append(nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            mods.append(act())
    return nn.Sequential(*mods)


def time_embedding(t, dim):
    half = dim // 2
    i = torch.arange(half, dtype=torch.float32)
    f = torch.exp(-math.log(10000.0) * i / max(half - 1, 1))
    a = t[:, None] * f[None, :]
    return torch.cat([torch.sin(a), torch.cos(a)], 1)


def linear_beta_bar():
    """β̄_k at k = 1..T in the GFlowNet index (k = 1 is the noisiest: Ho's t = T+1-k)."""
    s = 1000.0 / T
    ho = np.linspace(1e-4 * s, min(0.02 * s, 0.999), T)  # Ho's β_t, t = 1..T
    return torch.tensor(ho[::-1].copy(), dtype=torch.float32)  # index k-1 -> Ho's t = T+1-k


def log_normal(x, mean, log_std):
    return (-0.5 * ((x - mean) / torch.exp(log_std)) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(1)


class DDPM:
    def __init__(self, tbc):
        self.net = mlp([2 + 64, 256, 256, 256, 2], nn.SiLU)
        self.phi = torch.zeros(T, requires_grad=True)
        self.bbar = linear_beta_bar()
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        self.opt_b = torch.optim.Adam([self.phi], lr=1e-4) if tbc else None
        self.modules = [self.net]
        self.extra = T
        # optim.<group>.ema: 0.999 in the specs: a moving average of every parameter after each step
        self.ema = [p.detach().clone() for p in self.net.parameters()]
        self.ema_b = self.phi.detach().clone()

    def ema_step(self, params, avg):
        with torch.no_grad():
            for a, p in zip(avg, params):
                a.lerp_(p, 1 - 0.999)

    def eps(self, s, t):
        return self.net(torch.cat([s, time_embedding(t, 64)], 1))

    def simple(self, x):
        x = x / 0.25  # x_scale: 0.25
        beta = (self.bbar * torch.exp(self.phi.detach())).clamp(max=0.999)   # [T] index k-1
        ab = torch.flip(torch.cumprod(torch.flip(1 - beta, [0]), 0), [0])    # ᾱ_k = Π_{j>=k}(1-β_j)
        k = torch.randint(1, T + 1, (x.shape[0],))
        a = ab[k - 1][:, None]
        e = torch.randn_like(x)
        s = a.sqrt() * x + (1 - a).sqrt() * e
        loss = ((e - self.eps(s, (T + 1 - k).float())) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.ema_step(list(self.net.parameters()), self.ema)
        return loss.item()

    def tbc(self, x):
        xx = torch.cat([x, x], 0) / 0.25  # [2B, D] (x_scale)
        n = xx.shape[0]
        beta = (self.bbar * torch.exp(self.phi)).clamp(max=0.999)  # [T], graph in φ
        bc = beta.detach()
        ab = torch.flip(torch.cumprod(torch.flip(1 - bc, [0]), 0), [0])
        lpb = torch.zeros(n)
        lpf = torch.zeros(n)
        sp = xx
        for k in range(T, 0, -1):  # step k: s_k <- s_{k+1}
            b = beta[k - 1]
            with torch.no_grad():
                s = torch.sqrt(1 - bc[k - 1]) * sp + torch.sqrt(bc[k - 1]) * torch.randn_like(sp)
            lpb = lpb + log_normal(s, torch.sqrt(1 - b) * sp, 0.5 * torch.log(b).expand(1, 2))
            with torch.no_grad():  # log P_F(sp | s): the ε-network, no graph (P_F's β is a constant)
                t = torch.full((n,), float(T + 1 - k))
                e = self.eps(s, t)
                mean = (s - bc[k - 1] / torch.sqrt(1 - ab[k - 1]) * e) / torch.sqrt(1 - bc[k - 1])
                lpf = lpf + log_normal(sp, mean, 0.5 * torch.log(bc[k - 1]).expand(1, 2))
            sp = s
        lpf = lpf + log_normal(sp, torch.zeros(1, 2), torch.zeros(1, 2))  # the prior step
        w = lpf - lpb
        loss = ((w[:B] - w[B:]) ** 2).mean()
        self.opt_b.zero_grad()
        loss.backward()
        self.opt_b.step()
        self.ema_step([self.phi], [self.ema_b])
        return loss.item()

    def step(self, x):
        v = self.simple(x)
        return self.tbc(x) if self.opt_b else v


class RealNVP:
    def __init__(self, L=8):
        self.nets = [mlp([2, 128, 128, 4], nn.ReLU) for _ in range(L)]
        for n in self.nets:
            nn.init.zeros_(n[-1].weight)
            nn.init.zeros_(n[-1].bias)
        self.keep = [torch.tensor([[1.0, 0.0]]) if k % 2 == 0 else torch.tensor([[0.0, 1.0]]) for k in range(L)]
        params = [p for n in self.nets for p in n.parameters()]
        self.opt = torch.optim.Adam(params, lr=1e-3)
        self.modules = self.nets
        self.extra = 0

    def step(self, x):
        y, ld = x, torch.zeros(x.shape[0])
        for k in reversed(range(len(self.nets))):  # z = f_1^{-1}(... f_L^{-1}(x))
            c = self.keep[k]
            h = self.nets[k](y * c)
            sig = 2.0 * torch.tanh(h[:, :2] / 2.0) * (1 - c)
            t = h[:, 2:] * (1 - c)
            y = (y - t) * torch.exp(-sig)
            ld = ld + sig.sum(1)
        loss = -(log_normal(y, torch.zeros(1, 2), torch.zeros(1, 2)) - ld).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()


class SSM:
    """VP SDE, β(t) = 0.1 + 19.9 t, T = 100 Euler–Maruyama steps (plugins/models/score_sde/sde.h): the
    discrete chain's marginal of s_k given x is N(A_k x, V_k I), the products of the EM steps from x
    (computed once here). ssm as specs/scoresde-ssm.yaml sets it: Rademacher v, the variance-reduced
    form, λ_k = V_k; the score is MLP([x, emb(100 t)]) / √V_k."""

    def __init__(self):
        self.net = mlp([2 + 32, 256, 256, 256, 2], nn.SiLU)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=3e-3)
        self.modules = [self.net]
        self.extra = 0
        h = 1.0 / T
        A, V = [1.0], [0.0]  # j EM steps from x (t = 0) toward t = 1
        for j in range(T):
            bt = 0.1 + 19.9 * (j * h)
            a = 1 - 0.5 * h * bt
            A.append(A[-1] * a)
            V.append(V[-1] * a * a + h * bt)
        self.A = torch.tensor(A, dtype=torch.float32)
        self.V = torch.tensor(V, dtype=torch.float32)

    def step(self, x):
        j = torch.randint(1, T + 1, (x.shape[0],))  # noise level t = j / T
        a, v = self.A[j][:, None], self.V[j][:, None]
        xk = (a * x + v.sqrt() * torch.randn_like(x)).detach().requires_grad_(True)
        t = j.float() / T
        s = self.net(torch.cat([xk, time_embedding(100.0 * t, 32)], 1)) / v.sqrt()
        pr = torch.randint(0, 2, xk.shape).float() * 2 - 1
        sv = (pr * s).sum(1)
        g = torch.autograd.grad(sv.sum(), xk, create_graph=True)[0]
        loss = (v[:, 0] * ((g * pr).sum(1) + 0.5 * (s ** 2).sum(1))).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()


def main():
    ap = argparse.ArgumentParser(description="PyTorch side of tools/bench/continuous")
    ap.add_argument("--case", choices=["ddpm", "mlegfn_ddpm", "realnvp", "ssm"], required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--serve", action="store_true")
    a = ap.parse_args()
    torch.set_num_interop_threads(1)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = {"ddpm": lambda: DDPM(False), "mlegfn_ddpm": lambda: DDPM(True), "realnvp": RealNVP, "ssm": SSM}[a.case]()
    x = checkerboard(B)
    n_params = sum(p.numel() for mod in model.modules for p in mod.parameters()) + model.extra
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    ms, cpu_ms, n_reps = serve_reps(lambda: model.step(x), a.steps, a.reps, a.serve, "continuous_torch")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("torch case=%s threads=%d steps=%d reps=%d ms_iter=%.6f cpu_ms_iter=%.6f params=%d maxrss_kb=%d "
          "maxrss_delta_kb=%d" % (a.case, a.threads, a.steps, n_reps, ms, cpu_ms, n_params, rss, rss - rss0),
          flush=True)


if __name__ == "__main__":
    main()
