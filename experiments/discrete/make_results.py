#!/usr/bin/env python3
"""make_results.py — write experiments/discrete/RESULTS.md from its results database (issue 19: the
discrete families as GFlowNets — autoregressive MADE, discrete diffusion D3PM, the learned-order binary
GFlowNet (MLE-GFN, EB-GFN), the hierarchical VAE — on the seven Gray-coded 2-D tasks, UCI digits and
Fashion-MNIST).

Every number comes from a database or a JSON file written by a run, never from this file; the only
constants here are the entropy floors of the Gray-coded tasks (REPRODUCTION.md §5) and the order things
are shown in. Sources:
- experiments/discrete/results.db: the runs of specs/*.yaml (run.sh);
- experiments/paper/results.db: the §4.2 MLE-GFN and EB-GFN runs at the same 10^4-step budget, shown
  beside the new families, and experiments/paper/SAMPLE2D.md for their decoded 2-D sample metric;
- experiments/discrete/torch/*.json: the PyTorch anchors (tools/reference/fmnist_torch.py);
- for runs whose spec had no `sample2d` metric (ar-gray), the metric evaluated on the run's final
  checkpoint by tools/diag/metric_at, cached in sample2d-cache.json (keyed by run id); likewise a
  sample grid for image runs whose spec had no `sample_grid` (ar-fmnist, hvae-fmnist), kept in pictures/;
- analysis.md beside this script, the hand-written reading of the tables, appended as it is.
Python standard library only.

    python3 experiments/discrete/make_results.py [--db PATH] [--unigfn build/unigfn]
"""
import argparse
import glob
import json
import math
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TASKS = ["2spirals", "8gaussians", "circles", "moons", "pinwheel", "swissroll", "checkerboard"]
FLOOR = {"2spirals": 20.037, "8gaussians": 19.979, "circles": 20.555, "moons": 19.717, "pinwheel": 19.547,
         "swissroll": 20.139, "checkerboard": 20.677}   # REPRODUCTION.md §5, nats, 32-bit Gray codes
GRAY = [("ar-gray", "AR (MADE), exact ML"), ("d3pm-gray", "D3PM, uniform kernel, hybrid loss")]
PAPER = [("mlegfn", "binary GFlowNet, MLE-GFN (§4.2)"), ("ebgfn", "binary GFlowNet, EB-GFN (§4.2)")]
DIGITS = [("ar-digits", "AR (MADE), exact ML"), ("d3pm-digits-uniform", "D3PM, uniform kernel"),
          ("d3pm-digits-absorbing", "D3PM, absorbing kernel")]
FMNIST = [("ar-fmnist", "AR (MADE 784-1000-1000)", "made"), ("hvae-fmnist", "VAE (hvae, L = 1), IWAE M = 100", "vae"),
          ("d3pm-fmnist", "D3PM, absorbing kernel (ELBO)", None)]
DMNIST = [("mlegfn-dmnist14", "binary GFlowNet, MLE-GFN"), ("ebgfn-dmnist14", "binary GFlowNet, EB-GFN")]


def fmt(v, d=3):
    return "—" if v is None else f"{v:.{d}f}"


