#!/usr/bin/env python3
"""envelope_peers: every envelope benchmark of issue 4 in one run, with its
peers, printed as the Markdown tables of docs/PERFORMANCE.md ("Envelope").

    python3 bench/envelope_peers.py [--build build-bench] [--budget 0.5]
                                    [--size 1024] [--reps 3] [--only records,stream,python]

What it does, in order (progress and raw lines on stderr, the report on
stdout):

 1. builds bench_envelope and the shared library in --build (configured
    Release, without -Werror, if it has no CMakeCache.txt yet);
 2. C records: bench_envelope --records-only (session records against the
    raw libsodium AEAD, the parts of the fixed cost, one-shot messages);
 3. streams: bench_envelope --stream-only on a --size MiB file in a new
    temporary directory (libaios seal_fd / open_fd on 1 and 2 threads
    against the raw AEAD in 64 KiB calls), then `age` encrypting and
    decrypting the same file to one X25519 recipient (age-keygen), output
    to /dev/null as for libaios, best of --reps; and the same bytes in
    memory (a sealer / opener fed 8 MiB updates, against the raw AEAD
    loop over the buffer), where no I/O thread shares the cores;
 4. Python: bench/python/bench_envelope_py.py in --build/venv (made from
    bench/python/requirements.txt when missing): the aios binding against
    Tink and the AWS Encryption SDK;
 5. the tables, with ratios and which targets were met.

Needs: cmake and a compiler, `age` (scripts/install-deps --bench), python3
with venv, and the package registry for the venv's first creation.  About
two to three minutes on the 2-core CI machine kind with the defaults.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
FIXED_TARGET_NS = 300.0
STREAM_TARGET = 0.9


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(cmd: List[str], env: Optional[Dict[str, str]] = None, capture: bool = True) -> str:
    log("$ " + " ".join(cmd))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE if capture else sys.stderr, env=env, text=True)
    out: List[str] = []
    if capture:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.append(line)
            log("  " + line.rstrip())
    if proc.wait() != 0:
        raise SystemExit(f"envelope_peers: {' '.join(cmd)} failed with status {proc.returncode}")
    return "".join(out)


# ------------------------------------------------------------ setup


def build(build_dir: Path) -> None:
    if not (build_dir / "CMakeCache.txt").exists():
        # Release (-O3) is not a configuration CI builds with -Werror, and
        # gcc warns differently there: a benchmark must not fail on a warning.
        run(["cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
             "-DAIOS_WERROR=OFF"], capture=False)
    run(["cmake", "--build", str(build_dir), "-j2", "--target", "bench_envelope", "aios_shared"],
        capture=False)


def venv_python(build_dir: Path) -> Path:
    venv = build_dir / "venv"
    py = venv / "bin" / "python"
    if not py.exists():
        run([sys.executable, "-m", "venv", str(venv)], capture=False)
        run([str(py), "-m", "pip", "install", "-q", "-r", str(ROOT / "bench/python/requirements.txt")],
            capture=False)
    return py


def machine() -> Dict[str, str]:
    info: Dict[str, str] = {}
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("Model name", "CPU(s)", "Hypervisor vendor"):
                info[k.strip()] = v.strip()
    except OSError:
        pass
    info["load average"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    info["date"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return info


# ------------------------------------------------------------ parsing

NUM = r"([0-9.]+)"


def parse_c(text: str) -> Dict[str, Any]:
    r: Dict[str, Any] = {"records": [], "parts": {}, "aead_parts": [], "oneshot": [], "session": {},
                         "stream": [], "memory": [], "memcpy": None, "build": ""}
    for line in text.splitlines():
        m = re.match(r"record (seal|open) (\S+)\s+(\d+) B\s+aios\s+" + NUM + r" ns\s+raw\s+" + NUM, line)
        if m:
            r["records"].append({"op": m[1], "suite": m[2], "size": int(m[3]), "aios": float(m[4]),
                                 "raw": float(m[5])})
            continue
        m = re.match(r"part (random-32B|record-key) \S+\s+" + NUM + " ns", line)
        if m:
            r["parts"][m[1]] = float(m[2])
            continue
        m = re.match(r"part aead-once-aad94 (\S+)\s+64 B\s+aios\s+" + NUM + r" ns\s+raw\s+" + NUM, line)
        if m:
            r["aead_parts"].append({"suite": m[1], "aios": float(m[2]), "raw": float(m[3])})
            continue
        m = re.match(r"oneshot (seal|open) (\S+)\s+(\d+) B\s+aios\s+" + NUM + " us", line)
        if m:
            r["oneshot"].append({"op": m[1], "suite": m[2], "size": int(m[3]), "us": float(m[4])})
            continue
        m = re.match(r"session (new|open)\s+\S+\s+aios\s+" + NUM + " us", line)
        if m:
            r["session"][m[1]] = float(m[2])
            continue
        m = re.match(r"memory memcpy threads 1 " + NUM + r" GB/s threads 2 " + NUM + " GB/s", line)
        if m:
            r["memcpy"] = [float(m[1]), float(m[2])]
            continue
        m = re.match(r"(stream|memory) (seal|open) (\S+)\s+threads (\d)\s+aios\s+" + NUM + r" GB/s\s+raw\s+" +
                     NUM + r" GB/s\s+ratio\s+" + NUM + r"\s+cores aios " + NUM + " raw " + NUM, line)
        if m:
            r[m[1]].append({"op": m[2], "suite": m[3], "threads": int(m[4]), "aios": float(m[5]),
                            "raw": float(m[6]), "aios_cores": float(m[8]), "raw_cores": float(m[9])})
            continue
        if line.startswith("# {"):
            r["build"] = line[2:]
    return r


# ------------------------------------------------------------ age


def bench_age(work: Path, size: int, reps: int) -> Optional[Dict[str, float]]:
    age, keygen = shutil.which("age"), shutil.which("age-keygen")
    if not age or not keygen:
        log("age not found: install it with scripts/install-deps --bench (Debian package age); "
            "skipping the age rows")
        return None
    key = work / "age.key"
    subprocess.run([keygen, "-o", str(key)], check=True, capture_output=True)
    recipient = subprocess.run([keygen, "-y", str(key)], check=True, capture_output=True,
                               text=True).stdout.strip()
    plain, sealed = work / "plain.bin", work / "plain.bin.age"
    subprocess.run([age, "-r", recipient, "-o", str(sealed), str(plain)], check=True)
    with open(sealed, "rb") as f:          # warm the page cache, as for libaios
        while f.read(1 << 20):
            pass
    best = {"seal": float("inf"), "open": float("inf")}
    cmds = {"seal": [age, "-r", recipient, "-o", "/dev/null", str(plain)],
            "open": [age, "-d", "-i", str(key), "-o", "/dev/null", str(sealed)]}
    for _ in range(reps):
        for op, cmd in cmds.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True)
            best[op] = min(best[op], time.perf_counter() - t0)
    sealed.unlink()
    version = subprocess.run([age, "--version"], capture_output=True, text=True).stdout.strip()
    out = {op: size / t / 1e9 for op, t in best.items()}
    log(f"  age {version}: seal {out['seal']:.3f} GB/s  open {out['open']:.3f} GB/s")
    return {**out, "version": version}  # type: ignore[dict-item]


# ------------------------------------------------------------ report


def fmt_ns(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e4:
        return f"{ns / 1e3:.1f} µs"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def size_name(n: int) -> str:
    if n >= 1 << 20:
        return f"{n >> 20} MiB"
    if n >= 1024:
        return f"{n >> 10} KiB"
    return f"{n} B"


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def report_records(c: Dict[str, Any]) -> List[str]:
    out = ["### Records with a cached data key (sessions) against the raw AEAD", "",
           "| suite | record | op | session | raw libsodium | fixed cost | ratio (raw / session) |",
           "|---|---|---|---|---|---|---|"]
    for r in c["records"]:
        out.append(f"| {r['suite']} | {size_name(r['size'])} | {r['op']} | {fmt_ns(r['aios'])} | "
                   f"{fmt_ns(r['raw'])} | {r['aios'] - r['raw']:+.0f} ns | {r['raw'] / r['aios']:.3f} |")
    out.append("")
    small = [r for r in c["records"] if r["size"] <= 1024]
    for op in ("seal", "open"):
        worst = max((r["aios"] - r["raw"] for r in small if r["op"] == op), default=float("nan"))
        out.append(f"- Fixed cost of {op} (64 B and 1 KiB records, both suites): at most "
                   f"{worst:.0f} ns against the {FIXED_TARGET_NS:.0f} ns target: "
                   f"{verdict(worst < FIXED_TARGET_NS)}.")
    p = c["parts"]
    if p:
        out += ["", "The parts of a record's fixed cost, each measured alone:", "",
                "| part | cost |", "|---|---|",
                f"| 32 random bytes for the record id r (`aios__random_bytes`) | "
                f"{p.get('random-32B', float('nan')):.0f} ns |",
                f"| record key Kr: HMAC-SHA-256 with the precomputed PRK state, 62-byte info | "
                f"{p.get('record-key', float('nan')):.0f} ns |"]
        for a in c["aead_parts"]:
            out.append(f"| {a['suite']}: the 94-byte record AAD, key schedule and wipe, over the bare "
                       f"AEAD (64 B) | +{a['aios'] - a['raw']:.0f} ns |")
    if c["oneshot"]:
        out += ["", "### One-shot messages (fresh data key, one wrap or unwrap, local keyring KEK)", "",
                "| message | seal | open |", "|---|---|---|"]
        by = {(o["op"], o["size"]): o["us"] for o in c["oneshot"]}
        for size in sorted({o["size"] for o in c["oneshot"]}):
            out.append(f"| {size_name(size)} ({c['oneshot'][0]['suite']}) | {by.get(('seal', size), 0):.2f} µs | "
                       f"{by.get(('open', size), 0):.2f} µs |")
        s = c["session"]
        if s:
            out.append(f"| once per session: `session_new` (one wrap) / `session_open` (one unwrap) | "
                       f"{s.get('new', 0):.2f} µs | {s.get('open', 0):.2f} µs |")
    return out + [""]


def report_stream(c: Dict[str, Any], age: Optional[Dict[str, Any]], mib: int) -> List[str]:
    out = [f"### Streams: a {mib} MiB file, chunk 64 KiB, page cache warm, output to /dev/null", "",
           "| suite | op | threads | libaios | raw AEAD (64 KiB calls) | ratio | cores busy (libaios / raw) "
           "| age (1 thread) | libaios / age |",
           "|---|---|---|---|---|---|---|---|---|"]
    by = {(s["suite"], s["op"], s["threads"]): s for s in c["stream"]}
    for s in c["stream"]:
        a = age.get(s["op"]) if age else None
        age_cells = f"{a:.2f} GB/s | {s['aios'] / a:.2f}x" if a else "– | –"
        out.append(f"| {s['suite']} | {s['op']} | {s['threads']} | {s['aios']:.2f} GB/s | {s['raw']:.2f} GB/s | "
                   f"{s['aios'] / s['raw']:.3f} | {s['aios_cores']:.2f} / {s['raw_cores']:.2f} | {age_cells} |")
    out.append("")
    for suite in sorted({s["suite"] for s in c["stream"]}):
        for op in ("seal", "open"):
            one, two = by.get((suite, op, 1)), by.get((suite, op, 2))
            if not one or not two:
                continue
            ratio = one["aios"] / one["raw"]
            scale, raw_scale = two["aios"] / one["aios"], two["raw"] / one["raw"]
            # GB/s per busy core: the descriptor loop's read-ahead and
            # write-behind threads keep more than one core busy at "1
            # thread", so thread counts alone understate its scaling.
            pc1, pc2 = one["aios"] / one["aios_cores"], two["aios"] / two["aios_cores"]
            out.append(f"- {suite} {op}: {ratio:.2f}x the raw AEAD on one thread (target "
                       f"{STREAM_TARGET}x: {verdict(ratio >= STREAM_TARGET)}); 2 threads give "
                       f"{scale:.2f}x one thread on {two['aios_cores']:.2f} cores (from "
                       f"{one['aios_cores']:.2f}), the raw loop {raw_scale:.2f}x on {two['raw_cores']:.2f}; "
                       f"GB/s per busy core {pc1:.2f} on one thread, {pc2:.2f} on two (the second "
                       f"thread's cores work as well as the first's, within 10%: "
                       f"{verdict(pc2 >= 0.9 * pc1)}).")
    if age:
        out.append(f"- age: {age['version']}, ChaCha20-Poly1305 in 64 KiB chunks, one thread.")
    out.append("")
    if c.get("memory"):
        out += [f"### Streams in memory: the same {mib} MiB, chunk 64 KiB, no file (8 MiB sealer/opener "
                "updates; raw: one AEAD call per chunk, each thread its share)", "",
                "| suite | op | threads | libaios | raw AEAD | ratio | cores busy (libaios / raw) |",
                "|---|---|---|---|---|---|---|"]
        mby = {(s["suite"], s["op"], s["threads"]): s for s in c["memory"]}
        for s in c["memory"]:
            out.append(f"| {s['suite']} | {s['op']} | {s['threads']} | {s['aios']:.2f} GB/s | "
                       f"{s['raw']:.2f} GB/s | {s['aios'] / s['raw']:.3f} | {s['aios_cores']:.2f} / "
                       f"{s['raw_cores']:.2f} |")
        out.append("")
        for suite in sorted({s["suite"] for s in c["memory"]}):
            for op in ("seal", "open"):
                one, two = mby.get((suite, op, 1)), mby.get((suite, op, 2))
                if not one or not two:
                    continue
                scale, raw_scale = two["aios"] / one["aios"], two["raw"] / one["raw"]
                cp = c.get("memcpy")
                wall = (f"; that is {two['aios'] / cp[1]:.2f} of memcpy on 2 threads ({cp[1]:.2f} GB/s)"
                        if cp else "")
                out.append(f"- {suite} {op} in memory: 2 threads give {scale:.2f}x one thread on "
                           f"{two['aios_cores']:.2f} cores, the raw loop {raw_scale:.2f}x on "
                           f"{two['raw_cores']:.2f} (scaling like the raw loop, within 10%: "
                           f"{verdict(scale >= 0.9 * raw_scale)}){wall}.")
        cp = c.get("memcpy")
        if cp:
            out.append(f"- The machine's ceiling for any pass that reads and writes the bytes once: memcpy of "
                       f"the same {mib} MiB at {cp[0]:.2f} GB/s on 1 thread and {cp[1]:.2f} GB/s on 2 "
                       f"({cp[1] / cp[0]:.2f}x: memory bandwidth, not cores, bounds 2 threads here).")
    return out + [""]


PY_LABELS = {
    "records": ("Python, records with a cached data key",
                [("aios", "aios Session"), ("aios-batch", "aios Session, batch of 1000"),
                 ("tink", "Tink AEAD"), ("aws-cache", "AWS SDK caching CMM"),
                 ("aios-bare", "aios Session, bare ctypes"), ("pyca", "pyca AESGCM (bare AEAD)")],
                ["tink", "aws-cache"]),
    "messages": ("Python, whole messages (a fresh data key each, wrapped by a local KEK)",
                 [("aios", "aios seal/open"), ("tink", "Tink KmsEnvelopeAead"), ("aws", "AWS SDK raw AES keyring"),
                  ("aws-sig", "AWS SDK, default suite (signed)")], ["tink", "aws"]),
    "buffer": ("Python, one 64 MiB buffer",
               [("aios", "aios 1 thread"), ("aios-2t", "aios 2 threads"), ("tink", "Tink AEAD"),
                ("tink-envelope", "Tink KmsEnvelopeAead"), ("aws", "AWS SDK raw AES keyring")],
               ["tink", "tink-envelope", "aws"]),
}


# Extra ratio columns (not counted in the verdict, which is about the
# one-record calls): (group, our implementation, the peer).
PY_EXTRA_RATIOS = [("records", "aios-batch", "tink")]


def report_python(rows: List[Dict[str, Any]]) -> List[str]:
    out: List[str] = []
    versions = next((r["versions"] for r in rows if "versions" in r), {})
    data = {(r["group"], r["impl"], r["op"], r["size"]): r["ns"] for r in rows if "group" in r}
    losses: List[str] = []
    wins = 0
    for group, (title, impls, peers) in PY_LABELS.items():
        present = [(k, n) for k, n in impls if any(key[0] == group and key[1] == k for key in data)]
        if not present:
            continue
        sizes = sorted({key[3] for key in data if key[0] == group})
        extra = [(m, p) for g, m, p in PY_EXTRA_RATIOS
                 if g == group and any(k == m for k, _ in present) and any(k == p for k, _ in present)]
        head = "| size | op | " + " | ".join(n for _, n in present) + " | " + \
               " | ".join([f"aios vs {dict(impls)[p]}" for p in peers if any(k == p for k, _ in present)] +
                          [f"{dict(impls)[m]} vs {dict(impls)[p]}" for m, p in extra]) + " |"
        out += [f"### {title}", "", head, "|" + "---|" * (head.count("|") - 1)]
        for size in sizes:
            for op in ("seal", "open"):
                cells = [fmt_ns(data[(group, k, op, size)]) if (group, k, op, size) in data else "–"
                         for k, _ in present]
                ratios = []
                mine = data.get((group, "aios", op, size))
                for p in peers:
                    theirs = data.get((group, p, op, size))
                    if mine is None or theirs is None:
                        continue
                    ratios.append(f"{theirs / mine:.2f}x")
                    if mine < theirs:
                        wins += 1
                    else:
                        losses.append(f"{group} {size_name(size)} {op}: aios {fmt_ns(mine)}, "
                                      f"{dict(impls)[p]} {fmt_ns(theirs)}")
                for m, p in extra:
                    ours, theirs = data.get((group, m, op, size)), data.get((group, p, op, size))
                    if ours is not None and theirs is not None:
                        ratios.append(f"{theirs / ours:.2f}x")
                out.append(f"| {size_name(size)} | {op} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
        out.append("")
    out.append("Ratios are the peer's time over aios's: above 1, aios is faster.")
    out.append("")
    if losses:
        out.append(f"- Faster than Tink and the AWS SDK from Python: {verdict(False)}; aios wins "
                   f"{wins} of {wins + len(losses)} comparisons, and loses these:")
        out += [f"  - {x}" for x in losses]
    else:
        out.append(f"- Faster than Tink and the AWS SDK from Python: {verdict(True)} (all {wins} comparisons).")
    if versions:
        out.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".")
    return out + [""]


# ------------------------------------------------------------ main


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=str(ROOT / "build-bench"), help="build directory (default build-bench)")
    ap.add_argument("--budget", type=float, default=0.5, help="seconds per timed case (default 0.5)")
    ap.add_argument("--size", type=int, default=1024, help="stream file size in MiB (default 1024)")
    ap.add_argument("--reps", type=int, default=3, help="stream and 64 MiB runs, best kept (default 3)")
    ap.add_argument("--only", default="records,stream,python", help="comma-separated parts to run")
    ap.add_argument("--no-build", action="store_true", help="use the build directory as it is")
    args = ap.parse_args(argv)
    parts = set(args.only.split(","))
    build_dir = Path(args.build).resolve()
    t_start = time.time()

    if not args.no_build:
        build(build_dir)
    bench = build_dir / "bench" / "bench_envelope"
    before = machine()
    c: Dict[str, Any] = parse_c("")
    age = None
    py_rows: List[Dict[str, Any]] = []

    if "records" in parts:
        c_rec = parse_c(run([str(bench), str(args.budget), "--records-only"]))
        for k in ("records", "parts", "aead_parts", "oneshot", "session", "build"):
            c[k] = c_rec[k]
    if "stream" in parts:
        work = Path(tempfile.mkdtemp(prefix="aios-bench-peers."))
        try:
            c_str = parse_c(run([str(bench), "--stream-only", "--dir", str(work), "--size", str(args.size),
                                 "--reps", str(args.reps)]))
            c["stream"] = c_str["stream"]
            c["memory"] = c_str["memory"]
            c["memcpy"] = c_str.get("memcpy")
            c["build"] = c["build"] or c_str["build"]
            age = bench_age(work, args.size << 20, args.reps)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if "python" in parts:
        py = venv_python(build_dir)
        env = dict(os.environ)
        env["AIOS_LIBRARY"] = str(build_dir / "lib" / "libaios.so.1")
        env["PYTHONPATH"] = str(ROOT / "bindings" / "python")
        text = run([str(py), str(ROOT / "bench/python/bench_envelope_py.py"), "--json", "--budget",
                    str(args.budget), "--reps", str(args.reps)], env=env)
        py_rows = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    after = machine()

    lines = [f"Measured {before['date']} by `python3 bench/envelope_peers.py --build {args.build} "
             f"--budget {args.budget} --size {args.size} --reps {args.reps}` "
             f"({time.time() - t_start:.0f} s).",
             f"Machine: {before.get('Model name', '?')}, {before.get('CPU(s)', '?')} CPUs"
             f"{' (' + before['Hypervisor vendor'] + ' guest)' if 'Hypervisor vendor' in before else ''}; "
             f"load average {before['load average']} before, {after['load average']} after.",
             f"Build: `{c['build']}`" if c["build"] else "", ""]
    if c["records"]:
        lines += report_records(c)
    if c["stream"]:
        lines += report_stream(c, age, args.size)
    if py_rows:
        lines += report_python(py_rows)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
