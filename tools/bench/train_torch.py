#!/usr/bin/python3
"""train_torch.py — PyTorch's side of tools/bench/train: one training iteration of MLE-GFN or EB-GFN on
32-bit Gray-coded checkerboard data (REPRODUCTION.md §3), written to compute what unigfn's specs
experiments/paper/{mlegfn,ebgfn}-checkerboard.yaml compute, call for call.

    train_torch.py --algo mlegfn|ebgfn --threads T [--steps N] [--reps R] [--k K] [--serve]

MLE-GFN (binary_gfn shared_trunk false; objectives kl_tb then tbc):
  P_F MLP 32-256-256-256-64 and P_B MLP 32-256-256-256-32, LeakyReLU(0.01).
  (a) kl_tb: tau ~ P_B(.|x) for the 128 data rows, 32 steps. Per step P_B logits at the current state
      (no graph: P_B is not trained by this term), P_F logits at the erased state (with graph). loss =
      mean sum_k (log P_B - log P_F); backward into P_F; Adam lr 1e-4.
  (b) tbc: the 128 rows twice (256 rows), tau ~ P_B; P_B with graph, P_F without. r = sum(log P_F -
      log P_B); loss = mean (r[:128] - r[128:])^2; backward into P_B; Adam lr 1e-5.
EB-GFN (shared_trunk true, log_z, energy; objectives tb (batch 256, forward_ratio 0.5) then ebm_cd):
  one trunk 32-256-256-256-96 (64 forward logits | 32 backward logits), scalar log Z, energy MLP
  32-256-256-256-1 with ELU.
  (a) tb: 128 trajectories sampled forward from s0 and 128 sampled backward from data, trunk with
      graph at every state (33 calls per half), reward -E(x) without graph; loss = mean (log Z + sum
      log P_F - log R - sum log P_B)^2 over the 256; Adam lr 1e-3 (trunk) and 1 (log Z).
  (b) ebm_cd: no grad: erase K coordinates of x with P_B, rebuild them with P_F, Barker acceptance
      sigmoid(log-ratio); then loss = -(mean log R(x) - mean log R(neg)); Adam lr 1e-3 on the energy.

The per-step walks are those of plugins/models/binary_gfn/bgfn_traj.c (which network is called on which
state, with or without graph), so both sides do the same GEMMs. The data batch is one fixed batch of
128 checkerboard points (REPRODUCTION §1-2), drawn once: data generation is not timed (bench_train
does the same). The caller sets OMP/OPENBLAS/MKL_NUM_THREADS; here set_num_threads(T) and
set_num_interop_threads(1).

Without --serve: warm-up of N/5 iterations, then R repetitions of N iterations; prints one key=value
line (ms_iter = median over repetitions). With --serve (used by tools/bench/train to interleave the two
sides): after the warm-up prints "ready", then for each line "rep" on stdin runs N iterations and prints
"rep ms_iter=..."; "quit" (or end of input) prints the final line with the memory figures.
"""
import argparse
import os
import resource
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import serve_reps  # noqa: E402

D = 32
B = 128
INT_SCALE = 5461.8654  # checkerboard (REPRODUCTION §2)
NEG_INF = float("-inf")


def gray_bits(pts):
    """2-D points [n, 2] in checkerboard's int_scale as sign + 15-bit Gray code per coordinate (REPRODUCTION
    §2): [n, 32] float32 of 0/1."""
    t = pts * INT_SCALE
    m = np.minimum(np.abs(t).astype(np.int64), 2 ** 15 - 1)
    g = m ^ (m >> 1)
    bits = np.zeros((len(pts), 32), np.float32)
    for c in range(2):
        bits[:, 16 * c] = t[:, c] < 0
        for k in range(15):
            bits[:, 16 * c + 1 + k] = (g[:, c] >> (14 - k)) & 1
    return bits


def checkerboard_bits(n, seed=0):
    """n checkerboard points (REPRODUCTION §1) in Gray code: [n, 32] tensor of 0/1."""
    rng = np.random.default_rng(seed)
    x1 = rng.random(n) * 4 - 2
    x2 = rng.random(n) - rng.integers(0, 2, n) * 2 + (np.floor(x1) % 2)
    return torch.from_numpy(gray_bits(np.stack([x1, x2], 1) * 2))


