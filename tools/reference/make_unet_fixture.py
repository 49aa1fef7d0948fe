#!/usr/bin/python3
"""make_unet_fixture.py — write tests/fixtures/torch_unet.txt: PyTorch's output and gradients of the UNet
parts (core/src/nn/unet.c) with the weights unigfn will use, for tests/test_torch_ref.c.

    /usr/bin/python3 tools/reference/make_unet_fixture.py [outdir]      (default: tests/fixtures)

The torch modules are tools/bench/conv_torch.py's ResBlock and AttnBlock, which declare their parameters
in the order unigfn's ug_resblock_init / ug_attn_block_init do, so one flat vector fills both: "C.params"
(generated, bound 1/2) is every parameter of case C concatenated in that order. Format and generator as
in make_fixtures.py (whose Writer this uses). Cases:
  rb   ResBlock 8 -> 16 (1x1 skip), temb 12, GroupNorm 4 groups, x [2, 8, 6, 5], temb [2, 12]
  rb2  ResBlock 16 -> 16 (identity skip), the same temb and groups, x [2, 16, 4, 4]
  attn AttnBlock 16 channels, 4 groups, x [2, 16, 5, 3] (15 positions)
each with "C.x", "C.temb" (res blocks), "C.R" (generated), "C.out", and the gradients of sum(out * R):
"C.gx", "C.gtemb", "C.gparams" (flat, in the same order as C.params).
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "bench"))
from make_fixtures import Writer  # noqa: E402
from conv_torch import AttnBlock, ResBlock  # noqa: E402

torch.set_num_threads(1)

CASES = [  # name, module, x shape, temb shape or None, first seed
    ("rb", lambda: ResBlock(8, 16, 12, 4), [2, 8, 6, 5], [2, 12], 100),
    ("rb2", lambda: ResBlock(16, 16, 12, 4), [2, 16, 4, 4], [2, 12], 200),
    ("attn", lambda: AttnBlock(16, 4), [2, 16, 5, 3], None, 300),
]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "tests", "fixtures")
    os.makedirs(out, exist_ok=True)
    w = Writer(os.path.join(out, "torch_unet.txt"), "UNet parts (residual block, attention): out and "
               "d sum(out*R)/d x, temb, parameters; written by make_unet_fixture.py")
    for name, make, xs, ts, seed in CASES:
        m = make()
        params = list(m.parameters())
        n = sum(p.numel() for p in params)
        flat = w.gen(name + ".params", [n], seed, 0.5)
        with torch.no_grad():
            o = 0
            for p in params:
                p.copy_(flat[o:o + p.numel()].reshape(p.shape))
                o += p.numel()
        x = w.gen(name + ".x", xs, seed + 1, 1.0).requires_grad_(True)
        inputs = [x]
        if ts:
            temb = w.gen(name + ".temb", ts, seed + 2, 1.0).requires_grad_(True)
            inputs.append(temb)
            y = m(x, temb)
        else:
            y = m(x)
        R = w.gen(name + ".R", list(y.shape), seed + 3, 1.0)
        grads = torch.autograd.grad((y * R).sum(), inputs + params)
        w.tensor(name + ".out", y)
        w.tensor(name + ".gx", grads[0])
        if ts:
            w.tensor(name + ".gtemb", grads[1])
        w.tensor(name + ".gparams", torch.cat([g.reshape(-1) for g in grads[len(inputs):]]))
    w.close()


if __name__ == "__main__":
    main()
