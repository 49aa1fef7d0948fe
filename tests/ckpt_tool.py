#!/usr/bin/env python3
"""ckpt_tool.py — checkpoint files (core/include/unigfn/host/checkpoint.h) for the shell tests.

  same A B            exit 0 when A and B hold the same model, optimizer and run state: every section
                      byte for byte but the run's identity (blob run.identity: run id, spec hash and the
                      row's start time, which differ between two databases by design) and the hash.
  set-step FILE N     rewrite the step blob to N and the hash to match: a checkpoint that passes
                      every check of the file itself, at a step of our choosing.
  drop-identity FILE  remove the run.identity blob (a checkpoint as written before identities existed).
  identity FILE       print the run id the checkpoint names ("-" when it has none).
  step FILE           print the step the checkpoint is at.
  params A B          exit 0 when A and B hold the same parameter values (their GRUP sections, byte for byte).
  optim-steps FILE    print each optimizer's step count (the OPTM sections), space-separated.
"""
import hashlib
import struct
import sys

END = b"END\0"


def sections(buf):
    """(tag, payload offset, payload) of each section before END; and END's offset."""
    off, out = 16, []
    while True:
        tag, n = buf[off:off + 4], struct.unpack_from("<Q", buf, off + 4)[0]
        if tag == END:
            return out, off
        out.append((tag, off, buf[off + 12:off + 12 + n]))
        off += 12 + n


def blob_name(payload):
    n = struct.unpack_from("<I", payload, 0)[0]
    return payload[4:4 + n].decode()


def rebuild(head, secs):
    body = head + b"".join(t + struct.pack("<Q", len(p)) + p for t, p in secs)
    return body + END + struct.pack("<Q", 32) + hashlib.sha256(body).digest()


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    buf = open(path, "rb").read()
    secs, _ = sections(buf)
    if cmd == "same":
        other = open(sys.argv[3], "rb").read()
        keep = lambda s: [(t, p) for t, _, p in s if not (t == b"BLOB" and blob_name(p) == "run.identity")]
        return 0 if buf[:16] == other[:16] and keep(secs) == keep(sections(other)[0]) else 1
    if cmd == "params":
        grup = lambda s: [p for t, _, p in s if t == b"GRUP"]
        mine, theirs = grup(secs), grup(sections(open(sys.argv[3], "rb").read())[0])
        return 0 if mine and mine == theirs else 1
    if cmd == "optim-steps":
        steps = []
        for t, _, p in secs:
            if t == b"OPTM":
                n = struct.unpack_from("<I", p, 0)[0]  # str group | u32 algorithm | u32 schedule | i64 step
                steps.append(str(struct.unpack_from("<q", p, 4 + n + 8)[0]))
        print(" ".join(steps))
        return 0
    if cmd == "identity":
        for t, _, p in secs:
            if t == b"BLOB" and blob_name(p) == "run.identity":
                data = p[4 + len("run.identity") + 8:]  # u32 version | char run_id[64] | ...
                print(data[4:68].split(b"\0")[0].decode(errors="replace"))
                return 0
        print("-")
        return 0
    if cmd == "step":
        for t, _, p in secs:
            if t == b"BLOB" and blob_name(p) == "step":
                print(struct.unpack("<q", p[-8:])[0])
                return 0
        return 1
    out = []
    for t, _, p in secs:
        if t == b"BLOB" and blob_name(p) == "step" and cmd == "set-step":
            p = p[:-8] + struct.pack("<q", int(sys.argv[3]))
        if t == b"BLOB" and blob_name(p) == "run.identity" and cmd == "drop-identity":
            continue
        out.append((t, p))
    open(path, "wb").write(rebuild(buf[:16], out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
