#!/usr/bin/python3
"""ebgfn_public.py — run the public EB-GFN code (GFNOrg/EB_GFN: a checkout given by --src; nothing of it
is in this repository) on one of the 2-D tasks, with checkpoints, and evaluate it with REPRODUCTION.md
§4's protocol, so its numbers can stand beside unigfn's (experiments/paper/analysis.md).

    tools/reference/ebgfn_public.py --src PATH --data checkerboard [--iters 10000] [--type tbrf]
        [--seed 0] [--eval-every 2000] [--ckpt FILE] [--out FILE.jsonl] [--threads 1]

One iteration is the public synthetic/train.py's with its README's flags (--lr 1e-3 --type tbrf --hid 256
--hl 3 --glr 1e-3 --zlr 1 --rc 0 --br 0.5 --lk 1 --wk 1e5 --wm 1): a GFlowNet step on the batch (half
forward, half backward-from-data trajectory balance, reward = the energy held fixed), back-and-forth
negatives with K = clamp(⌊D (it + 1) / 1e5⌋, 1, D) and the sigmoid (MH) acceptance, one energy step.
The loop is restated here because train.py has no checkpoints; the model, losses, sampler and data come
from the public modules themselves. Its data generator draws from an unseeded RandomState; here it and
torch/numpy are seeded with --seed, so a run can be repeated.

Every --eval-every iterations and at the end it prints (and appends to --out) one JSON line:
  nll, nll_sem   REPRODUCTION §4: log p̂(x) = logsumexp_j log P_F(τ_j)/P_B(τ_j|x) − log M, M = 100,
                 over 4 × 1000 fresh rows (seeds 10000..10003); sem over the 4000 rows. For tbrf the
                 position choices cancel and the ratio is the public loss's sum of value log-probs; the
                 public tbrf cal_logp negates it, which would print a negative NLL, so it is not used.
  mmd, mmd_sd    the public exp_hamming_mmd's estimate ×1e4 (unbiased, kernel exp(−0.1 · Hamming)), 10
                 groups of 4000 GFlowNet samples vs fresh data; the Hamming distances come from one
                 matrix product instead of its [4000, 4000, 32] difference tensors (minutes per group).
  energy_nll     −(the public estimate_ll) of the energy model: log Z by 2^18 uniform binary codes,
                 the same estimate as build/tools/ebm_nll.
The checkpoint (--ckpt, default next to --out) is written every 500 iterations and on SIGTERM/SIGINT;
a second launch with the same --ckpt continues from it. The public code needs torch, numpy, sympy and
sklearn; its debugging/plotting imports (ipdb, tqdm, torchvision, matplotlib) are stubbed if absent.
"""
import argparse
import json
import math
import os
import random
import signal
import sys
import time
import types


def stub_optional_modules():
    """ipdb, tqdm, torchvision and matplotlib are imported by the public modules but not needed here."""
    class _Bar:
        def __init__(self, it=None, *a, **k):
            self.it = it if it is not None else []

        def __iter__(self):
            return iter(self.it)

        def set_description(self, *a, **k):
            pass

        def set_postfix(self, *a, **k):
            pass

    for name in ("ipdb", "tqdm", "torchvision", "matplotlib", "matplotlib.pyplot"):
        try:
            __import__(name)
        except ImportError:
            m = types.ModuleType(name)
            if name == "tqdm":
                m.tqdm = _Bar
            if name == "matplotlib":
                m.use = lambda *a, **k: None
            sys.modules[name] = m
    if not hasattr(sys.modules["matplotlib"], "pyplot"):
        sys.modules["matplotlib"].pyplot = sys.modules["matplotlib.pyplot"]


def hamming_mmd(x, y):
    """Unbiased MMD² of two [n, D] tensors of 0/1 rows, kernel exp(−0.1 · Hamming): the public code's
    exp_hamming_mmd(x, y, 0.1) and unigfn's `mmd` metric (×1e4 there), with Hamming(x, y) = |x| + |y| − 2 x·y."""
    x, y = x.double(), y.double()

    def k(p, q):
        return (-0.1 * (p.sum(1)[:, None] + q.sum(1)[None, :] - 2 * p @ q.T)).exp()

    n, m = len(x), len(y)
    kxx = (k(x, x).sum() - n) / (n * (n - 1))  # the diagonal is exp(0) = 1
    kyy = (k(y, y).sum() - m) / (m * (m - 1))
    return (kxx + kyy - 2 * k(x, y).mean()).item()


