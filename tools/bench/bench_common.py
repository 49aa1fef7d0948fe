"""bench_common.py — what the side-by-side benchmark drivers (tools/bench/mlp, train, ...) share."""
import subprocess
import sys


def require_torch(python, tool):
    """Exit 2 with the remedy, not a traceback, when `python` cannot import torch."""
    try:
        r = subprocess.run([python, "-c", "import torch"], capture_output=True, text=True)
        why = (r.stderr.strip().splitlines() or ["import torch failed"])[-1] if r.returncode else None
    except OSError as e:
        why = str(e)
    if why:
        sys.stderr.write("%s: the PyTorch side needs torch, and %s cannot import it (%s).\n"
                         "  install it: apt-get install python3-torch   (Debian's, for /usr/bin/python3)\n"
                         "  or point --python at an interpreter that has it\n" % (tool, python, why))
        sys.exit(2)
