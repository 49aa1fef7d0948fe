#!/usr/bin/env python3
"""check_doc_refs.py — every file or folder a doc names exists in the tree, and no doc links outside it.

    tests/check_doc_refs.py [ROOT]

Reads README.md, docs/*.md and experiments/**/*.md. A reference is a markdown link target or a
`code span` that looks like a path (has a '/' or a source/doc extension, no spaces); it must exist
relative to the repository root, the doc's own folder or core/src (`run/step.c`). Patterns (`{a,b}`, `*`, `NAME`, `<id>`,
`...`), commands with arguments, URLs, build outputs (build/, build-asan/) and paths a run creates
(runs/, results.db) are not files of the tree and are skipped. A link or path that climbs out of the
repository ('../' past the root) is always an error. Exit 0 when all resolve, 1 listing each miss.
"""
import os
import re
import sys

EXT = (".c", ".h", ".md", ".py", ".yaml", ".yml", ".sh", ".build", ".txt", ".png", ".json", ".in", ".csv", ".tex")
SKIP_PREFIX = ("build/", "build-asan/", "build*/", "runs/", "http://", "https://", "/", "~", "$", "-")
CODE = re.compile(r"`([^`\n]+)`")
# Plain-text paths into the tree's top folders (headings, prose): "core/src/run/step.c".
PLAIN = re.compile(r"(?<![\w/.`-])((?:core|plugins|tools|tests|experiments|docs)/[\w./+-]*[\w/])(?![\w./+<*-])")
# Names that are not files of this tree, with why.
NOT_OURS = {
    "synthetic/train.py": "a file of the public EB-GFN code that tools/reference/ebgfn_public.py runs",
    "plugin_api_defs.h": "generated into the build folder by tools/build/gen_plugin_api.py",
    "lib/x86_64-linux-gnu": "an install location", "bin/unigfn": "an install location",
}
LINK = re.compile(r"\]\(([^)\s]+)\)")


TOPS = ("core", "plugins", "tools", "tests", "experiments", "docs")


def docs(root):
    out = [os.path.join(root, "README.md")]
    for d in ("docs", "experiments"):
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            out += [os.path.join(dirpath, f) for f in files if f.endswith(".md")]
    return sorted(p for p in out if os.path.exists(p))


def looks_like_path(tok):
    if " " in tok or any(c in tok for c in "{}*<>|=()[],;'\"") or "NAME" in tok or "..." in tok:
        return False
    if re.search(r"\b(DIR|LIBDIR|PREFIX|RUN|SPEC)\b", tok) or tok.startswith("ug_") or tok in NOT_OURS:
        return False  # placeholders, function families (ug_mlp_init/forward), files of other trees
    if tok.startswith(SKIP_PREFIX) or tok.endswith((".db", ".so")) or tok.startswith("unigfn/"):
        return False  # unigfn/x.h is an #include name; core/include/unigfn/x.h is the file
    tok = tok.split("#")[0].split(":")[0]
    return bool(tok) and ("/" in tok or tok.endswith(EXT)) and re.match(r"^[\w./+-]+$", tok) is not None


def check(root):
    errors = []
    rootabs = os.path.abspath(root)
    for doc in docs(root):
        text = open(doc, encoding="utf-8").read()
        rel = os.path.relpath(doc, root)
        here = os.path.dirname(doc)
        plain = [m for m in PLAIN.finditer(CODE.sub(lambda c: " " * len(c.group(0)), text))]
        for m in list(LINK.finditer(text)) + list(CODE.finditer(text)) + plain:
            tok = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            is_link = m.re is LINK
            if m.re is PLAIN and not looks_like_path(tok):
                continue
            if is_link and tok.startswith(("http://", "https://", "#", "mailto:")):
                continue
            if not is_link and not looks_like_path(tok):
                continue
            path = tok.split("#")[0]
            if not is_link:
                path = path.split(":")[0]
            # Relative to the doc, to the root, or to core/src (subsystem paths: `run/step.c`).
            cands = [os.path.normpath(os.path.join(here, path)), os.path.normpath(os.path.join(root, path)),
                     os.path.normpath(os.path.join(root, "core", "src", path))]
            if any(not os.path.abspath(c).startswith(rootabs + os.sep) and os.path.abspath(c) != rootabs
                   for c in cands[:1]) and path.startswith(".."):
                errors.append(f"{rel}:{line}: '{tok}' points outside the repository")
                continue
            if not any(os.path.exists(c) for c in cands):
                # A bare name (`runner.c`, `paper/`) may name a file or folder anywhere in the tree.
                bare = path.rstrip("/")
                if "/" not in bare and any(bare in fs or bare in ds for top in TOPS
                                           for _, ds, fs in os.walk(os.path.join(root, top))):
                    continue
                errors.append(f"{rel}:{line}: '{tok}' does not exist")
    return errors


def main(argv):
    root = argv[0] if argv else os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    errs = check(root)
    for e in errs:
        print(e)
    if not errs:
        print(f"check_doc_refs: {len(docs(root))} docs, every path they name exists in the tree")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