def public_args(a):
    """The README's flags as the Namespace the public GFlowNet reads."""
    return argparse.Namespace(type=a.type, hid=256, hid_layers=3, leaky=1, gfn_bn=0, init_zero=0, gmodel="mlp",
                              train_steps=1, l1loss=0, with_mh=1, rand_k=0, lin_k=1, warmup_k=int(1e5), K=-1,
                              rand_coef=0.0, back_ratio=0.5, clip=-1.0, temp=1.0, opt="adam", glr=1e-3, zlr=1.0,
                              momentum=0.0, gfn_weight_decay=0.0, lr=1e-3, batch_size=128)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", required=True, help="a checkout of GFNOrg/EB_GFN")
    ap.add_argument("--data", default="checkerboard")
    ap.add_argument("--iters", type=lambda s: int(float(s)), default=10000)
    ap.add_argument("--type", default="tbrf", choices=["tbrf", "tblb"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=2000)
    ap.add_argument("--particles", type=int, default=100)
    ap.add_argument("--out", default=None)
    ap.add_argument("--ckpt", default=None)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    out = a.out or f"ebgfn-public-{a.data}-{a.type}-seed{a.seed}.jsonl"
    ckpt = a.ckpt or os.path.splitext(out)[0] + ".ckpt"

    # BLAS pools are sized when numpy/torch load (matplotlib loads numpy): torch.set_num_threads does
    # not reach numpy's OpenBLAS, whose spinning worker cost this run half its speed on 2 cores.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(a.threads))
    stub_optional_modules()
    sys.path[:0] = [a.src, os.path.join(a.src, "synthetic")]
    import numpy as np
    import torch
    from gflownet import get_GFlowNet, tb_mle_randf_loss
    from synthetic_data import OnlineToyDataset
    from synthetic_utils import EnergyModel, estimate_ll, get_binmap, get_true_samples

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    random.seed(a.seed)
    D = 32
    pa = public_args(a)
    bm, _ = get_binmap(D, "gray")
    db = OnlineToyDataset(a.data, D)
    db.rng = np.random.RandomState(a.seed)
    bs = pa.batch_size - pa.batch_size % {"pinwheel": 5, "2spirals": 2}.get(a.data, 1)
    energy = EnergyModel(D, 256)
    eopt = torch.optim.Adam(energy.parameters(), lr=pa.lr)
    gfn = get_GFlowNet(a.type, D, pa, torch.device("cpu"))

    itr = 0
    if os.path.exists(ckpt):
        c = torch.load(ckpt)
        gfn.model.load_state_dict(c["gfn"])
        with torch.no_grad():
            gfn.logZ.copy_(c["logZ"])
        gfn.optimizer.load_state_dict(c["gopt"])
        energy.load_state_dict(c["energy"])
        eopt.load_state_dict(c["eopt"])
        torch.set_rng_state(c["torch_rng"])
        np.random.set_state(c["np_rng"])
        db.rng.set_state(c["data_rng"])
        random.setstate(c["py_rng"])
        itr = c["itr"]
        print(f"resuming {ckpt} at iteration {itr}", flush=True)

    def save():
        c = dict(gfn=gfn.model.state_dict(), logZ=gfn.logZ.detach().clone(), gopt=gfn.optimizer.state_dict(),
                 energy=energy.state_dict(), eopt=eopt.state_dict(), torch_rng=torch.get_rng_state(),
                 np_rng=np.random.get_state(), data_rng=db.rng.get_state(), py_rng=random.getstate(), itr=itr)
        torch.save(c, ckpt + ".tmp")
        os.replace(ckpt + ".tmp", ckpt)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    def log_ratio(x):
        """log P_F(τ)/P_B(τ|x) for one backward trajectory per row of x."""
        if a.type == "tbrf":
            return tb_mle_randf_loss(lambda inp: torch.tensor(0.0), gfn, x.shape[0], back_ratio=1, data=x)[3]
        from gflownet import tb_mle_learnedpb_loss
        r = tb_mle_learnedpb_loss(lambda inp: torch.tensor(0.0), gfn, x.shape[0], back_ratio=1, data=x)
        return -r[3] - r[4]  # it returns −log P_F and log P_B

    def evaluate():
        gfn.model.eval()
        with torch.no_grad():
            lp = []
            for g in range(4):
                x = get_true_samples(db, 1000, bm, db.int_scale, D, seed=10000 + g)
                lr = torch.stack([log_ratio(x) for _ in range(a.particles)], 1)  # [1000, M]
                lp.append(torch.logsumexp(lr.double(), 1) - math.log(a.particles))
            lp = torch.cat(lp)
            mmds = [hamming_mmd(gfn.sample(4000), get_true_samples(db, 4000, bm, db.int_scale, D)) * 1e4
                    for _ in range(10)]
            x = get_true_samples(db, 4000, bm, db.int_scale, D, seed=10000)
            e_nll = -estimate_ll(lambda inp: energy(inp), x, n_partition=1 << 18)
        gfn.model.train()
        return dict(nll=-lp.mean().item(), nll_sem=lp.std().item() / math.sqrt(len(lp)), mmd=float(np.mean(mmds)),
                    mmd_sd=float(np.std(mmds, ddof=1)), energy_nll=e_nll)

    t0, i0 = time.time(), itr
    while itr < a.iters and not stop:
        x = get_true_samples(db, bs, bm, db.int_scale, D)
        gfn.train(bs, scorer=lambda inp: energy(inp).detach(), silent=True, data=x, back_ratio=pa.back_ratio)
        K = max(1, min(D, int(D * float(itr + 1) / pa.warmup_k)))
        gfn.model.eval()
        x_fake, delta = gfn.backforth_sample(x, K)
        delta = delta.detach()
        lp_update = energy(x_fake).squeeze() - energy(x).squeeze()
        acc = torch.distributions.Bernoulli(logits=lp_update + delta).sample()
        x_fake = x_fake * acc[:, None] + x * (1.0 - acc[:, None])
        loss = -(energy(x).squeeze().mean() - energy(x_fake).squeeze().mean())
        eopt.zero_grad()
        loss.backward()
        eopt.step()
        itr += 1
        if itr % 500 == 0:
            save()
        if itr % 100 == 0:
            print(f"iter {itr}  K {K}  accept {acc.mean().item():.3f}  logZ {gfn.logZ.item():.2f}  "
                  f"{(time.time() - t0) / (itr - i0):.3f} s/iter", flush=True)
        if itr % a.eval_every == 0 or itr == a.iters:
            rec = dict(data=a.data, type=a.type, seed=a.seed, iter=itr, **evaluate())
            print(json.dumps(rec), flush=True)
            with open(out, "a") as f:
                f.write(json.dumps(rec) + "\n")
    save()
    print(f"{'stopped' if stop else 'done'} at iteration {itr}; checkpoint {ckpt}", flush=True)


if __name__ == "__main__":
    main()
