#!/usr/bin/python3
"""make_fixtures.py — write PyTorch reference fixtures for tests/test_torch_ref.c.

Why: the C tests compare unigfn against PyTorch without PyTorch in CI. This script is run by hand
(Debian's /usr/bin/python3 with torch 1.13) whenever a fixture must change; its output files in
tests/fixtures/ are committed and CI only reads them.

    /usr/bin/python3 tools/reference/make_fixtures.py [outdir]      (default: tests/fixtures)

Everything is deterministic: fixed seeds, torch.set_num_threads(1), float32 throughout.

Fixture format (plain text, one file per topic)
-----------------------------------------------
  * Lines starting with '#' are comments. Blank lines are ignored.
  * A stored tensor is two lines:
        tensor NAME DTYPE NDIM D0 ... D{NDIM-1} [every K]
        V0 V1 V2 ...
    DTYPE is f32 (values printed with %.9g, which round-trips float32 exactly), f64 (%.17g; only
    the sums below) or i32 (integers).
    NDIM 0 is a scalar (one value). Values are the row-major (C order) elements. With "every K" the
    value line holds only the flat elements 0, K, 2K, ... (a sample of a big tensor; see below).
  * A generated tensor is one line and has no value line:
        gen NAME NDIM D0 ... D{NDIM-1} seed S bound B
    Element i (row-major, i = 0, 1, ...) is the i-th output of splitmix64 seeded with S:
        state += 0x9E3779B97F4A7C15;  z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;  z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        z ^= z >> 31;  u = z >> 40  (24 bits);  value = (u - 2^23) / 2^23 * B
    (arithmetic mod 2^64). B is a power of two, so every value is exact in float32 and both
    sides get bit-identical tensors without storing them.
  * For a sampled tensor NAME the file also stores two full-tensor checks as scalars:
    "NAME:sum" (the float64 sum of all elements) and "NAME:asum" (the float64 sum of |elements|),
    so an error outside the sample still shows up.

Why sampled tensors and generated weights: the MLP below has 164,704 parameters; storing initial
weights, gradients and two parameter snapshots in text would take ~10 MB. Generated weights cost
nothing, and a strided sample (the strides are odd, so every row and column is hit) plus the sums
keeps the committed fixtures at a few hundred kB.

Files
-----
torch_ops.txt — one case per op. Case C has inputs "C.x0", "C.x1", ... (argument order of the unigfn
    call; index tensors are i32, where's condition is f32 0/1), the output "C.out", a fixed random
    weight "C.R" of out's shape, and for every input that takes a gradient "C.gK" = d sum(out * R) / d xK.
    The operation of each case (and its axis/parameters) is listed in make_ops() below and mirrored
    in the C test. The cases of make_ops_issue17() follow, drawn from their own generator; those
    without a gradient (comparisons, casts) store no R and no gK, and an i32 "C.out" is compared
    exactly. Then those of make_ops_issue19(), from a third generator.
torch_grad2.txt — second order: for act in ACTS2, y = sum(act(x @ W) * R), gx = dy/dx (create_graph),
    z = sum(gx^2); stores "A.x", "A.W", "A.R", "A.y", "A.gx", "A.z", "A.dz_dW", "A.dz_dx".
torch_conv.txt — the image ops (NCHW). Case C stores "C.p" (i32): [kind, second, parameters...] with
    kind 0 conv2d and 1 conv_transpose2d (parameters sh sw ph pw dh dw groups oph opw), 2 avg_pool2d
    (kh kw sh sw ph pw; count_include_pad, floor), 3 upsample (scale, mode 0 nearest / 1 bilinear with
    align_corners=False), 4 group_norm (groups; eps 1e-5). Inputs "C.x0" (the image), "C.x1" (the
    weight), "C.x2" (the bias), each absent when None; "C.out", "C.R" and "C.gK" as in torch_ops.txt.
    With second = 1 the output is tanh(op(...)) and the file also holds "C.hK" = dz/dxK for
    z = sum(gx^2), gx = d sum(out * R) / d x0 (create_graph). Its own seed, written after the others.
torch_mlp.txt — MLP 32 -> 256 -> 256 -> 256 -> 96, LeakyReLU(0.01) between layers (none after the
    last), loss = mean((out - target)^2), Adam(lr 1e-3, betas (0.9, 0.999), eps 1e-8, single-tensor
    path). Initial weights "mlp.I.w" [out, in] and biases "mlp.I.b" are generated (see above).
    Stored: "x" [16, 32], "target" [16, 96], "out" [16, 96] and "loss0" (at the initial weights),
    "grad.mlp.I.w"/"grad.mlp.I.b" (gradients at the initial weights), "step1.mlp.I.*" and
    "step10.mlp.I.*" (parameters after Adam steps 1 and 10), and "losses" [11]: the loss before each
    of the 10 updates and after the last one.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(20240601)

M64 = (1 << 64) - 1


def splitmix_tensor(shape, seed, bound):
    """The 'gen' generator described in the docstring, as a float32 tensor."""
    n = math.prod(shape)
    state = seed & M64
    vals = []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        z ^= z >> 31
        u = z >> 40
        vals.append((u - (1 << 23)) / float(1 << 23) * bound)
    return torch.tensor(vals, dtype=torch.float64).to(torch.float32).reshape(shape)


class Writer:
    def __init__(self, path, title):
        self.path = path
        self.f = open(path, "w")
        self.f.write("# unigfn PyTorch reference fixture (written by tools/reference/make_fixtures.py)\n")
        self.f.write("# %s; torch %s\n" % (title, torch.__version__))

    def comment(self, text):
        self.f.write("# %s\n" % text)

    def tensor(self, name, t, every=1):
        t = t.detach().contiguous()
        shape = list(t.shape)
        dt = ("i32" if t.dtype in (torch.int32, torch.int64) else
              "f64" if t.dtype == torch.float64 else "f32")
        head = "tensor %s %s %d%s" % (name, dt, len(shape), "".join(" %d" % d for d in shape))
        flat = t.reshape(-1)
        if every > 1:
            head += " every %d" % every
            sample = flat[::every]
        else:
            sample = flat
        if dt == "i32":
            vals = " ".join("%d" % int(v) for v in sample.tolist())
        elif dt == "f64":
            vals = " ".join("%.17g" % v for v in sample.tolist())
        else:
            vals = " ".join("%.9g" % v for v in sample.to(torch.float32).tolist())
        self.f.write(head + "\n" + vals + "\n")
        if every > 1:
            d = flat.to(torch.float64)
            self.tensor(name + ":sum", d.sum())
            self.tensor(name + ":asum", d.abs().sum())

    def gen(self, name, shape, seed, bound):
        self.f.write("gen %s %d%s seed %d bound %.9g\n" % (name, len(shape), "".join(" %d" % d for d in shape),
                                                         seed, bound))
        return splitmix_tensor(shape, seed, bound)

    def close(self):
        self.f.close()


def U(shape, lo=-1.0, hi=1.0, gen=None):
    return (torch.rand(shape, dtype=torch.float32, generator=gen) * (hi - lo) + lo)


def idx(shape, n):
    return torch.randint(0, n, shape, dtype=torch.int64)


# (name, function of the inputs, inputs: list of (tensor, takes_grad)). Mirrored in test_torch_ref.c.
def make_ops():
    return [
        ("add", lambda a, b: a + b, [(U([2, 3, 4]), 1), (U([3, 1]), 1)]),
        ("sub", lambda a, b: a - b, [(U([4, 5]), 1), (U([5]), 1)]),
        ("mul", lambda a, b: a * b, [(U([3, 4]), 1), (U([1, 4]), 1)]),
        ("div", lambda a, b: a / b, [(U([3, 4]), 1), (U([3, 4], 0.5, 2.0), 1)]),
        ("exp", torch.exp, [(U([3, 5], -2, 2), 1)]),
        ("log", torch.log, [(U([3, 5], 0.1, 4.0), 1)]),
        ("log1p", torch.log1p, [(U([3, 5], -0.5, 3.0), 1)]),
        ("sqrt", torch.sqrt, [(U([3, 5], 0.1, 4.0), 1)]),
        ("pow_scalar", lambda a: a ** 2.5, [(U([3, 5], 0.1, 3.0), 1)]),
        ("tanh", torch.tanh, [(U([3, 5], -3, 3), 1)]),
        ("sigmoid", torch.sigmoid, [(U([3, 5], -4, 4), 1)]),
        ("softplus", F.softplus, [(U([3, 5], -5, 5), 1)]),
        ("gelu", lambda a: F.gelu(a), [(U([3, 5], -3, 3), 1)]),
        ("silu", F.silu, [(U([3, 5], -4, 4), 1)]),
        ("elu", lambda a: F.elu(a, alpha=0.7), [(U([3, 5], -3, 3), 1)]),
        ("leaky_relu", lambda a: F.leaky_relu(a, 0.2), [(U([3, 5], -3, 3), 1)]),
        ("log_softmax", lambda a: F.log_softmax(a, dim=-1), [(U([4, 6], -3, 3), 1)]),
        ("softmax", lambda a: F.softmax(a, dim=0), [(U([4, 6], -3, 3), 1)]),
        ("logsumexp", lambda a: torch.logsumexp(a, dim=1), [(U([3, 4, 5], -3, 3), 1)]),
        ("sum", lambda a: a.sum(dim=1), [(U([3, 4, 5]), 1)]),
        ("mean", lambda a: a.mean(dim=-1, keepdim=True), [(U([3, 4, 5]), 1)]),
        ("max", lambda a: a.max(dim=0).values, [(U([3, 4, 5]), 1)]),
        ("matmul", lambda a, b: a @ b, [(U([5, 7]), 1), (U([7, 3]), 1)]),
        ("bmm", lambda a, b: a @ b, [(U([2, 4, 5]), 1), (U([2, 5, 3]), 1)]),
        ("bmm_bcast", lambda a, b: a @ b, [(U([2, 4, 5]), 1), (U([5, 3]), 1)]),
        ("gather", lambda x, i: torch.gather(x, 1, i), [(U([4, 6]), 1), (idx([4, 3], 6), 0)]),
        ("gather0", lambda x, i: torch.gather(x, 0, i), [(U([5, 3]), 1), (idx([4, 3], 5), 0)]),
        ("scatter_add", lambda x, i, s: torch.scatter_add(x, 1, i, s),
         [(U([3, 5]), 1), (idx([3, 4], 5), 0), (U([3, 4]), 1)]),
        ("where", lambda c, a, b: torch.where(c != 0, a, b),
         [((torch.rand([3, 4]) < 0.5).to(torch.float32), 0), (U([3, 4]), 1), (U([4]), 1)]),
    ]


# Cases added with issue 17 (image and sequence ops). They draw from a generator of their own, after
# the cases above, so adding them left every earlier case's values as they were. Comparisons and casts
# have no gradient: their cases store no R and no gK. pad widths in the C test are per dim in order;
# F.pad takes them last dim first.
ISSUE17_SEED = 20261203


def make_ops_issue17(gen):
    def V(shape, lo=-1.0, hi=1.0):
        return U(shape, lo, hi, gen)

    def halves(shape):  # multiples of 0.5 in [-2, 2]: comparisons see ties
        return torch.round(V(shape, -2.0, 2.0) * 2.0) / 2.0

    def nonzero(shape):  # |x| in [0.5, 1.5], either sign: cumprod's backward divides by x
        sign = (torch.rand(shape, generator=gen) < 0.5).to(torch.float32) * 2.0 - 1.0
        return V(shape, 0.5, 1.5) * sign

    cmp_in = [(halves([3, 4]), 0), (halves([4]), 0)]
    beta = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float32)
    return [
        ("sin", torch.sin, [(V([3, 5], -4, 4), 1)]),
        ("cos", torch.cos, [(V([3, 5], -4, 4), 1)]),
        ("erf", torch.erf, [(V([3, 5], -2.5, 2.5), 1)]),
        ("ge", lambda a, b: (a >= b).to(torch.float32), cmp_in),
        ("gt", lambda a, b: (a > b).to(torch.float32), cmp_in),
        ("le", lambda a, b: (a <= b).to(torch.float32), cmp_in),
        ("lt", lambda a, b: (a < b).to(torch.float32), cmp_in),
        ("eq", lambda a, b: (a == b).to(torch.float32), cmp_in),
        ("to_i32", lambda a: a.to(torch.int32), [(torch.cat([V([12], -5, 5), halves([8])]).reshape(4, 5), 0)]),
        ("to_f32", lambda a: a.to(torch.float32),
         [(torch.randint(-100000, 100000, [3, 5], dtype=torch.int32, generator=gen), 0)]),
        ("cumsum", lambda a: torch.cumsum(a, 1), [(V([3, 5, 4]), 1)]),
        ("cumsum_rev", lambda a: torch.flip(torch.cumsum(torch.flip(a, [0]), 0), [0]), [(V([4, 3]), 1)]),
        ("cumprod", lambda a: torch.cumprod(a, -1), [(nonzero([3, 5]), 1)]),
        ("cumprod_rev", lambda a: torch.flip(torch.cumprod(torch.flip(a, [1]), 1), [1]), [(nonzero([2, 4, 3]), 1)]),
        # alpha_bar of a 1000-step linear schedule the log-space way (tensor.h's recipe)
        ("alpha_bar", lambda b: torch.exp(torch.cumsum(torch.log1p(-b), 0)), [(beta, 1)]),
        ("pad", lambda a: F.pad(a, (1, 2, 0, 1), value=0.5), [(V([3, 4]), 1)]),
        ("pad3", lambda a: F.pad(a, (0, 0, 2, 1, 1, 0), value=-1.0), [(V([2, 3, 4]), 1)]),
    ]


# Cases added with issue 19 (the discrete families' speed): again a generator of their own, after the
# issue 17 cases. logaddexp mixes D3PM's log-weights; one input holds the log zero -1e4 that plugin uses.
ISSUE19_SEED = 20270119


def make_ops_issue19(gen):
    def V(shape, lo=-1.0, hi=1.0):
        return U(shape, lo, hi, gen)

    b = V([4, 1], -3, 3)
    b[1, 0] = -1.0e4
    return [
        ("logaddexp", torch.logaddexp, [(V([3, 4, 5], -3, 3), 1), (b, 1)]),
    ]


def write_cases(w, cases, gen=None):
    for name, fn, inputs in cases:
        xs = []
        for t, g in inputs:
            t = t.clone()
            if g:
                t.requires_grad_(True)
            xs.append(t)
        out_t = fn(*xs)
        gx = [x for x in xs if x.requires_grad]
        w.comment("case %s" % name)
        for k, x in enumerate(xs):
            w.tensor("%s.x%d" % (name, k), x.to(torch.int32) if x.dtype == torch.int64 else x)
        w.tensor(name + ".out", out_t)
        if not gx:
            continue
        R = U(list(out_t.shape), gen=gen)
        f = (out_t * R).sum()
        grads = torch.autograd.grad(f, gx)
        w.tensor(name + ".R", R)
        gi = iter(grads)
        for k, x in enumerate(xs):
            if x.requires_grad:
                w.tensor("%s.g%d" % (name, k), next(gi))


def write_ops(out):
    w = Writer(os.path.join(out, "torch_ops.txt"), "elementwise, reductions, matmul, indexing: "
               "out and d sum(out*R)/d inputs")
    write_cases(w, make_ops())
    w.comment("cases added with issue 17: their own generator, seed %d" % ISSUE17_SEED)
    gen = torch.Generator().manual_seed(ISSUE17_SEED)
    write_cases(w, make_ops_issue17(gen), gen)
    w.comment("cases added with issue 19: their own generator, seed %d" % ISSUE19_SEED)
    gen = torch.Generator().manual_seed(ISSUE19_SEED)
    write_cases(w, make_ops_issue19(gen), gen)
    w.close()


ACTS2 = [("tanh", torch.tanh), ("gelu", F.gelu), ("silu", F.silu), ("softplus", F.softplus),
         ("sigmoid", torch.sigmoid), ("elu", F.elu)]


def write_grad2(out):
    w = Writer(os.path.join(out, "torch_grad2.txt"), "second order: z = sum((d/dx sum(act(x@W)*R))^2)")
    for name, act in ACTS2:
        x = U([4, 5]).requires_grad_(True)
        W = U([5, 3]).requires_grad_(True)
        R = U([4, 3])
        y = (act(x @ W) * R).sum()
        (gx,) = torch.autograd.grad(y, x, create_graph=True)
        z = (gx * gx).sum()
        dW, dx = torch.autograd.grad(z, [W, x])
        w.comment("case %s" % name)
        for k, t in (("x", x), ("W", W), ("R", R), ("y", y), ("gx", gx), ("z", z), ("dz_dW", dW), ("dz_dx", dx)):
            w.tensor("%s.%s" % (name, k), t)
    w.close()


WIDTHS = [32, 256, 256, 256, 96]
BATCH = 16
STEPS = 10
# Strides of the stored samples per weight numel (odd, so samples hit every row and column).
EVERY = {32 * 256: 7, 256 * 256: 37, 256 * 96: 13}


def write_mlp(out):
    w = Writer(os.path.join(out, "torch_mlp.txt"), "MLP 32-256-256-256-96 LeakyReLU(0.01), MSE, Adam 1e-3 x 10")
    layers = []
    for i in range(len(WIDTHS) - 1):
        fan_in, fan_out = WIDTHS[i], WIDTHS[i + 1]
        # PyTorch's default init bound 1/sqrt(fan_in), rounded down to a power of two (exactness).
        bound = 2.0 ** math.floor(math.log2(1.0 / math.sqrt(fan_in)))
        lin = torch.nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            lin.weight.copy_(w.gen("mlp.%d.w" % i, [fan_out, fan_in], 1000 + 2 * i, bound))
            lin.bias.copy_(w.gen("mlp.%d.b" % i, [fan_out], 1001 + 2 * i, bound))
        layers.append(lin)
    mods = []
    for i, lin in enumerate(layers):
        mods.append(lin)
        if i + 1 < len(layers):
            mods.append(torch.nn.LeakyReLU(0.01))
    net = torch.nn.Sequential(*mods)
    x = U([BATCH, WIDTHS[0]])
    target = U([BATCH, WIDTHS[-1]])
    w.tensor("x", x)
    w.tensor("target", target)

    def dump(prefix, get):
        for i, lin in enumerate(layers):
            wt = get(lin.weight)
            w.tensor("%smlp.%d.w" % (prefix, i), wt, EVERY[wt.numel()])
            w.tensor("%smlp.%d.b" % (prefix, i), get(lin.bias))

    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, foreach=False)
    losses = []
    for step in range(STEPS):
        opt.zero_grad()
        y = net(x)
        loss = ((y - target) ** 2).mean()
        loss.backward()
        losses.append(loss.item())
        if step == 0:
            w.tensor("out", y)
            w.tensor("loss0", loss)
            dump("grad.", lambda p: p.grad)
        opt.step()
        if step + 1 in (1, STEPS):
            dump("step%d." % (step + 1), lambda p: p)
    with torch.no_grad():
        losses.append(((net(x) - target) ** 2).mean().item())
    w.tensor("losses", torch.tensor(losses, dtype=torch.float32))
    w.close()


# (name, kind, parameters after [kind, second], inputs [x, weight, bias] (None = absent), second order).
# Mirrored in test_torch_ref.c (test_conv, which runs every case of the file and checks their number).
def make_conv():
    def cv(sh=1, sw=1, ph=0, pw=0, dh=1, dw=1, g=1, oph=0, opw=0):
        return [sh, sw, ph, pw, dh, dw, g, oph, opw]
    return [
        ("conv2d_basic", 0, cv(), [U([2, 3, 7, 6]), U([4, 3, 3, 3]), U([4])], 0),
        ("conv2d_s2p1", 0, cv(2, 2, 1, 1), [U([2, 3, 8, 7]), U([5, 3, 3, 3]), U([5])], 0),
        ("conv2d_rect", 0, cv(2, 1, 2, 0, 1, 2), [U([1, 4, 9, 8]), U([6, 4, 3, 2]), U([6])], 0),
        ("conv2d_dil2", 0, cv(1, 1, 2, 2, 2, 2), [U([2, 2, 9, 9]), U([3, 2, 3, 3]), None], 0),
        ("conv2d_groups2", 0, cv(1, 1, 1, 1, g=2), [U([2, 4, 6, 6]), U([6, 2, 3, 3]), U([6])], 0),
        ("conv2d_depthwise", 0, cv(2, 2, 1, 1, g=4), [U([2, 4, 5, 5]), U([4, 1, 3, 3]), U([4])], 0),
        ("conv2d_1x1", 0, cv(), [U([3, 5, 4, 4]), U([7, 5, 1, 1]), U([7])], 0),
        ("conv2d_all", 0, cv(2, 3, 1, 2, 2, 1, 3), [U([2, 6, 10, 11]), U([9, 2, 3, 4]), U([9])], 0),
        ("convt_basic", 1, cv(), [U([2, 4, 4, 5]), U([4, 3, 3, 3]), U([3])], 0),
        ("convt_s2p1op1", 1, cv(2, 2, 1, 1, oph=1, opw=1), [U([2, 3, 4, 4]), U([3, 2, 3, 3]), U([2])], 0),
        ("convt_groups2", 1, cv(2, 2, g=2), [U([2, 4, 3, 3]), U([4, 3, 3, 3]), U([6])], 0),
        ("convt_dil", 1, cv(1, 2, 1, 0, 2, 1, oph=1, opw=1), [U([1, 2, 4, 3]), U([2, 3, 3, 2]), None], 0),
        ("avgpool_2", 2, [2, 2, 2, 2, 0, 0], [U([2, 3, 6, 6]), None, None], 0),
        ("avgpool_3s21p1", 2, [3, 3, 2, 1, 1, 1], [U([2, 2, 7, 6]), None, None], 0),
        ("avgpool_rect", 2, [2, 3, 1, 2, 1, 1], [U([1, 3, 5, 8]), None, None], 0),
        ("up_nearest2", 3, [2, 0], [U([2, 3, 4, 5]), None, None], 0),
        ("up_nearest3", 3, [3, 0], [U([1, 2, 3, 3]), None, None], 0),
        ("up_bilinear2", 3, [2, 1], [U([2, 3, 4, 5]), None, None], 0),
        ("up_bilinear3", 3, [3, 1], [U([1, 2, 3, 4]), None, None], 0),
        ("gn_3", 4, [3], [U([2, 6, 4, 4]), U([6]), U([6])], 0),
        ("gn_plain", 4, [2], [U([3, 4, 5, 5]), None, None], 0),
        ("gn_1", 4, [1], [U([2, 4, 3, 3]), U([4]), U([4])], 0),
        ("gn_instance", 4, [5], [U([2, 5, 3, 4]), U([5]), None], 0),
        ("gn_ncl", 4, [2], [U([3, 4, 6]), U([4]), U([4])], 0),
        ("g2_conv2d", 0, cv(2, 1, 1, 1, 1, 2, 2), [U([2, 4, 6, 7]), U([4, 2, 3, 2]), U([4])], 1),
        ("g2_convt", 1, cv(2, 2, 1, 1, g=2, oph=1, opw=0), [U([2, 4, 3, 4]), U([4, 2, 3, 3]), U([4])], 1),
        ("g2_gn", 4, [2], [U([2, 4, 3, 3]), U([4]), U([4])], 1),
    ]


def conv_op(kind, p, x, w, b):
    if kind in (0, 1):
        sh, sw, ph, pw, dh, dw, g, oph, opw = p
        if kind == 0:
            return F.conv2d(x, w, b, stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=g)
        return F.conv_transpose2d(x, w, b, stride=(sh, sw), padding=(ph, pw), output_padding=(oph, opw),
                                  groups=g, dilation=(dh, dw))
    if kind == 2:
        kh, kw, sh, sw, ph, pw = p
        return F.avg_pool2d(x, (kh, kw), (sh, sw), (ph, pw))
    if kind == 3:
        if p[1] == 0:
            return F.interpolate(x, scale_factor=p[0], mode="nearest")
        return F.interpolate(x, scale_factor=p[0], mode="bilinear", align_corners=False)
    return F.group_norm(x, p[0], w, b, eps=1e-5)


def write_conv(out):
    torch.manual_seed(20240917)
    w = Writer(os.path.join(out, "torch_conv.txt"), "conv2d, conv_transpose2d, avg_pool2d, upsample, group_norm: "
               "out, d sum(out*R)/d inputs, second order of tanh(op)")
    for name, kind, p, inputs, second in make_conv():
        xs = [t.clone().requires_grad_(True) if t is not None else None for t in inputs]
        out_t = conv_op(kind, p, *xs)
        if second:
            out_t = torch.tanh(out_t)
        R = U(list(out_t.shape))
        f = (out_t * R).sum()
        gx = [x for x in xs if x is not None]
        grads = torch.autograd.grad(f, gx, create_graph=bool(second))
        w.comment("case %s" % name)
        w.tensor(name + ".p", torch.tensor([kind, second] + p, dtype=torch.int32))
        for k, x in enumerate(xs):
            if x is not None:
                w.tensor("%s.x%d" % (name, k), x)
        w.tensor(name + ".out", out_t)
        w.tensor(name + ".R", R)
        gi = iter(grads)
        for k, x in enumerate(xs):
            if x is not None:
                w.tensor("%s.g%d" % (name, k), next(gi))
        if second:
            z = (grads[0] * grads[0]).sum()
            hs = torch.autograd.grad(z, gx)
            hi = iter(hs)
            for k, x in enumerate(xs):
                if x is not None:
                    w.tensor("%s.h%d" % (name, k), next(hi))
    w.close()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures")
    os.makedirs(out, exist_ok=True)
    write_ops(out)
    write_grad2(out)
    write_mlp(out)
    write_conv(out)


if __name__ == "__main__":
    main()