def mean_sd(v):
    if not v:
        return None, None
    mu = sum(v) / len(v)
    return mu, (math.sqrt(sum((x - mu) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else None)


def ms(v, d=2):
    mu, sd = mean_sd(v)
    if mu is None:
        return "—"
    return f"{mu:.{d}f} ± {sd:.{d}f} [{len(v)}]" if sd is not None else f"{mu:.{d}f} [1]"


def load(db):
    if not os.path.exists(db):
        return []
    c = sqlite3.connect(db)
    q = """select r.id, r.experiment, r.status, r.step, r.seed, r.started, r.ended, r.spec,
                  (select value from params p where p.run = r.id and p.key = 'dataset.data'),
                  (select value from params p where p.run = r.id and p.key = 'train.steps'),
                  (select value from params p where p.run = r.id and p.key = 'train.batch')
           from runs r order by r.created"""
    out = []
    for rid, exp, status, step, seed, t0, t1, spec, data, steps, batch in c.execute(q).fetchall():
        last = dict(c.execute("select key, last from summary where run = ?", (rid,)).fetchall())
        pngs = [p for (p,) in c.execute("select path from artifacts where run = ? and kind = 'png' order by step", (rid,))]
        out.append(dict(id=rid, exp=exp, status=status, step=step, seed=seed, data=data, spec=spec,
                        steps=int(float(steps or 0)), batch=int(float(batch or 0)), m=last, pngs=pngs,
                        wall=(t1 - t0) if (t0 and t1) else None))
    return out


def copy_picture(dbdir, r, kind, name):
    """Copy the run's last PNG whose file name starts with kind ('density' or 'samples') to pictures/."""
    src = [p for p in r["pngs"] if os.path.basename(p).startswith(kind)]
    if not src:
        return None
    p = src[-1] if os.path.isabs(src[-1]) else os.path.join(dbdir, src[-1])
    if not os.path.exists(p):
        return None
    dst = os.path.join(HERE, "pictures", name)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(p, dst)
    return f"pictures/{name}"


def sample2d_of(r, dbdir, metric_at, cache):
    """The run's sample2d values: from the database, else the cache, else metric_at on its checkpoint."""
    m = r["m"]
    if m.get("tv") is not None:
        return {k: m.get(k) for k in ("tv", "tv_floor", "off_data", "off_data_floor")}
    if r["id"] in cache:
        return cache[r["id"]]
    ckpt = os.path.join(dbdir, "runs", r["id"], "checkpoint.bin")
    if not (os.path.exists(ckpt) and os.path.exists(metric_at) and r["spec"]):
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(r["spec"])
    try:
        p = subprocess.run([metric_at, f.name, ckpt, "metrics=[{plugin: sample2d}]"], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    kv = dict(re.findall(r"(\w+) ([-0-9.e]+)", p.stdout.split("sample2d:")[-1])) if p.returncode == 0 else {}
    if not kv:
        return None
    cache[r["id"]] = {k: float(kv[k]) for k in ("tv", "tv_floor", "off_data", "off_data_floor")}
    return cache[r["id"]]


def grid_from_checkpoint(r, dbdir, metric_at, name):
    """A sample grid for a run whose spec had no sample_grid metric: metric_at on its final checkpoint
    (8 x 8 model samples beside 8 x 8 test images), written to pictures/NAME once and reused after."""
    dst = os.path.join(HERE, "pictures", name)
    if os.path.exists(dst):
        return f"pictures/{name}"
    ckpt = os.path.join(dbdir, "runs", r["id"], "checkpoint.bin")
    if not (os.path.exists(ckpt) and os.path.exists(metric_at) and r["spec"]):
        return None
    with tempfile.TemporaryDirectory() as d:
        spec = os.path.join(d, "spec.yaml")
        with open(spec, "w") as f:
            f.write(r["spec"])
        p = subprocess.run([metric_at, spec, ckpt, "metrics=[{plugin: sample_grid, rows: 8, cols: 8}]", "--dir", d],
                           capture_output=True, text=True)
        made = glob.glob(os.path.join(d, "samples-*.png"))
        if p.returncode != 0 or not made:
            return None
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(made[0], dst)
    return f"pictures/{name}"


def paper_sample2d():
    """run id -> (tv, tv floor, off data, off-data floor) from experiments/paper/SAMPLE2D.md."""
    p = os.path.join(HERE, "..", "paper", "SAMPLE2D.md")
    out = {}
    if os.path.exists(p):
        for line in open(p):
            f = [x.strip() for x in line.split("|")]
            if len(f) > 8 and f[1].startswith("`"):
                try:
                    out[f[1].strip("`")] = dict(tv=float(f[5]), tv_floor=float(f[6]), off_data=float(f[7]),
                                                off_data_floor=float(f[8]))
                except ValueError:
                    pass
    return out


def cli_table(unigfn, db, where, cols="dataset.data", stat="sem", metric="nll"):
    if not os.path.exists(unigfn):
        return "(unigfn not built: no CLI table)"
    cmd = [unigfn, "--db", db, "report", "table", "--rows", "experiment", "--cols", cols, "--metric", metric,
           "--where", where, "--stat", stat, "--format", "md", "--decimals", "3"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    shown = "unigfn report table --rows experiment --cols " + cols + " --metric " + metric + " --where '" + where + "' --stat " + stat + " --decimals 3"
    return "\n".join(["```", "$ " + shown, "```", "",
                      res.stdout.rstrip() if res.returncode == 0 else f"(report failed: {res.stderr.strip()})"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=os.path.join(HERE, "results.db"))
    ap.add_argument("--paper-db", default=os.path.join(HERE, "..", "paper", "results.db"))
    ap.add_argument("--unigfn", default=os.path.join(HERE, "..", "..", "build", "unigfn"))
    a = ap.parse_args()
    metric_at = os.path.join(os.path.dirname(os.path.abspath(a.unigfn)), "tools", "metric_at")
    dbdir = os.path.dirname(os.path.abspath(a.db))
    runs = load(a.db)
    fin = [r for r in runs if r["status"] == "FINISHED"]
    by = {}
    for r in fin:   # newest FINISHED run of each (experiment, task, seed) wins
        by[(r["exp"], r["data"], r["seed"])] = r
    cache_path = os.path.join(HERE, "sample2d-cache.json")
    cache = json.load(open(cache_path)) if os.path.exists(cache_path) else {}

    out = ["# Discrete families as GFlowNets: Gray-coded 2-D tasks, UCI digits, Fashion-MNIST", "",
           "Generated by `python3 experiments/discrete/make_results.py` from `experiments/discrete/results.db` (and the",
           "sources its docstring lists); do not edit by hand. `experiments/discrete/run.sh` makes (and continues) the",
           "runs. Each family is a model plugin behind the one policy interface; a row differs from another in the",
           "spec's `model:` / `objective:` blocks only (`specs/*.yaml`, which also say the budget and why).", ""]

    # 1. the seven Gray-coded tasks
    gray = {(e, d): by.get((e, d, 0)) for e, _ in GRAY for d in TASKS}
    paper = {}
    for r in load(a.paper_db):
        if r["status"] != "FINISHED" or r["steps"] != 10000:
            continue
        for e, _ in PAPER:
            for d in TASKS:
                if r["exp"] == f"{e}-{d}":
                    paper[(e, d)] = r
    p2d = paper_sample2d()
    if any(gray.values()):
        out += ["## 1. The seven 2-D tasks, Gray-coded to 32 bits (10⁴ steps × 128, seed 0)", "",
                "NLL in nats on 4000 held-out rows: exact for AR (P_B is a Dirac), Eq. 24 over M backward",
                "trajectories for D3PM (M = 4) and the §4.2 binary GFlowNets (M = 100; experiments/paper).", "",
                cli_table(a.unigfn, a.db, "experiment=ar-gray|d3pm-gray"), "",
                "### NLL − entropy floor (nats)", "",
                "| family | " + " | ".join(TASKS) + " | within 0.02 |", "|---|" + "---|" * (len(TASKS) + 1)]
        rows = [(e, n, gray) for e, n in GRAY] + [(e, n, paper) for e, n in PAPER]
        for e, n, src in rows:
            cells, k = [], 0
            for d in TASKS:
                r = src.get((e, d))
                v = r["m"].get("nll") if r else None
                if v is None:
                    cells.append("—")
                    continue
                k += v - FLOOR[d] <= 0.02
                cells.append(f"{v - FLOOR[d]:+.3f}")
            out.append(f"| {n} | " + " | ".join(cells) + f" | {k}/{sum(c != '—' for c in cells)} |")
        out.append("| entropy floor | " + " | ".join(f"{FLOOR[d]:.3f}" for d in TASKS) + " | |")
        out += ["", "### Samples in decoded 2-D space beside the Hamming MMD", "",
                "tv: total variation between 64×64 histograms of 50000 decoded model samples and 50000 true ones;",
                "off: the fraction of model samples farther from the data than the 99th percentile of held-out true",
                "points; each with its true-vs-true floor in brackets (`sample2d`). MMD: the Hamming-kernel MMD of §4.2, in its units of 1e-4.", "",
                "| family | task | NLL | MMD ×1e-4 | tv (floor) | off data (floor) | run |", "|---|---|---|---|---|---|---|"]
        for e, n, src in rows:
            for d in TASKS:
                r = src.get((e, d))
                if not r:
                    continue
                s2 = p2d.get(r["id"]) if src is paper else sample2d_of(r, dbdir, metric_at, cache)
                mmd = r["m"].get("mmd")
                tv = f"{s2['tv']:.3f} ({s2['tv_floor']:.3f})" if s2 else "—"
                off = f"{s2['off_data']:.3f} ({s2['off_data_floor']:.3f})" if s2 else "—"
                out.append(f"| {n} | {d} | {fmt(r['m'].get('nll'))} | {fmt(mmd, 2)} "
                           f"| {tv} | {off} | `{r['id']}` |")
        pics = {}
        for e, _ in GRAY:
            for d in TASKS:
                r = gray.get((e, d))
                if r:
                    pics[(e, d)] = copy_picture(dbdir, r, "density", f"{e}-{d}.png")
        out += ["", "### Density pictures (model samples left, true distribution right)", "",
                "| family | " + " | ".join(TASKS) + " |", "|---|" + "---|" * len(TASKS)]
        for e, n in GRAY:
            out.append(f"| {n} | " + " | ".join(f"![{e} {d}]({pics[(e, d)]})" if pics.get((e, d)) else "—" for d in TASKS) + " |")
        out.append("")

    # 2. and 3. image datasets: mean ± sd over seeds
    def image_section(title, fams, torch_side, D, extra):
        rs = {e: [r for r in fin if r["exp"] == e] for e, *_ in fams}
        if not any(rs.values()):
            return
        out.extend([title, "", *extra, "",
                    cli_table(a.unigfn, a.db, "experiment=" + "|".join(e for e, *_ in fams), cols="seed", stat="mean_std"), "",
                    "| family | NLL (nats) | bits/dim | −ELBO (nats) | s/step | runs |", "|---|---|---|---|---|---|"])
        for f in fams:
            e, n = f[0], f[1]
            v = [r["m"]["nll"] for r in rs[e] if r["m"].get("nll") is not None]
            el = [-r["m"]["elbo"] for r in rs[e] if r["m"].get("elbo") is not None]
            sp = [r["wall"] / r["steps"] for r in rs[e] if r["wall"] and r["steps"]]
            bpd = [x / (D * math.log(2)) for x in v]
            ids = ", ".join(f"`{r['id'][:8]}`" for r in rs[e])
            out.append(f"| {n} | {ms(v)} | {ms(bpd, 3)} | {ms(el)} | {ms(sp, 3)} | {ids or '—'} |")
            if torch_side and len(f) > 2 and f[2]:
                js = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(HERE, "torch", f"fmnist-{f[2]}-seed*.json")))]
                tv = [j["final"]["nll"] for j in js]   # fmnist_torch.py's JSON: final metrics under "final"
                te = [-j["final"]["elbo"] for j in js]
                tsp = [j["s_per_step"] for j in js if j.get("s_per_step")]
                out.append(f"| {n}, PyTorch anchor | {ms(tv)} | {ms([x / (D * math.log(2)) for x in tv], 3)} | {ms(te)} "
                           f"| {ms(tsp, 3)} (training only) | {len(js)} JSON |")
        out.append("")
        out.append("s/step: the run's wall time (training and every evaluation) over its steps.")
        out.append("")
        cells = []
        for e, *_ in fams:
            r0 = next((r for r in rs[e] if r["seed"] == 0), None)
            p = copy_picture(dbdir, r0, "samples", f"samples-{e}.png") if r0 else None
            if r0 and not p:
                p = grid_from_checkpoint(r0, dbdir, metric_at, f"samples-{e}.png")
            if p:
                cells.append(f"| {e} | ![{e} samples]({p}) |")
        if cells:
            out.extend(["Samples (seed 0; model left, test-set images right):", "", "| run | samples |", "|---|---|", *cells, ""])

    image_section("## 2. UCI digits, 17 gray levels (8×8; 1500 train / 297 test, split_seed 0)", DIGITS, False, 64,
                  ["NLL in nats on the 297 test images (exact for AR; Eq. 24 with M = 8 for D3PM), mean ± sd over seeds",
                   "[n]; bits/dim = NLL / (64 ln 2)."])
    image_section("## 3. Dynamically binarized Fashion-MNIST 28×28 (5000 steps × 128)", FMNIST, True, 784,
                  ["NLL in nats on all 10000 test images binarized once (heldout_seed 12345): exact for the MADE, the",
                   "IWAE bound with M = 100 for the VAE, the ELBO (M = 1) for D3PM; mean ± sd over seeds [n]. The PyTorch",
                   "anchors (tools/reference/fmnist_torch.py) train the same networks with the same budget and estimator."])
    image_section("## 4. DMNIST: binarized Fashion-MNIST pooled to 14×14 (D = 196), 600 steps × 64", DMNIST, False, 196,
                  ["NLL in nats (Eq. 24, M = 20) on the first 1000 test images; the paper's claim is MLE-GFN < EB-GFN."])

    notes = os.path.join(HERE, "analysis.md")
    if os.path.exists(notes):
        out += [open(notes).read().rstrip(), ""]
    other = [r for r in runs if r["status"] != "FINISHED"]
    if other:
        out += ["## Runs not finished", "", "| run | experiment | data | seed | status (step) |", "|---|---|---|---|---|"]
        out += [f"| `{r['id']}` | {r['exp']} | {r['data']} | {r['seed']} | {r['status']} ({r['step']}) |" for r in other]
        out.append("")
    with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
        f.write("\n".join(out) + "\n")
    with open(cache_path, "w") as f:
        json.dump(cache, f, indent=1, sort_keys=True)
    if os.path.exists(a.db):
        sqlite3.connect(a.db).execute("pragma wal_checkpoint(passive)").fetchall()
    print(f"wrote {os.path.join(HERE, 'RESULTS.md')} ({len(runs)} runs, {len(fin)} finished)")


if __name__ == "__main__":
    main()
