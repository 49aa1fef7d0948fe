#!/usr/bin/python3
"""fmnist_torch.py — the PyTorch anchor of issue 19's Fashion-MNIST experiment (experiment 3): the same
MADE and the same VAE as experiments/discrete/specs/{ar,hvae}-fmnist.yaml, trained on the same data with
the same budget and scored with the same estimator, so that unigfn's numbers can be compared with an
independent implementation "within the seeds' spread". The two share no random streams (different
initial weights, batches, binarizations of the train set and MADE hidden degrees drawn by the same rule
from another generator), so one run of each agrees to within the spread over seeds, not to the digit.

    /usr/bin/python3 tools/reference/fmnist_torch.py --model made --seed 0 --out made0.json
    /usr/bin/python3 tools/reference/fmnist_torch.py --model vae --seed 0 --out vae0.json
    # a smoke check: 200 steps, curve every 100 steps and the final metrics on 1000 test images
    /usr/bin/python3 tools/reference/fmnist_torch.py --model vae --seed 0 --steps 200 --curve-every 100 \
        --curve-size 1000 --eval-size 1000

Needs Debian's python3-torch (hence /usr/bin/python3) and numpy; reads the IDX files of the Debian
package dataset-fashion-mnist (--data-dir). One thread by default (--threads), as the specs run.

What it mirrors, file by file (in the unigfn tree):
- plugins/datasets/images/{fashion_mnist.c,images.c,imgread.c}: the 60000 train and 10000 test images of
  {train,t10k}-images-idx3-ubyte[.gz] (the .gz preferred, as find_file does); x in {0,1}. Train batches
  walk the train split in epochs, each a fresh permutation (without replacement within an epoch;
  step s takes positions s*B .. s*B+B-1 of the endless sequence of epochs), and every batch is redrawn
  as x = [u * 255 < v], u ~ U[0,1) (Bernoulli(v/255); never 1 at v = 0, always at v = 255). The test
  split is binarized once with its own seed (heldout_seed 12345, not the run seed), so every seed is
  scored on the same rows (our rows differ from unigfn's: another generator).
- plugins/models/ar/ar.c (model ar, hidden [1000, 1000], act relu, order natural, degrees random,
  mask_seed 0, input auto): binary data are K = 2 categories with TWO logits per coordinate (output
  [B, 784*2], position-major: column 2d + v) and a softmax over them; the input is the ordinal code
  -1 + 2v/(K-1), i.e. x in {0,1} -> {-1,+1}. Degrees: input unit d has rank[d] + 1 = d + 1; hidden unit
  k of a layer gets a degree uniform on [lo, D-1] with lo the smallest degree of the layer below (drawn
  from a generator keyed by mask_seed alone, so all run seeds share one architecture, as in unigfn);
  hidden masks are deg_k >= deg_j, the output mask deg_out(d) = d + 1 > deg_j. Weights are W * M.
  log p(x) = sum_d log_softmax(logits)[d, x_d], exact (P_B is a Dirac: ar_traj.c).
- plugins/models/hvae/{hvae.c,hvae_cond.c} (latents [32], hidden [512, 512], act relu, prior fixed,
  decoder bernoulli, min_log_std -5): z ~ N(0, I_32); decoder MLP 32-512-512-784 giving Bernoulli
  logits, log p(x|z) = sum x l - softplus(l); encoder MLP 784-512-512-64 on x in {0,1} (the dataset's
  encoding, fed as it is), the first 32 outputs the mean and the last 32 the raw log-std, floored
  smoothly as log sigma = -5 + softplus(raw + 5). Parameter groups: forward = decoder, backward = encoder.
- core/src/nn/nn.c (ug_linear_layer_init): every linear layer's weight and bias ~ U(-1/sqrt(fan_in),
  +1/sqrt(fan_in)), which is PyTorch's default nn.Linear init (kaiming_uniform_(a=sqrt(5))); written out
  here so the distribution does not depend on torch's version.
- plugins/objectives/kl_tb/kl_tb.c (direction data): loss = mean over the batch of sum over steps of
  [log P_B - log P_F], in nats. For the MADE that is -mean log p(x); for the VAE with reparam: true it is
  the negative ELBO mean_b [log q(z|x) - log p(z) - log p(x|z)], one reparameterized z ~ q(.|x) per row
  (z = mu + sigma * eps with gradients into both the encoder and decoder). Logged as unigfn does: the
  mean of the per-step losses over each log window (--log-every, 100).
- core/src/nn/optim.c, core/include/unigfn/host/defaults.h: Adam, betas (0.9, 0.999), eps 1e-8, no
  weight decay, no clipping (clip_norm defaults to 0 in core/src/spec/spec_check.c), constant lr 1e-3;
  the forward and backward groups have one Adam each with the same settings, which is the same as one
  Adam over all parameters (Adam is per parameter). torch.optim.Adam's defaults are these.
- plugins/metrics/nll/nll.c: log p_hat(x) = logmeanexp_j [log P_F(tau_j) - log P_B(tau_j|x)] over M
  particles tau_j ~ P_B(.|x) (the IWAE bound for the VAE; exact with M = 1 for the MADE); `nll` is the
  mean of -log p_hat over the rows, `nll_sem` its standard error (sample std / sqrt(n)), `bpd`
  nll / (784 ln 2), `elbo` the mean over rows and particles of the log weights (a log-likelihood bound,
  negative; `elbo_sem` over the rows' particle means is added here, unigfn has none). The encoder is
  run once per row and M latents drawn from it, which is the same estimator as nll.c's M repeated rows.
  Final metrics on all 10000 test rows (MADE exact, VAE M = 100); a curve (curve_ keys) every
  --curve-every steps and at the last step on the first --curve-size test rows (MADE exact, VAE M = 10),
  as the specs' curve_ metrics (ug_metric_due: every `every` steps and at the end, eval_at_end true).

Parameter counts (the JSON's `params`; `unigfn run SPEC --check` prints unigfn's): MADE
784*1000+1000 + 1000*1000+1000 + 1000*1568+1568 = 3355568, unigfn's "model ar with 3355568 parameters";
VAE decoder 681744 + encoder 697408 = 1379152, unigfn's "model hvae with 1379152 parameters". Equal.

Checked against unigfn at 200 steps (seeds 0 and 1, first 1000 test rows; the specs with steps 200 and
the curve every 100): MADE exact NLL torch 276.9 / 274.7, unigfn 276.3 / 276.1; VAE IWAE (M = 100)
torch 276.4 / 277.1, unigfn 276.9 / 274.8; mean training loss over steps 101-200 within 1.5 nats of
unigfn's for both models. One thread on a loaded 2-core machine: MADE about 0.07-0.13 s a step (unigfn
0.09), VAE 0.03-0.04 s (unigfn 0.017).
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

D = 784
UNIGFN_PARAMS = {"made": 3355568, "vae": 1379152}   # `unigfn run SPEC --check` on the two specs


# ---- data (fashion_mnist.c, images.c) -------------------------------------------------------------

def read_idx_images(path):
    """The uint8 images of an IDX3 file (gzipped or not) as [n, 784]."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        buf = f.read()
    magic, n, h, w = struct.unpack(">IIII", buf[:16])
    if magic != 0x00000803 or h != 28 or w != 28:
        raise SystemExit(f"fmnist_torch: {path}: not an IDX3 file of 28x28 images (magic {magic:#x}, {h}x{w})")
    px = np.frombuffer(buf, dtype=np.uint8, count=n * h * w, offset=16)
    return px.reshape(n, h * w)


