#!/usr/bin/python3
"""checkerboard_moments.py — why an energy model trained by contrastive divergence can sit on the uniform
square for a long time on checkerboard (experiments/paper/analysis.md): in the Gray code of REPRODUCTION §2
the checkerboard and the uniform distribution on its bounding square [-4, 4]^2 have the same moments of
order 1, 2 and 3 in the ±1 bits; the first that differ are of order 4.

    /usr/bin/python3 tools/reference/checkerboard_moments.py [--n 2000000] [--gray 4] [--seed 0]

For each order k = 1..4 it prints the largest |E_checker[z_S] − E_uniform[z_S]| over the subsets S of k
bits (z = 2·bit − 1, z_S the product over S) taken from the sign and the --gray highest Gray bits of each
coordinate, with n samples of each distribution, and the sampling noise of one such difference.
Then the MMD of the `mmd` metric (unbiased, kernel exp(−0.1 · Hamming), ×1e-4, mean ± sd over 10 groups
of 4000 against fresh checkerboard data, REPRODUCTION §4) of exact uniform-square samples and of exact
checkerboard samples: at that sample size the metric cannot tell the two apart.
Needs numpy and torch (the encoding is tools/bench/train_torch.py's).
"""
import argparse
import itertools
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "bench"), HERE]
import train_torch as T  # noqa: E402
from ebgfn_public import hamming_mmd  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000000)
    ap.add_argument("--gray", type=int, default=4, help="highest Gray bits per coordinate (besides the sign)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    checker = 2.0 * T.checkerboard_bits(a.n, a.seed).numpy().astype(np.float64) - 1.0   # [n, 32] of ±1
    rng = np.random.default_rng(a.seed + 1)
    uniform = 2.0 * T.gray_bits(rng.random((a.n, 2)) * 8 - 4).astype(np.float64) - 1.0  # [n, 32]
    bits = list(range(1 + a.gray)) + list(range(16, 17 + a.gray))  # sign = bit 0 of x, bit 16 of y
    name = lambda b: "%s%s" % ("xy"[b // 16], "s" if b % 16 == 0 else "g%d" % (b % 16))
    print("checkerboard vs uniform on [-4, 4]^2, %d samples each; bits: sign (s) and Gray bits g1..g%d "
          "(g1 most significant) of x and y" % (a.n, a.gray))
    print("sampling noise of one difference: sd %.4f" % math.sqrt(2.0 / a.n))
    for k in range(1, 5):
        best, arg = 0.0, None
        for S in itertools.combinations(bits, k):
            d = abs(np.prod(checker[:, S], 1).mean() - np.prod(uniform[:, S], 1).mean())
            if d > best:
                best, arg = d, S
        print("order %d: %4d subsets, max |difference| %.4f at (%s)" %
              (k, math.comb(len(bits), k), best, ", ".join(name(b) for b in arg)))
    data = lambda: T.checkerboard_bits(4000, int(rng.integers(1 << 30)))
    for label, draw in (("uniform square", lambda: T.torch.from_numpy(T.gray_bits(rng.random((4000, 2)) * 8 - 4))),
                        ("checkerboard", data)):
        v = [1e4 * hamming_mmd(draw(), data()) for _ in range(10)]
        print("MMD x1e-4 of %s samples against checkerboard data: %.2f +- %.2f (10 groups x 4000)" %
              (label, np.mean(v), np.std(v)))


if __name__ == "__main__":
    main()
