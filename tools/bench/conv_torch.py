#!/usr/bin/python3
"""conv_torch.py — PyTorch's side of tools/bench/conv: (a) conv2d forward + backward (N 64, C 32 -> 64,
28x28, 3x3, padding 1; gradients of x, w and b of sum(conv(x) * g)); (b) one training step (forward,
backward, Adam) of the same UNet as ug_unet_init builds (channels 32-64-128, one residual block per
level, attention at 7x7, GroupNorm 8 groups) on 28x28 images, batch 64, MSE loss.

    conv_torch.py --case conv|unet --threads T [--steps N] [--reps R] [--batch B]

Prints one key=value line like bench_conv (wall and process-CPU medians per step, peak RSS). Inputs come
from the same splitmix64 generator as bench_conv.c. The UNet classes mirror core/src/nn/unet.c module
for module (same parameter count, which the line reports), so they can also serve a parity check.
"""
import argparse
import math
import resource
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def gen(n, seed, bound):
    """splitmix64 uniform in [-bound, bound) — the same sequence as bench_conv.c's gen()."""
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(seed) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    u = (z >> np.uint64(40)).astype(np.float64)
    return torch.from_numpy(((u - 8388608.0) / 8388608.0 * bound).astype(np.float32))


def time_embedding(t, dim):
    """ug_time_embedding: sin(t f_i), cos(t f_i), f_i = exp(-ln(10000) i / (half - 1))."""
    half = dim // 2
    step = math.log(10000.0) / (half - 1) if half > 1 else 0.0
    f = torch.exp(-step * torch.arange(half, dtype=torch.float64)).float()
    a = t[:, None] * f[None, :]
    out = torch.cat([torch.sin(a), torch.cos(a)], dim=1)
    return F.pad(out, (0, 1)) if dim % 2 else out


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb, groups):
        super().__init__()
        self.gn1, self.conv1 = nn.GroupNorm(groups, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(temb, cout)
        self.gn2, self.conv2 = nn.GroupNorm(groups, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, e):
        h = self.conv1(F.silu(self.gn1(x))) + self.temb(F.silu(e))[:, :, None, None]
        h = self.conv2(F.silu(self.gn2(h)))
        return (self.skip(x) if self.skip is not None else x) + h


class AttnBlock(nn.Module):
    def __init__(self, ch, groups):
        super().__init__()
        self.gn = nn.GroupNorm(groups, ch)
        self.q, self.k, self.v, self.proj = (nn.Conv2d(ch, ch, 1) for _ in range(4))

    def forward(self, x):
        n, c, hh, ww = x.shape
        h = self.gn(x)
        q, k, v = (m(h).reshape(n, c, hh * ww) for m in (self.q, self.k, self.v))
        a = torch.softmax(q.transpose(1, 2) @ k / math.sqrt(c), dim=-1)  # [N, L, L]
        o = (a @ v.transpose(1, 2)).transpose(1, 2).reshape(n, c, hh, ww)
        return x + self.proj(o)


class UNet(nn.Module):
    def __init__(self, cin=1, cout=1, base=32, mult=(1, 2, 4), blocks=1, attn_res=(7,), size=28, temb=None,
                 groups=8):
        super().__init__()
        temb = temb or 4 * base
        self.base, self.mult, self.blocks = base, mult, blocks
        self.temb0, self.temb1 = nn.Linear(base, temb), nn.Linear(temb, temb)
        self.conv_in = nn.Conv2d(cin, base, 3, padding=1)
        saved, ch, res = [base], base, size
        self.down, self.down_attn, self.downsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        self.attn = []
        for l, m in enumerate(mult):
            self.attn.append(res in attn_res)
            rb, ab = nn.ModuleList(), nn.ModuleList()
            for _ in range(blocks):
                rb.append(ResBlock(ch, base * m, temb, groups))
                ch = base * m
                ab.append(AttnBlock(ch, groups) if self.attn[l] else nn.Identity())
                saved.append(ch)
            self.down.append(rb)
            self.down_attn.append(ab)
            if l + 1 < len(mult):
                self.downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                saved.append(ch)
                res //= 2
        self.mid1, self.mid_attn, self.mid2 = ResBlock(ch, ch, temb, groups), AttnBlock(ch, groups), \
            ResBlock(ch, ch, temb, groups)
        self.up, self.up_attn, self.upsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for l in reversed(range(len(mult))):
            rb, ab = nn.ModuleList(), nn.ModuleList()
            for _ in range(blocks + 1):
                rb.append(ResBlock(ch + saved.pop(), base * mult[l], temb, groups))
                ch = base * mult[l]
                ab.append(AttnBlock(ch, groups) if self.attn[l] else nn.Identity())
            self.up.append(rb)
            self.up_attn.append(ab)
            self.upsample.append(nn.Conv2d(ch, ch, 3, padding=1) if l > 0 else nn.Identity())
        self.gn_out, self.conv_out = nn.GroupNorm(groups, ch), nn.Conv2d(ch, cout, 3, padding=1)

    def forward(self, x, t):
        e = self.temb1(F.silu(self.temb0(time_embedding(t, self.base))))
        h = self.conv_in(x)
        saved = [h]
        for l in range(len(self.mult)):
            for b in range(self.blocks):
                h = self.down_attn[l][b](self.down[l][b](h, e))
                saved.append(h)
            if l + 1 < len(self.mult):
                h = self.downsample[l](h)
                saved.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, e)), e)
        for i, l in enumerate(reversed(range(len(self.mult)))):
            for b in range(self.blocks + 1):
                h = self.up_attn[i][b](self.up[i][b](torch.cat([h, saved.pop()], dim=1), e))
            if l > 0:
                h = self.upsample[i](F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.conv_out(F.silu(self.gn_out(h)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", default="conv", choices=["conv", "unet"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_interop_threads(1)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    if a.case == "conv":
        n = 64
        conv = nn.Conv2d(32, 64, 3, padding=1)
        x = gen(n * 32 * 28 * 28, 1, 1.0).reshape(n, 32, 28, 28).requires_grad_()
        g = gen(n * 64 * 28 * 28, 2, 1.0).reshape(n, 64, 28, 28)
        params = sum(p.numel() for p in conv.parameters())

        def step():
            conv.zero_grad(set_to_none=True)
            x.grad = None
            (conv(x) * g).sum().backward()
    else:
        n = a.batch
        net = UNet()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        x = gen(n * 28 * 28, 1, 1.0).reshape(n, 1, 28, 28)
        target = gen(n * 28 * 28, 2, 1.0).reshape(n, 1, 28, 28)
        t = torch.floor((gen(n, 3, 1.0) + 1.0) * 500.0)
        params = sum(p.numel() for p in net.parameters())

        def step():
            opt.zero_grad(set_to_none=True)
            F.mse_loss(net(x, t), target).backward()
            opt.step()

    for _ in range(max(1, a.steps // 5)):
        step()
    samples, cpu = [], []
    for _ in range(a.reps):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(a.steps):
            step()
        samples.append((time.perf_counter() - t0) / a.steps)
        cpu.append((time.process_time() - c0) / a.steps)
    print("torch case=%s batch=%d threads=%d steps=%d reps=%d params=%d ms_step=%.6f cpu_ms_step=%.6f maxrss_kb=%d "
          "torch_threads=%d" % (a.case, n, a.threads, a.steps, a.reps, params, statistics.median(samples) * 1e3,
                                statistics.median(cpu) * 1e3, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                torch.get_num_threads()))


if __name__ == "__main__":
    main()