def find_file(d, base):
    """dir/base.gz if it exists, else dir/base (fashion_mnist.c's find_file)."""
    gz = os.path.join(d, base + ".gz")
    return gz if os.path.exists(gz) else os.path.join(d, base)


class Data:
    """Train images walked in epochs of fresh permutations and binarized every batch; the test split
    binarized once with heldout_seed."""

    def __init__(self, data_dir, seed, heldout_seed=12345):
        self.train = read_idx_images(find_file(data_dir, "train-images-idx3-ubyte"))
        self.test = read_idx_images(find_file(data_dir, "t10k-images-idx3-ubyte"))
        self.seed = seed
        self.perm, self.epoch = None, -1
        self.noise = np.random.default_rng([seed, 1])
        hr = np.random.default_rng(heldout_seed)
        self.heldout = torch.from_numpy(binarize(self.test, hr))   # [10000, 784] in {0,1}

    def batch(self, step, B):
        n = self.train.shape[0]
        rows = np.empty(B, dtype=np.int64)
        for i in range(B):
            p = step * B + i
            e = p // n
            if e != self.epoch:   # the epoch's permutation, keyed by (run seed, epoch)
                self.perm = np.random.default_rng([self.seed, 2, e]).permutation(n)
                self.epoch = e
            rows[i] = self.perm[p % n]
        return torch.from_numpy(binarize(self.train[rows], self.noise))   # [B, 784]


def binarize(v, rng):
    """x = [u * 255 < v], u ~ U[0,1) in double: Bernoulli(v / 255), as images.c's encode."""
    u = rng.random(v.shape)
    return (u * 255.0 < v).astype(np.float32)


# ---- models ---------------------------------------------------------------------------------------