def mlp(widths, act):
    mods = []
    for i in range(len(widths) - 1):
        mods.append(nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            mods.append(act())
    return nn.Sequential(*mods)


def pick(masked, idx):
    """log_softmax(masked)[row, idx[row]] as masked[idx] - logsumexp(masked), like bgfn pick_logprob: [B]."""
    return masked.gather(1, idx.unsqueeze(1)).squeeze(1) - torch.logsumexp(masked, 1)


def sample(masked):
    """One categorical draw per row from masked logits (-inf = not allowed): [B] int64."""
    with torch.no_grad():
        return torch.multinomial(torch.softmax(masked, 1), 1).squeeze(1)


class Policy:
    """The binary GFlowNet's two heads, separate nets or one shared trunk (binary_gfn.h layout)."""

    def __init__(self, shared, trunk=None, pf=None, pb=None):
        self.shared, self.trunk, self.pf, self.pb = shared, trunk, pf, pb

    def heads(self, s, need_f, need_b, grad_f, grad_b):
        """bgfn heads(): forward logits [B, 2D] / backward logits [B, D], with a graph only where asked."""
        f = b = None
        if not need_f and not need_b:
            return f, b
        if self.shared:
            with torch.set_grad_enabled((need_f and grad_f) or (need_b and grad_b)):
                o = self.trunk(s)  # [B, 3D]
            if need_f:
                f = o[:, :2 * D] if grad_f else o[:, :2 * D].detach()
            if need_b:
                b = o[:, 2 * D:] if grad_b else o[:, 2 * D:].detach()
        else:
            if need_f:
                with torch.set_grad_enabled(grad_f):
                    f = self.pf(s)  # [B, 2D]
            if need_b:
                with torch.set_grad_enabled(grad_b):
                    b = self.pb(s)  # [B, D]
        return f, b


def masks(s):
    """Additive masks of state s [B, D]: P_F [B, 2D] (-inf on both values of set positions), P_B [B, D]
    (-inf on unset positions)."""
    is_set = s >= 0
    zero = torch.zeros((), dtype=torch.float32)
    ninf = torch.full((), NEG_INF, dtype=torch.float32)
    fb = torch.where(is_set, ninf, zero).repeat_interleave(2, 1)
    bb = torch.where(is_set, zero, ninf)
    return fb, bb


def set_pos(t, j, val):
    """t[r, j[r]] = val in place (t [B, D])."""
    t.scatter_(1, j.unsqueeze(1), val)


def set_pair(fb, j, val):
    """fb[r, 2 j[r]] = fb[r, 2 j[r] + 1] = val in place (fb [B, 2D])."""
    rows = fb.shape[0]
    fb.view(rows, D, 2).scatter_(1, j.view(rows, 1, 1).expand(rows, 1, 2), val)


def walk_backward(pol, x, steps, grad_f, grad_b):
    """bgfn_sample_backward: `steps` erasures from x [B, D] with P_B; returns (sum log P_F, sum log P_B,
    the first state)."""
    s = x
    fb, bb = masks(s)
    lpf = lpb = None
    f, b = pol.heads(s, False, steps > 0, False, grad_b)
    for k in range(steps):
        masked = b + bb  # [B, D]
        j = sample(masked)
        t = pick(masked, j)
        lpb = t if lpb is None else lpb + t
        v = s.gather(1, j.unsqueeze(1)).squeeze(1) > 0.5
        a = 2 * j + v.long()
        s = s.clone()  # a new state per step: the last one is saved by the network's graph
        set_pos(s, j, -1.0)
        set_pair(fb, j, 0.0)
        set_pos(bb, j, NEG_INF)
        f, b = pol.heads(s, True, k + 1 < steps, grad_f, grad_b)
        t = pick(f + fb, a)
        lpf = t if lpf is None else lpf + t
    return lpf, lpb, s


def walk_forward(pol, s, steps, grad_f, grad_b):
    """bgfn_sample_forward: `steps` settings from s [B, D] with P_F; returns (sum log P_F, sum log P_B,
    the last state)."""
    fb, bb = masks(s)
    lpf = lpb = None
    f, b = pol.heads(s, steps > 0, False, grad_f, False)
    for k in range(steps):
        masked = f + fb  # [B, 2D]
        a = sample(masked)
        t = pick(masked, a)
        lpf = t if lpf is None else lpf + t
        j = torch.div(a, 2, rounding_mode="floor")
        v = (a % 2).to(torch.float32)
        s = s.clone()
        s.scatter_(1, j.unsqueeze(1), v.unsqueeze(1))
        set_pair(fb, j, NEG_INF)
        set_pos(bb, j, 0.0)
        f, b = pol.heads(s, k + 1 < steps, True, grad_f, grad_b)
        t = pick(b + bb, j)
        lpb = t if lpb is None else lpb + t
    return lpf, lpb, s


class MLEGFN:
    def __init__(self):
        self.pf = mlp([D, 256, 256, 256, 2 * D], lambda: nn.LeakyReLU(0.01))
        self.pb = mlp([D, 256, 256, 256, D], lambda: nn.LeakyReLU(0.01))
        self.pol = Policy(False, pf=self.pf, pb=self.pb)
        self.opt_f = torch.optim.Adam(self.pf.parameters(), lr=1e-4)
        self.opt_b = torch.optim.Adam(self.pb.parameters(), lr=1e-5)
        self.modules = [self.pf, self.pb]

    def iteration(self, x):
        # (a) kl_tb, direction data, updates [forward]
        self.opt_f.zero_grad(set_to_none=True)
        lpf, lpb, _ = walk_backward(self.pol, x, D, grad_f=True, grad_b=False)
        loss = (lpb - lpf).mean()
        lv = loss.item()
        loss.backward()
        self.opt_f.step()
        # (b) tbc, updates [backward]: two trajectories per row
        self.opt_b.zero_grad(set_to_none=True)
        lpf, lpb, _ = walk_backward(self.pol, torch.cat([x, x], 0), D, grad_f=False, grad_b=True)
        r = lpf - lpb  # [2B]
        loss2 = (r[:B] - r[B:]).square().mean()
        lv2 = loss2.item()
        loss2.backward()
        self.opt_b.step()
        return lv + lv2


class EBGFN:
    def __init__(self, k):
        self.k = k
        self.trunk = mlp([D, 256, 256, 256, 3 * D], lambda: nn.LeakyReLU(0.01))
        self.log_z = nn.Parameter(torch.zeros(()))
        self.energy = mlp([D, 256, 256, 256, 1], nn.ELU)
        self.pol = Policy(True, trunk=self.trunk)
        self.opt_g = torch.optim.Adam([{"params": self.trunk.parameters(), "lr": 1e-3},
                                       {"params": [self.log_z], "lr": 1.0}])
        self.opt_e = torch.optim.Adam(self.energy.parameters(), lr=1e-3)
        self.modules = [self.trunk, self.energy]

    def log_reward(self, x):
        return -self.energy(x).squeeze(1)  # [B]

    def iteration(self, x):
        # (a) tb: 128 forward-sampled + 128 data-backward trajectories; energy fixed (no graph)
        self.opt_g.zero_grad(set_to_none=True)
        s0 = torch.full((B, D), -1.0)
        lpf, lpb, xf = walk_forward(self.pol, s0, D, grad_f=True, grad_b=True)
        with torch.no_grad():
            lr_f = self.log_reward(xf)
        res_f = lpf - lpb - lr_f + self.log_z
        lpf, lpb, _ = walk_backward(self.pol, x, D, grad_f=True, grad_b=True)
        with torch.no_grad():
            lr_b = self.log_reward(x)
        res_b = lpf - lpb - lr_b + self.log_z
        loss = torch.cat([res_f, res_b]).square().mean()
        lv = loss.item()
        loss.backward()
        self.opt_g.step()
        # (b)+(c) ebm_cd: back-and-forth negatives with K erased/rebuilt coordinates, then the energy step
        self.opt_e.zero_grad(set_to_none=True)
        lr_data = self.log_reward(x)  # [B], graph into the energy
        with torch.no_grad():
            bf, bb_, u = walk_backward(self.pol, x, self.k, False, False)
            ff, fb_, xp = walk_forward(self.pol, u, self.k, False, False)
            lr_xp = self.log_reward(xp)
            ratio = lr_xp - lr_data + (fb_ + bf) - (bb_ + ff)
            accept = torch.rand(B) < torch.sigmoid(ratio)
            neg = torch.where(accept.unsqueeze(1), xp, x)
        lr_neg = self.log_reward(neg)
        loss2 = -(lr_data.mean() - lr_neg.mean())
        lv2 = loss2.item()
        loss2.backward()
        self.opt_e.step()
        return lv + lv2


def main():
    ap = argparse.ArgumentParser(description="PyTorch side of tools/bench/train")
    ap.add_argument("--algo", choices=["mlegfn", "ebgfn"], required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=50, help="iterations per repetition")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--k", type=int, default=1, help="EB-GFN: coordinates erased and rebuilt per negative")
    ap.add_argument("--serve", action="store_true", help="wait for 'rep' lines on stdin (see the top)")
    a = ap.parse_args()
    torch.set_num_interop_threads(1)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    model = MLEGFN() if a.algo == "mlegfn" else EBGFN(a.k)
    x = checkerboard_bits(B)
    n_params = sum(p.numel() for mod in model.modules for p in mod.parameters())
    if a.algo == "ebgfn":
        n_params += 1

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # after imports and model set-up

    ms, cpu_ms, n_reps = serve_reps(lambda: model.iteration(x), a.steps, a.reps, a.serve, "train_torch")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("torch algo=%s threads=%d steps=%d reps=%d k=%d ms_iter=%.6f cpu_ms_iter=%.6f params=%d maxrss_kb=%d "
          "maxrss_delta_kb=%d torch_threads=%d interop_threads=%d" % (
              a.algo, a.threads, a.steps, n_reps, a.k, ms, cpu_ms, n_params, rss, rss - rss0,
              torch.get_num_threads(), torch.get_num_interop_threads()), flush=True)


if __name__ == "__main__":
    main()
