#!/usr/bin/python3
"""discrete_torch_check.py — checks that discrete_torch.py's D3PM class computes the loss of
plugins/models/d3pm's d3pm_hybrid, by recomputing it on tiny cases the slow, direct way in float64: the
transition matrices Q_k = (1-β_k) I + β_k/K 11ᵀ as K x K arrays, the cumulative Q̄_k = Q_T ⋯ Q_k as
their products, the network one row at a time with the embedding written out, and for each coordinate
  q(s_{k+1} = j | s_k, x)  ∝ Q_k[j, s_k] Q̄_{k+1}[x, j]
  μ_θ(s_{k+1} = j | s_k)   ∝ Σ_x̃ Q_k[j, s_k] Q̄_{k+1}[x̃, j] p̃_θ(x̃ | s_k)   (Austin et al.'s Eq. 4)
  loss = T · mean_b Σ_d KL(q || μ_θ) + KL(onehot(x) Q̄_1 || uniform) · D + λ mean_b(-Σ_d log p̃(x_d | s_k))
(d3pm.h, d3pm_steps.c, d3pm_hybrid.c). Also checks the draw of s_k against Q̄_k: P(s_k = x) =
Q̄_k[x, x] and every other code with Q̄_k[x, j], by counting. Exits 1 on a mismatch. Needs torch
(/usr/bin/python3 with python3-torch); a check of the benchmark's PyTorch side, not one of unigfn's
tests: run it by hand after changing that class.

    tools/bench/discrete_torch_check.py
"""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import discrete_torch as dt  # noqa: E402


def direct(m, x, k, s):
    """The loss of D3PM m on x, k, s [B] / [B, D] by the formulas above, in float64."""
    D, K, T = m.D, m.K, m.T
    phi = m.sched.phi.detach().double().numpy()
    beta = [0.0] + [min(m.beta_bar[j] * math.exp(phi[j - 1]), dt.BETA_MAX) for j in range(1, T + 1)]
    Q = [None] + [(1 - beta[j]) * np.eye(K) + beta[j] / K * np.ones((K, K)) for j in range(1, T + 1)]
    Qbar = [None] * (T + 2)
    Qbar[T + 1] = np.eye(K)
    for j in range(T, 0, -1):
        Qbar[j] = Qbar[j + 1] @ Q[j]  # onehot(x) Q_T ⋯ Q_j
    W = [(l.weight.detach().double().numpy(), l.bias.detach().double().numpy()) for l in m.lin]
    half = m.temb // 2
    freqs = [math.exp(-math.log(10000.0) * i / (half - 1)) for i in range(half)]
    kls, ces = [], []
    for b in range(x.shape[0]):
        kb, t = int(k[b]), float(m.T + 1 - int(k[b]))
        xb, sb = [int(v) for v in x[b]], [int(v) for v in s[b]]
        inp = np.zeros(D * K + m.temb)
        for d in range(D):
            inp[d * K + sb[d]] = 1.0
        for i, f in enumerate(freqs):
            inp[D * K + i] = math.sin(t * f)
            inp[D * K + half + i] = math.cos(t * f)
        h = inp
        for i, (w, bias) in enumerate(W):
            h = w @ h + bias
            if i + 1 < len(W):
                h = h / (1.0 + np.exp(-h))  # SiLU
        kl, ce = 0.0, 0.0
        for d in range(D):
            z = h[d * K:(d + 1) * K]
            p = np.exp(z - z.max())
            p /= p.sum()  # p̃(· | s_k)_d
            ce -= math.log(p[xb[d]])
            q = np.array([Q[kb][j, sb[d]] * Qbar[kb + 1][xb[d], j] for j in range(K)])
            mu = np.array([sum(Q[kb][j, sb[d]] * Qbar[kb + 1][x0, j] * p[x0] for x0 in range(K)) for j in range(K)])
            q, mu = q / q.sum(), mu / mu.sum()
            kl += sum(q[j] * math.log(q[j] / mu[j]) for j in range(K) if q[j] > 0)
        kls.append(kl)
        ces.append(ce)
    q1 = Qbar[1][0]  # P_B(s_1 | x) for x = 0 (the same KL for every x by symmetry)
    prior = D * sum(v * math.log(v * K) for v in q1)
    vb = T * float(np.mean(kls)) + prior
    ce = float(np.mean(ces))
    return vb + m.ce_weight * ce, vb, ce


def main():
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    bad = 0
    for case in [dict(D=3, K=4, T=6, hidden=(8,), temb=4, ce_weight=0.3),
                 dict(D=2, K=5, T=9, hidden=(7, 6), temb=6, ce_weight=0.01)]:
        m = dt.D3PM(**case)
        with torch.no_grad():
            m.sched.phi.copy_(torch.from_numpy(rng.normal(0, 0.3, m.T).astype(np.float32)))  # a learned φ
        n = 12
        x = torch.from_numpy(rng.integers(0, m.K, (n, m.D)).astype(np.float32))
        k = torch.from_numpy(np.concatenate([[1, m.T, m.T - 1], rng.integers(1, m.T + 1, n - 3)]))  # both ends
        s = torch.from_numpy(rng.integers(0, m.K, (n, m.D)).astype(np.float32))
        pf, ab = m.host_tables()
        pb, log_ab = m.pb_tables()
        got = [float(v) for v in m.loss(x, k, s, pf, pb, log_ab)]
        want = direct(m, x, k, s)
        for name, g, w in zip(("loss", "vb", "ce"), got, want):
            ok = abs(g - w) <= 1e-4 * max(1.0, abs(w))
            bad += not ok
            print("%s %s: torch %.6f direct %.6f %s" % (case, name, g, w, "ok" if ok else "MISMATCH"))
        # the draw: s_k ~ onehot(x) Q̄_k, by counting, for a few k
        N = 200000
        xs = torch.full((N, m.D), 1.0)
        for kk in (1, m.T // 2, m.T):
            k_, s_ = m.draw(xs, ab)
            sel = s_[k_ == kk]
            freq = np.bincount(sel.long().flatten().numpy(), minlength=m.K) / sel.numel()
            phi = m.sched.phi.detach().double().numpy()
            Qb = np.eye(m.K)
            for j in range(m.T, kk - 1, -1):
                bj = min(m.beta_bar[j] * math.exp(phi[j - 1]), dt.BETA_MAX)
                Qb = Qb @ ((1 - bj) * np.eye(m.K) + bj / m.K * np.ones((m.K, m.K)))
            se = np.sqrt(Qb[1] * (1 - Qb[1]) / sel.numel())
            ok = bool(np.all(np.abs(freq - Qb[1]) <= 5 * se + 1e-12))
            bad += not ok
            print("%s draw k=%d (%d codes): P(s = x) %.4f want %.4f, max |freq - Q̄| %.2g (5 se %.2g) %s" % (
                case, kk, sel.numel(), freq[1], Qb[1][1], np.abs(freq - Qb[1]).max(), 5 * se.max(),
                "ok" if ok else "MISMATCH"))
    print("discrete_torch_check: %s" % ("ok" if not bad else "%d MISMATCHES" % bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