def linear_params(fan_in, fan_out):
    """ug_linear_layer_init: W [out, in] and b [out], both U(+-1/sqrt(fan_in)) (kaiming_uniform a=sqrt(5))."""
    bound = 1.0 / math.sqrt(fan_in)
    w = torch.empty(fan_out, fan_in).uniform_(-bound, bound).requires_grad_()
    b = torch.empty(fan_out).uniform_(-bound, bound).requires_grad_()
    return [w, b]


def made_masks(hidden, mask_seed=0, K=2):
    """ar.c's make_masks for the natural order and random degrees: [out, in] float masks, one a layer."""
    r = np.random.default_rng(mask_seed)
    prev = np.arange(D) + 1                      # input unit d (ordinal: one per position): rank + 1
    masks = []
    for width in hidden:
        lo = prev.min()
        cur = r.integers(lo, D, size=width) if lo <= D - 1 else np.full(width, D - 1)   # lo .. D-1
        masks.append(torch.from_numpy((cur[:, None] >= prev[None, :]).astype(np.float32)))
        prev = cur
    out = np.repeat(np.arange(D) + 1, K)         # output column d*K + v: position d, degree d + 1
    masks.append(torch.from_numpy((out[:, None] > prev[None, :]).astype(np.float32)))
    return masks


class Made:
    """MADE 784-1000-1000-(784*2), ReLU, ordinal (+-1) input, two logits a pixel; exact log p(x)."""

    def __init__(self, hidden=(1000, 1000)):
        widths = [D, *hidden, 2 * D]
        self.layers = [linear_params(widths[i], widths[i + 1]) for i in range(len(widths) - 1)]
        self.masks = made_masks(hidden)
        self.params = [p for layer in self.layers for p in layer]

    def log_prob(self, x):
        """x [B, 784] in {0,1} -> log p(x) [B]."""
        h = 2.0 * x - 1.0                                        # [B, 784] ordinal code
        for i, ((w, b), m) in enumerate(zip(self.layers, self.masks)):
            h = F.linear(h, w * m, b)
            if i + 1 < len(self.layers):
                h = F.relu(h)
        lsm = F.log_softmax(h.view(-1, D, 2), dim=2)            # [B, 784, 2]
        return lsm.gather(2, x.long().unsqueeze(2)).squeeze(2).sum(1)   # [B]

    def loss(self, x):
        return -self.log_prob(x).mean()


def mlp(widths):
    return [linear_params(widths[i], widths[i + 1]) for i in range(len(widths) - 1)]


def mlp_forward(layers, h):
    for i, (w, b) in enumerate(layers):
        h = F.linear(h, w, b)
        if i + 1 < len(layers):
            h = F.relu(h)
    return h


LOG_2PI = math.log(2.0 * math.pi)


def normal_log_prob(x, mean, log_std):
    """dist.c's ug_normal_log_prob, summed over the last axis."""
    z = (x - mean) * torch.exp(-log_std)
    return (-0.5 * z * z - log_std - 0.5 * LOG_2PI).sum(-1)


class Vae:
    """z ~ N(0, I_32); p(x|z) Bernoulli from MLP 32-512-512-784; q(z|x) Gaussian from MLP 784-512-512-64
    (mean | raw log-std, floored smoothly at min_log_std)."""

    def __init__(self, latent=32, hidden=(512, 512), min_log_std=-5.0):
        self.L, self.min_log_std = latent, min_log_std
        self.dec = mlp([latent, *hidden, D])           # group forward (hvae.c creates p1 before q1)
        self.enc = mlp([D, *hidden, 2 * latent])       # group backward
        self.params = [p for layer in self.dec + self.enc for p in layer]

    def encode(self, x):
        h = mlp_forward(self.enc, x)                                       # [B, 64]
        raw = h[:, self.L:]
        log_std = self.min_log_std + F.softplus(raw - self.min_log_std)    # hvae_cond.c's floored()
        return h[:, :self.L], log_std                                      # [B, 32] each

    def log_weights(self, x, mean, log_std, M):
        """log p(x, z) - log q(z|x) for M reparameterized z a row: [M, B]."""
        eps = torch.randn(M, *mean.shape)
        z = mean + torch.exp(log_std) * eps                                # [M, B, 32]
        lq = normal_log_prob(z, mean, log_std)                             # [M, B]
        lpz = normal_log_prob(z, torch.zeros(()), torch.zeros(()))         # [M, B]
        logits = mlp_forward(self.dec, z)                                  # [M, B, 784]
        lpx = (x * logits - F.softplus(logits)).sum(-1)                    # [M, B]
        return lpz + lpx - lq

    def loss(self, x):
        mean, log_std = self.encode(x)
        return -self.log_weights(x, mean, log_std, 1).mean()


# ---- evaluation (nll.c) ---------------------------------------------------------------------------

