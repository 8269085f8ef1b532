#!/usr/bin/env python3
"""bench_manifest_oms: model_signing (PyPI model-signing 1.1.1) signing and
verifying a model directory with an ECDSA P-256 key, for
bench/manifest_peers.py.  Run with the venv's python (the script makes it).

    python bench_manifest_oms.py sign   --key KEY.pem --dir MODEL --threads N
                                        --method files|shards [--shard-size B]
                                        --out SIG [--reps R]
    python bench_manifest_oms.py verify --pub PUB.pem --dir MODEL --bundle SIG
                                        --threads N --method files|shards
                                        [--shard-size B] [--reps R]

The CLI (`model_signing sign key`) cannot set the worker count (its
ThreadPoolExecutor then takes min(32, CPUs + 4) threads), so this uses the
library's own API with max_workers = N, which is what the CLI calls:
signing.Config().use_elliptic_key_signer(...).set_hashing_config(
hashing.Config().use_file_serialization(max_workers=N)) (or
use_shard_serialization(shard_size=..., max_workers=N)).  Everything else
is the tool's default (SHA-256, 1 MiB reads, git paths ignored).  Only the
sign() / verify() call is timed, not the interpreter's start or imports.

One JSON line per case, the same fields as bench_manifest's.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from importlib import metadata

from model_signing import hashing, signing, verifying


def hashing_config(method: str, threads: int, shard_size: int) -> hashing.Config:
    if method == "shards":
        return hashing.Config().use_shard_serialization(shard_size=shard_size, max_workers=threads)
    return hashing.Config().use_file_serialization(max_workers=threads)


def tree(path: str) -> tuple[int, int]:
    total = files = 0
    for root, _, names in os.walk(path):
        for n in names:
            p = os.path.join(root, n)
            if os.path.isfile(p) and not os.path.islink(p):
                total += os.path.getsize(p)
                files += 1
    return total, files


def cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=("sign", "verify"))
    ap.add_argument("--key")
    ap.add_argument("--pub")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--bundle")
    ap.add_argument("--out")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--method", choices=("files", "shards"), default="files")
    ap.add_argument("--shard-size", type=int, default=1_000_000_000)
    ap.add_argument("--reps", type=int, default=1)
    a = ap.parse_args()

    size, files = tree(a.dir)
    walls, cpus = [], []
    for _ in range(a.reps):
        if a.cmd == "sign":
            cfg = signing.Config().use_elliptic_key_signer(private_key=a.key)
            cfg.set_hashing_config(hashing_config(a.method, a.threads, a.shard_size))
            c0, t0 = cpu(), time.perf_counter()
            cfg.sign(a.dir, a.out)
        else:
            cfg = verifying.Config().use_elliptic_key_verifier(public_key=a.pub)
            cfg.set_hashing_config(hashing_config(a.method, a.threads, a.shard_size))
            c0, t0 = cpu(), time.perf_counter()
            cfg.verify(a.dir, a.bundle)    # raises on any mismatch
        walls.append(time.perf_counter() - t0)
        cpus.append(cpu() - c0)
    best = min(range(len(walls)), key=walls.__getitem__)
    med = statistics.median(walls)
    print(json.dumps({"case": a.cmd, "impl": "model_signing", "op": a.cmd, "method": a.method,
                      "threads": a.threads, "files": files, "bytes": size, "reps": a.reps,
                      "best_s": walls[best], "median_s": med, "gbps": size / walls[best] / 1e9,
                      "gbps_median": size / med / 1e9, "cores": cpus[best] / walls[best],
                      "version": metadata.version("model-signing")}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
