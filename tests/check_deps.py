#!/usr/bin/env python3
"""check_deps.py — the one-way include rules of docs/architecture.md, checked over the `#include "..."`
lines of the tree. Exit 0 when every include is allowed, 1 with one line per violation otherwise.

    tests/check_deps.py [ROOT]            check the tree at ROOT (default: this file's repository)
    tests/check_deps.py --num-lib A [ROOT] also check that the numerics archive A (libunigfn_num.a)
                                          calls nothing of libyaml, SQLite or cairo (nm -u)
    tests/check_deps.py --selftest [ROOT] copy ROOT's sources to a temporary folder, check the copy
                                          (must pass), then plant each kind of forbidden include in it
                                          and check that every one is reported (the suite runs this)

Subsystems: a file under core/src/<folder>/ belongs to <folder> (backend/cpu to backend); a header
under core/include/unigfn/host/ to the subsystem that implements it (HOST_OWNER); the other headers
of core/include/unigfn/ are the plugin ABI ("abi"). Private core headers are included folder-qualified
("tensor/internal.h"), so every include names the subsystem it reaches.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

NUMERICS = {"base", "tensor", "ops", "backend", "nn"}
HOST = {"spec", "plugin", "run", "store", "sweep", "report", "plot"}
SUBSYSTEMS = NUMERICS | HOST

# Which subsystems each may include (itself always). The graph is acyclic: numerics at the bottom,
# then spec and store side by side, the plugin host, the run loop, and sweeps/reports at the top.
ALLOWED = {
    "base": {"abi"},
    "backend": {"abi", "base"},
    "tensor": {"abi", "base", "backend"},
    "ops": {"abi", "base", "backend", "tensor"},
    "nn": {"abi", "base", "backend", "tensor", "ops"},
    "spec": {"abi", "base"},
    "store": {"abi", "base"},
    "plot": {"abi", "base"},
    "plugin": {"abi", "base", "spec"},
    "run": {"abi", "base", "backend", "nn", "spec", "plugin", "store"},
    "sweep": {"abi", "base", "spec", "plugin", "store", "run"},
    "report": {"abi", "base", "spec", "plugin", "store", "run", "plot"},
}
# Subsystems that never see tensors, and the only ABI headers each may include (plugin.h, for one,
# pulls in tensor.h and model.h; config.h is the spec-side config getters that spec implements).
NO_TENSORS = {"store": {"unigfn/status.h"}, "plot": {"unigfn/status.h", "unigfn/plot.h"},
              "spec": {"unigfn/status.h", "unigfn/config.h"}}

HOST_OWNER = {
    "log.h": "base", "util.h": "base", "sha256.h": "base", "defaults.h": "base",
    "blas_info.h": "backend", "optim.h": "nn", "checkpoint.h": "nn", "ema.h": "nn",
    "spec.h": "spec", "loader.h": "plugin", "store.h": "store",
    "experiment.h": "run", "runner.h": "run", "run_from.h": "run", "run_lookup.h": "run", "step.h": "run",
    "run_lease.h": "run", "run_init.h": "run", "run_carry.h": "run", "provenance.h": "run",
    "sweep.h": "sweep",
    "report_data.h": "report", "report_table.h": "report", "report_curves.h": "report",
    "report_samples.h": "report", "report_html.h": "report", "figure.h": "plot",
}
GENERATED = {"ug_version.h": "run", "unigfn/plugin_api_defs.h": "abi"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def source_files(root):
    for top in ("core", "plugins", "tools", "tests"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for f in filenames:
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, f), root)


def owner_of_file(rel):
    """The subsystem a file belongs to, or None for files outside core/."""
    parts = rel.split(os.sep)
    if parts[:2] == ["core", "src"] and len(parts) >= 4:
        return parts[2]
    if parts[:4] == ["core", "include", "unigfn", "host"]:
        return HOST_OWNER.get(parts[4], "?host")
    if parts[:3] == ["core", "include", "unigfn"]:
        return "abi"
    return None


def target_of(inc):
    """The subsystem an include names: 'abi', a subsystem, or None (a local header of a tool or test)."""
    if inc in GENERATED:
        return GENERATED[inc]
    if inc.startswith("unigfn/host/"):
        return HOST_OWNER.get(inc[len("unigfn/host/"):], "?host")
    if inc.startswith("unigfn/"):
        return "abi"
    head = inc.split("/")[0]
    if "/" in inc and head in SUBSYSTEMS:
        return head
    return None


def check(root):
    errors = []
    for rel in sorted(source_files(root)):
        text = open(os.path.join(root, rel), encoding="utf-8", errors="replace").read()
        owner = owner_of_file(rel)
        top = rel.split(os.sep)[0]
        for m in INCLUDE.finditer(text):
            inc = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            where = f"{rel}:{line}: #include \"{inc}\""
            tgt = target_of(inc)
            if top == "plugins":
                # A plugin sees the ABI and headers of its own tree (plugins/.../x.h), nothing else.
                local = os.path.normpath(os.path.join(os.path.dirname(rel), inc))
                if inc.startswith("unigfn/host/") or (tgt != "abi" and not (
                        local.startswith("plugins" + os.sep) and os.path.exists(os.path.join(root, local)))):
                    errors.append(f"{where}: a plugin may include only the plugin ABI (unigfn/*.h) and its own headers")
                continue
            if top == "tools":
                if tgt in SUBSYSTEMS and not inc.startswith("unigfn/") and inc not in GENERATED:
                    errors.append(f"{where}: tools include unigfn/ and unigfn/host/ headers, not core/src internals")
                continue
            if top == "tests" or owner is None:
                continue  # tests may test internals (through core_private_inc)
            if tgt is None:
                # An unqualified private header: only legal for a file in the same folder of core/src.
                if owner in SUBSYSTEMS and os.path.exists(os.path.join(root, os.path.dirname(rel), inc)):
                    errors.append(f"{where}: name private headers folder-qualified ({owner}/...)")
                else:
                    errors.append(f"{where}: unknown header (not unigfn/..., unigfn/host/... or <subsystem>/...)")
                continue
            if tgt.startswith("?"):
                errors.append(f"{where}: host header with no owner in tests/check_deps.py HOST_OWNER")
                continue
            if owner == "abi":
                if tgt != "abi":
                    errors.append(f"{where}: the plugin ABI may include only plugin ABI headers")
                continue
            if tgt == owner:
                continue
            if owner in NO_TENSORS and tgt == "abi" and inc not in NO_TENSORS[owner]:
                errors.append(f"{where}: {owner} must not include tensor or other ABI headers beyond "
                              f"{', '.join(sorted(NO_TENSORS[owner]))}")
                continue
            if tgt not in ALLOWED.get(owner, set()):
                kind = "numerics" if owner in NUMERICS else owner
                errors.append(f"{where}: {kind} ({owner}) may not depend on {tgt}")
    return errors


# Each planted include must be reported; (file to create or append to, line, words the report must hold).
PLANTS = [
    ("core/src/ops/ops_shape.c", '#include "unigfn/host/store.h"\n', "may not depend on store"),
    ("core/src/tensor/tensor.c", '#include "unigfn/host/spec.h"\n', "may not depend on spec"),
    ("core/src/nn/nn.c", '#include "unigfn/host/runner.h"\n', "may not depend on run"),
    ("core/src/base/util.c", '#include "tensor/internal.h"\n', "may not depend on tensor"),
    ("core/src/store/store_planted.c", '#include "unigfn/tensor.h"\n', "must not include tensor"),
    ("core/src/spec/spec_planted.c", '#include "report/report_stats.h"\n', "may not depend on report"),
    ("plugins/models/planted.c", '#include "unigfn/host/optim.h"\n', "a plugin may include only"),
    ("plugins/models/planted2.c", '#include "tensor/internal.h"\n', "a plugin may include only"),
    ("tools/cli/planted.c", '#include "spec/spec_internal.h"\n', "not core/src internals"),
    ("core/include/unigfn/planted.h", '#include "unigfn/host/store.h"\n', "the plugin ABI may include only"),
    ("core/src/ops/ops_planted.c", '#include "internal.h"\n', "unknown header"),
]


def selftest(root):
    tmp = tempfile.mkdtemp(prefix="check_deps.")
    try:
        for rel in source_files(root):
            dst = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(os.path.join(root, rel), dst)
        base = check(tmp)
        if base:
            print("selftest: the unmodified tree already fails:")
            print("\n".join(base))
            return 1
        print(f"selftest: the tree passes ({sum(1 for _ in source_files(tmp))} files)")
        bad = 0
        for rel, line, words in PLANTS:
            path = os.path.join(tmp, rel)
            existed = os.path.exists(path)
            old = open(path).read() if existed else ""
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(old + line)
            errs = check(tmp)
            hit = [e for e in errs if e.startswith(rel + ":") and words in e]
            if hit and len(errs) == 1:
                print(f"selftest: planted {line.strip()} in {rel}: reported: {hit[0]}")
            else:
                print(f"selftest: planted {line.strip()} in {rel}: NOT reported as expected ({errs})")
                bad += 1
            if existed:
                with open(path, "w") as f:
                    f.write(old)
            else:
                os.remove(path)
        print(f"selftest: {len(PLANTS) - bad} of {len(PLANTS)} planted violations reported")
        return 1 if bad else 0
    finally:
        shutil.rmtree(tmp)


def check_num_lib(path):
    """Undefined symbols of the numerics archive that belong to the host's libraries."""
    out = subprocess.run(["nm", "-u", path], capture_output=True, text=True, check=True).stdout
    syms = sorted({l.split()[-1] for l in out.splitlines() if l.strip() and not l.endswith(":")})
    bad = [x for x in syms if x.startswith(("sqlite3_", "yaml_", "png_", "cairo_"))]
    return [f"{path}: numerics calls {x} (libyaml, SQLite, libpng and cairo are host-only)" for x in bad]


def main(argv):
    num_lib = None
    if "--num-lib" in argv:
        i = argv.index("--num-lib")
        num_lib = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    args = [a for a in argv if a != "--selftest"]
    root = args[0] if args else os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    lib_errs = check_num_lib(num_lib) if num_lib else []
    if num_lib and not lib_errs:
        print(f"check_deps: {os.path.basename(num_lib)} calls nothing of libyaml, SQLite, libpng or cairo")
    for e in lib_errs:
        print(e)
    if "--selftest" in argv:
        rc = selftest(root)
        errs = check(root) + lib_errs
        for e in errs:
            print(e)
        return 1 if errs or rc else 0
    errs = check(root)
    for e in errs:
        print(e)
    errs += lib_errs
    if not errs:
        print(f"check_deps: {sum(1 for _ in source_files(root))} files, every include allowed")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