def mean_sem(v):
    n = v.numel()
    return v.mean().item(), (v.std().item() / math.sqrt(n)) if n > 1 else 0.0


def evaluate(model, kind, x, M, rows_per_chunk):
    """nll, nll_sem, bpd, elbo (+ elbo_sem) on the rows x [n, 784]; M particles (1 for the MADE)."""
    logp, elbo = [], []
    with torch.no_grad():
        for i in range(0, x.shape[0], rows_per_chunk):
            xb = x[i:i + rows_per_chunk]
            if kind == "made":
                lw = model.log_prob(xb).unsqueeze(0)                       # [1, r]
            else:
                mean, log_std = model.encode(xb)
                lw = model.log_weights(xb, mean, log_std, M).double()      # [M, r]
            logp.append(torch.logsumexp(lw, 0) - math.log(lw.shape[0]))
            elbo.append(lw.mean(0))
    nll, nll_sem = mean_sem(-torch.cat(logp).double())
    el, el_sem = mean_sem(torch.cat(elbo).double())
    out = {"nll": nll, "nll_sem": nll_sem, "bpd": nll / (D * math.log(2.0)), "elbo": el, "elbo_sem": el_sem}
    if kind == "made":
        out["nll_exact"] = nll
    return out


# ---- the run --------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["made", "vae"], required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--log-every", type=int, default=100, help="print the window's mean loss every this many steps")
    ap.add_argument("--curve-every", type=int, default=1000, help="curve_ metrics every this many steps (and at the end)")
    ap.add_argument("--curve-size", type=int, default=2000, help="test rows of the curve (the first ones)")
    ap.add_argument("--curve-particles", type=int, default=10, help="VAE particles of the curve")
    ap.add_argument("--eval-size", type=int, default=10000, help="test rows of the final metrics (the first ones)")
    ap.add_argument("--particles", type=int, default=100, help="VAE particles of the final metrics")
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    data = Data(a.data_dir, a.seed)
    model = Made() if a.model == "made" else Vae()
    n_params = sum(p.numel() for p in model.params)
    print(f"fmnist_torch: {a.model}, seed {a.seed}: {n_params} parameters (unigfn: {UNIGFN_PARAMS[a.model]}); "
          f"{data.train.shape[0]} train, {data.heldout.shape[0]} test images; {a.steps} steps x {a.batch}, "
          f"Adam lr {a.lr}, {a.threads} thread(s)", flush=True)
    opt = torch.optim.Adam(model.params, lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    eval_gen_seed = 1_000_003 * (a.seed + 1)   # evaluation draws its own stream: training's is untouched
    chunk = 2000 if a.model == "made" else 100

    def metrics(rows, M, tag):
        state = torch.random.get_rng_state()
        torch.manual_seed(eval_gen_seed + step)
        t0 = time.perf_counter()
        r = evaluate(model, a.model, data.heldout[:rows], M, chunk)
        torch.random.set_rng_state(state)
        r["eval_s"] = time.perf_counter() - t0
        print(f"  {tag} step {step}: nll {r['nll']:.3f} ± {r['nll_sem']:.3f} (M = {M}, {rows} rows), "
              f"elbo {r['elbo']:.3f}, {r['eval_s']:.1f} s", flush=True)
        return r

    curve, losses, window, train_s = [], [], [], 0.0
    step = 0
    for step in range(1, a.steps + 1):
        t0 = time.perf_counter()
        x = data.batch(step - 1, a.batch)   # unigfn's step s (0-based) draws batch s
        loss = model.loss(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        train_s += time.perf_counter() - t0
        window.append(loss.item())
        if step % a.log_every == 0 or step == a.steps:
            losses.append({"step": step, "loss": sum(window) / len(window)})
            print(f"step {step}: loss {losses[-1]['loss']:.3f} ({train_s / step:.3f} s/step)", flush=True)
            window = []
        if step % a.curve_every == 0 or step == a.steps:
            M = 1 if a.model == "made" else a.curve_particles
            r = metrics(min(a.curve_size, data.heldout.shape[0]), M, "curve")
            curve.append({"step": step, **{"curve_" + k: v for k, v in r.items()}})
    final = metrics(min(a.eval_size, data.heldout.shape[0]), 1 if a.model == "made" else a.particles, "final")
    res = {"model": a.model, "seed": a.seed, "steps": a.steps, "batch": a.batch, "lr": a.lr, "threads": a.threads,
           "params": n_params, "unigfn_params": UNIGFN_PARAMS[a.model],
           "particles": 1 if a.model == "made" else a.particles, "eval_size": min(a.eval_size, data.heldout.shape[0]),
           "final": final, "curve": curve, "loss": losses, "s_per_step": train_s / max(a.steps, 1)}
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)
        print(f"fmnist_torch: wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
