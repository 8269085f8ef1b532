#!/usr/bin/env python3
"""manifest_peers: the model-manifest benchmark of issue 5 in one run,
libaios beside model_signing and `openssl dgst -sha256`, printed as the
Markdown tables of docs/PERFORMANCE.md ("Manifest").

    python3 bench/manifest_peers.py [--shape full|smoke] [--reps 3]
                                    [--build build-bench-mf] [--scratch DIR]
                                    [--big 1024,1024,2048,4096] [--small 300]
                                    [--many 20000] [--shard-size 1000000000]
                                    [--only big,many,stream] [--keep] [--no-build]

The shape may also come from the environment: AIOS_BENCH_MF_SHAPE=smoke.
  full  (default): "big" = 4 files of 1, 1, 2 and 4 GiB + 300 small files
        (4..64 KiB) in 10 folders (8.0 GiB; the issue's "a few files of 1 to
        4 GiB plus a few hundred small ones"); "many" = 20000 files of
        4..64 KiB in 100 folders (0.65 GiB); shards of 1 000 000 000 bytes
        (both tools' default).  About 7 to 9 minutes with --reps 3.
  smoke: big = 2 x 256 MiB + 300 small, many = 5000 files, 64 MiB shards,
        for a check that everything runs (about a minute; not a figure).

What it does (progress and raw JSON lines on stderr, the report on stdout):

 1. builds bench_manifest in --build (configured Release, without
    -Werror, if it has no CMakeCache.txt yet);
 2. makes --build/venv-oms from bench/python/requirements-manifest.txt
    (model-signing 1.1.1) the first time;
 3. checks free disk (the data) and available memory (the data must stay
    in the page cache), writes the two directories under --scratch
    (default: --build/manifest-data; reused if the shape matches, removed
    at the end unless --keep), an ECDSA P-256 key (openssl genpkey), and
    reads every file once to warm the page cache;
 4. the single-core figures: `openssl speed -evp sha256` over 1 MiB
    buffers (the in-memory kernel; lib/crypto/sha256.c on SHA-NI matches
    it, docs/PERFORMANCE.md "Since"), libaios' 2-lane kernel over two 1
    MiB buffers in memory (bench_crypto --only sha256: two streams on one
    core, what a hashing thread does with two items), and bench_manifest
    kernel (one cached file through aios_manifest_hash, read() + SHA-256,
    one thread);
 5. --reps rounds; in each, for every directory, method (files, shards) and
    thread count (1, 2): libaios sign, model_signing sign, libaios verify,
    model_signing verify (each tool its own bundle; the same directory,
    method, shard size and thread count: model_signing's max_workers), then
    `openssl dgst -sha256` over the same files with 1 process and with 2
    processes on halves balanced by bytes (the hardware-accelerated ceiling
    for 1 and 2 threads).  The cases of a round run back to back so a
    neighbour's load hits all of them alike; best and median of the rounds;
 6. once: libaios verifies model_signing's bundles (interop check);
 7. streaming verification of the first big file (bench_manifest stream),
    page cache warm, then cold (that file's pages dropped before every
    read with posix_fadvise DONTNEED: nothing else of the machine's cache),
    on the caller's thread (one shard per read_verified call) and with two
    threads of the stream's own (four shards per call); then cold from
    storage of a known speed, 0.5 and 1 GB/s: the bench in a cgroup whose
    reads of that disk are throttled (class Throttle; root and the cgroup
    v1 blkio or v2 io controller, else skipped and said so);
 8. the tables, with ratios and which targets were met.

Needs: cmake and a compiler, openssl, python3 with venv, and the package
registry for the venv's first creation (scripts/install-deps --bench).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
KERNEL_TARGET = 0.90      # of threads x the single-core kernel
STREAM_TARGET = 0.10      # streaming verification over a plain read
STREAM_SETUPS = ((1, 1), (2, 4))   # (stream threads, shards per read_verified call)
STORAGE_SPEEDS = (500_000_000, 1_000_000_000)   # bytes/s of the throttled storage runs
MIB = 1 << 20

SHAPES = {
    "full": {"big": [1024, 1024, 2048, 4096], "small": 300, "many": 20000,
             "shard": 1_000_000_000},
    "smoke": {"big": [256, 256], "small": 300, "many": 5000, "shard": 64 * MIB},
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(cmd: List[str], capture: bool = True, cgroup: Optional["Throttle"] = None) -> str:
    log("$ " + " ".join(cmd) + (f"   (in {cgroup.procs.parent}, reads at {cgroup.bps / 1e9:g} GB/s)"
                                if cgroup else ""))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE if capture else sys.stderr, text=True,
                          preexec_fn=cgroup.enter if cgroup else None)
    if capture and proc.stdout:
        for line in proc.stdout.splitlines():
            if '"case":"build"' not in line:
                log("  " + line)
    if proc.returncode != 0:
        raise SystemExit(f"manifest_peers: {' '.join(cmd)} failed with status {proc.returncode}")
    return proc.stdout or ""


def rows(text: str) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


# ------------------------------------------------------------ storage of a known speed


class Throttle:
    """Reads of the disk under a file, limited to `bps` bytes a second for
    the processes put in a cgroup of ours: cgroup v1 blkio
    (blkio.throttle.read_bps_device) or v2 io (io.max rbps).  It stands
    for storage slower than the machine's (a SATA SSD, a network volume)
    with a steady speed, where this VM's own disk, served by its host, runs
    at 0.6 to 2.7 GB/s from one read to the next.  Needs root and one of
    the two controllers; `Throttle.make` says why not otherwise."""

    def __init__(self, procs: Path, limit: Path, fmt: str, dev: str, unlimited: str) -> None:
        self.procs, self.limit, self.fmt, self.dev, self.bps = procs, limit, fmt, dev, 0
        self.unlimited = unlimited   # the value that lifts the limit: v1 "0", v2 "max"

    @staticmethod
    def disk_of(path: Path) -> Optional[str]:
        st = os.stat(path)
        sysdev = Path(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
        if not sysdev.exists():
            return None          # not on a block device (overlay, tmpfs, NFS)
        if (sysdev / "partition").exists():   # throttles apply to the whole disk
            return (sysdev.resolve().parent / "dev").read_text().strip()
        return (sysdev / "dev").read_text().strip()

    @classmethod
    def make(cls, path: Path) -> Tuple[Optional["Throttle"], str]:
        try:
            return cls._make(path)
        except OSError as e:   # a read-only cgroupfs (a container), a device it refuses
            return None, f"cannot make the cgroup: {e}"

    @classmethod
    def _make(cls, path: Path) -> Tuple[Optional["Throttle"], str]:
        if os.geteuid() != 0:
            return None, "not root"
        dev = cls.disk_of(path)
        if dev is None:
            return None, f"{path} is not on a block device"
        v1 = Path("/sys/fs/cgroup/blkio")
        if (v1 / "blkio.throttle.read_bps_device").exists():
            g = v1 / "aios-bench"
            g.mkdir(exist_ok=True)
            return cls(g / "cgroup.procs", g / "blkio.throttle.read_bps_device", "{dev} {bps}", dev,
                       "0"), ""
        for v2 in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
            ctl = v2 / "cgroup.subtree_control"
            if ctl.exists() and "io" in (v2 / "cgroup.controllers").read_text().split():
                try:
                    ctl.write_text("+io")
                    g = v2 / "aios-bench"
                    g.mkdir(exist_ok=True)
                    return cls(g / "cgroup.procs", g / "io.max", "{dev} rbps={bps}", dev, "max"), ""
                except OSError as e:
                    return None, f"cgroup v2 io: {e}"
        return None, "neither the cgroup v1 blkio nor the v2 io controller is available"

    def set(self, bps: Any) -> None:
        self.limit.write_text(self.fmt.format(dev=self.dev, bps=bps))
        self.bps = bps if isinstance(bps, int) else 0

    def enter(self) -> None:   # in the child, before exec
        self.procs.write_text(str(os.getpid()))

    def close(self) -> None:
        try:
            self.set(self.unlimited)
        except OSError:
            pass
        try:
            self.procs.parent.rmdir()   # its limits go with it
        except OSError:
            pass


def round_ratio(a: Dict[str, Any], b: Dict[str, Any]) -> float:
    """The median over the rounds of a's time / b's time in the same round
    (the cases of a round run back to back, so a slow spell of the disk
    hits both)."""
    return statistics.median(x / y for x, y in zip(a["walls"], b["walls"])) - 1


# ------------------------------------------------------------ setup


def build(build_dir: Path) -> None:
    if not (build_dir / "CMakeCache.txt").exists():
        run(["cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
             "-DAIOS_WERROR=OFF"], capture=False)
    run(["cmake", "--build", str(build_dir), "-j2", "--target", "bench_manifest", "bench_crypto"],
        capture=False)


def venv_python(build_dir: Path) -> Path:
    venv = build_dir / "venv-oms"
    py = venv / "bin" / "python"
    if not py.exists():
        run([sys.executable, "-m", "venv", str(venv)], capture=False)
        run([str(py), "-m", "pip", "install", "-q", "-r",
             str(ROOT / "bench/python/requirements-manifest.txt")], capture=False)
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


def mem_available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


# ------------------------------------------------------------ data


def write_big(path: Path, size: int, block: bytes, seed: int) -> None:
    with open(path, "wb") as f:
        done, i = 0, 0
        while done < size:
            n = min(len(block), size - done)
            f.write(seed.to_bytes(4, "little") + i.to_bytes(4, "little") + block[8:n])
            done += n
            i += 1


def write_small(folder: Path, n: int, folders: int, block: bytes, seed: int) -> int:
    rnd = random.Random(seed)
    total = 0
    for i in range(n):
        d = folder / f"d{i % folders:03d}"
        d.mkdir(parents=True, exist_ok=True)
        size = rnd.randint(4096, 65536)
        off = rnd.randrange(0, len(block) - size)
        (d / f"f{i:05d}.bin").write_bytes(block[off:off + size])
        total += size
    return total


def make_data(scratch: Path, shape: Dict[str, Any]) -> Tuple[Path, Path]:
    big, many = scratch / "big", scratch / "many"
    stamp = scratch / "shape.json"
    want = json.dumps({k: shape[k] for k in ("big", "small", "many")}, sort_keys=True)
    if stamp.exists() and stamp.read_text() == want and big.is_dir() and many.is_dir():
        log(f"reusing the data in {scratch}")
        return big, many
    need = sum(shape["big"]) * MIB + (shape["small"] + shape["many"]) * 36 * 1024
    scratch.mkdir(parents=True, exist_ok=True)
    free_disk = shutil.disk_usage(scratch).free
    if free_disk < need * 1.1 + (1 << 30):
        raise SystemExit(f"manifest_peers: {need / 2**30:.1f} GiB of data needs more free disk than "
                         f"{free_disk / 2**30:.1f} GiB in {scratch}: use --scratch, --shape smoke or --big")
    if mem_available() < need + (2 << 30):
        raise SystemExit(f"manifest_peers: {need / 2**30:.1f} GiB would not stay in the page cache "
                         f"({mem_available() / 2**30:.1f} GiB available): use --shape smoke or --big")
    shutil.rmtree(big, ignore_errors=True)
    shutil.rmtree(many, ignore_errors=True)
    stamp.unlink(missing_ok=True)
    t0 = time.time()
    block = os.urandom(64 * MIB)
    big.mkdir()
    for i, mib in enumerate(shape["big"]):
        write_big(big / f"model-{i + 1:05d}-of-{len(shape['big']):05d}.bin", mib * MIB, block, i)
    write_small(big / "extra", shape["small"], 10, block, 1)
    write_small(many, shape["many"], 100, block, 2)
    stamp.write_text(want)
    log(f"wrote {need / 2**30:.2f} GiB in {time.time() - t0:.0f} s under {scratch}")
    return big, many


def files_of(folder: Path) -> List[Tuple[Path, int]]:
    out = []
    for root, _, names in os.walk(folder):
        for n in sorted(names):
            p = Path(root) / n
            out.append((p, p.stat().st_size))
    return out


def warm(files: List[Tuple[Path, int]]) -> None:
    buf = bytearray(4 * MIB)
    for p, _ in files:
        with open(p, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass


def make_key(scratch: Path) -> Tuple[Path, Path]:
    key, pub = scratch / "key.pem", scratch / "pub.pem"
    if not key.exists():
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", str(key)], check=True,
                       capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(pub)], check=True,
                   capture_output=True)
    return key, pub


# ------------------------------------------------------------ openssl


def openssl_kernel() -> float:
    out = subprocess.run(["openssl", "speed", "-evp", "sha256", "-bytes", str(MIB), "-seconds", "2"],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"^sha256\s+([0-9.]+)k", out, re.M)
    if not m:
        raise SystemExit("manifest_peers: cannot parse `openssl speed` output")
    gbps = float(m[1]) * 1000 / 1e9
    log(f"  openssl speed -evp sha256, 1 MiB buffers: {gbps:.3f} GB/s")
    return gbps


def lanes_kernel(build_dir: Path) -> Optional[float]:
    """GB/s of libaios' 2-lane SHA-256 kernel (two 1 MiB streams, one
    core), or None where the CPU has no SHA instructions."""
    out = run([str(build_dir / "bench" / "bench_crypto"), "1.0", "--only", "sha256"])
    m = re.search(r"^sha256 two streams\s+\d+ B each\s+update2\s+([0-9.]+) GB/s.*"
                  r"2-lane kernel: (yes|no)", out, re.M)
    if not m:
        raise SystemExit("manifest_peers: cannot parse bench_crypto --only sha256")
    log(f"  libaios 2-lane SHA-256 kernel, two 1 MiB streams: {m[1]} GB/s ({m[2]})")
    return float(m[1]) if m[2] == "yes" else None


def split_balanced(files: List[Tuple[Path, int]], n: int) -> List[List[Path]]:
    parts: List[List[Path]] = [[] for _ in range(n)]
    load = [0] * n
    for p, s in sorted(files, key=lambda x: -x[1]):
        i = load.index(min(load))
        parts[i].append(p)
        load[i] += s
    return parts


def openssl_dgst(files: List[Tuple[Path, int]], procs: int, work: Path) -> float:
    """Wall time of `openssl dgst -sha256` over files, in procs parallel
    xargs pipelines (each: as few openssl processes as the argument limit
    allows)."""
    lists = []
    for i, part in enumerate(split_balanced(files, procs)):
        lst = work / f"openssl-{procs}-{i}.list"
        lst.write_bytes(b"".join(bytes(p) + b"\0" for p in part))
        lists.append(lst)
    t0 = time.perf_counter()
    ps = [subprocess.Popen(["xargs", "-0", "-a", str(lst), "openssl", "dgst", "-sha256"],
                           stdout=subprocess.DEVNULL) for lst in lists]
    if any(p.wait() != 0 for p in ps):
        raise SystemExit("manifest_peers: openssl dgst failed")
    return time.perf_counter() - t0


# ------------------------------------------------------------ the run


def summarize(walls: List[float], size: int) -> Dict[str, float]:
    best, med = min(walls), statistics.median(walls)
    return {"best_s": best, "median_s": med, "gbps": size / best / 1e9, "gbps_median": size / med / 1e9}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", default=os.environ.get("AIOS_BENCH_MF_SHAPE", "full"),
                    choices=sorted(SHAPES), help="full (default) or smoke")
    ap.add_argument("--build", default=str(ROOT / "build-bench-mf"), help="build directory")
    ap.add_argument("--scratch", default=None, help="data directory (default <build>/manifest-data)")
    ap.add_argument("--big", default=None, help="sizes of the big files in MiB, comma-separated")
    ap.add_argument("--small", type=int, default=None, help="small files beside the big ones")
    ap.add_argument("--many", type=int, default=None, help="files of the many-small-files directory")
    ap.add_argument("--shard-size", type=int, default=None, help="bytes per shard, both tools")
    ap.add_argument("--reps", type=int, default=3, help="rounds; best and median kept (default 3)")
    ap.add_argument("--only", default="big,many,stream", help="comma-separated parts to run")
    ap.add_argument("--keep", action="store_true", help="keep the data for the next run")
    ap.add_argument("--no-build", action="store_true", help="use the build directory as it is")
    args = ap.parse_args(argv)
    shape = dict(SHAPES[args.shape])
    if args.big:
        shape["big"] = [int(x) for x in args.big.split(",")]
    if args.small is not None:
        shape["small"] = args.small
    if args.many is not None:
        shape["many"] = args.many
    if args.shard_size:
        shape["shard"] = args.shard_size
    parts = set(args.only.split(","))
    build_dir = Path(args.build).resolve()
    scratch = Path(args.scratch).resolve() if args.scratch else build_dir / "manifest-data"
    t_start = time.time()

    if not args.no_build:
        build(build_dir)
    bench = str(build_dir / "bench" / "bench_manifest")
    py = str(venv_python(build_dir))
    oms = str(ROOT / "bench" / "python" / "bench_manifest_oms.py")
    before = machine()
    big, many = make_data(scratch, shape)
    key, pub = make_key(scratch)
    out = scratch / "out"
    out.mkdir(exist_ok=True)
    dirs = [(name, d) for name, d in (("big", big), ("many", many)) if name in parts]
    listing = {name: files_of(d) for name, d in (("big", big), ("many", many))}
    for name, _ in dirs:
        warm(listing[name])
    first_big = sorted(p for p, _ in listing["big"] if p.name.startswith("model-"))[0]
    build_info = ""

    # single-core figures
    kern = openssl_kernel()
    kern2 = lanes_kernel(build_dir)
    kfile = rows(run([bench, "kernel", "--file", str(first_big), "--reps", str(args.reps)]))
    kernel_file = next(r for r in kfile if r["case"] == "kernel-file")
    plain = next(r for r in kfile if r["case"] == "plain-read")
    build_info = json.dumps(next(r for r in kfile if r["case"] == "build")["build_info"],
                            separators=(",", ":"))

    # the rounds
    timings: Dict[Tuple, List[float]] = {}
    extra: Dict[Tuple, Dict[str, Any]] = {}
    sizes = {name: sum(s for _, s in listing[name]) for name, _ in dirs}
    nfiles = {name: len(listing[name]) for name, _ in dirs}

    def note(k: Tuple, r: Dict[str, Any]) -> None:
        timings.setdefault(k, []).append(r["best_s"])
        extra.setdefault(k, {"cores": []})["cores"].append(r.get("cores", 0.0))

    for rep in range(args.reps):
        log(f"--- round {rep + 1} of {args.reps}")
        for name, d in dirs:
            for method in ("files", "shards"):
                for threads in (1, 2):
                    tag = f"{name}-{method}-{threads}"
                    ab, ob = out / f"aios-{tag}.json", out / f"oms-{tag}.sig"
                    common = ["--dir", str(d), "--threads", str(threads), "--method", method,
                              "--shard-size", str(shape["shard"]), "--reps", "1"]
                    for r in rows(run([bench, "sign", "--key", str(key), "--out", str(ab), "--warm", "0"]
                                      + common)):
                        if r["case"] == "sign":
                            note(("aios", "sign", name, method, threads), r)
                    for r in rows(run([py, oms, "sign", "--key", str(key), "--out", str(ob)] + common)):
                        note(("model_signing", "sign", name, method, threads), r)
                    vcommon = ["--dir", str(d), "--threads", str(threads), "--reps", "1"]
                    for r in rows(run([bench, "verify", "--pub", str(pub), "--bundle", str(ab),
                                       "--warm", "0"] + vcommon)):
                        if r["case"] in ("verify", "verify-bundle-only"):
                            note(("aios", r["case"], name, method, threads), r)
                    for r in rows(run([py, oms, "verify", "--pub", str(pub), "--bundle", str(ob)]
                                      + common)):
                        note(("model_signing", "verify", name, method, threads), r)
            for procs in (1, 2):
                t = openssl_dgst(listing[name], procs, out)
                log(f"  openssl dgst -sha256, {name}, {procs} process(es): {sizes[name] / t / 1e9:.3f} GB/s")
                timings.setdefault(("openssl", "dgst", name, "-", procs), []).append(t)

    # interop: libaios verifies model_signing's bundles
    interop: List[str] = []
    for name, d in dirs:
        for method in ("files", "shards"):
            ob = out / f"oms-{name}-{method}-2.sig"
            run([bench, "verify", "--pub", str(pub), "--bundle", str(ob), "--dir", str(d), "--threads",
                 "2", "--reps", "1", "--warm", "0"])
            interop.append(f"{name}/{method}")

    # Streams: on the caller's thread (1 unit per read_verified call), and
    # with 2 threads of the stream's own (4 units per call).
    stream: Dict[str, Dict[int, Dict[str, Dict[str, Any]]]] = {}
    no_throttle = ""
    if "stream" in parts:
        for cold in (0, 1):
            for threads, units in STREAM_SETUPS:
                got = rows(run([bench, "stream", "--key", str(key), "--file", str(first_big), "--reps",
                                str(max(args.reps, 3)), "--cold", str(cold), "--threads", str(threads),
                                "--units", str(units)]))
                stream.setdefault("cold" if cold else "warm", {})[threads] = {r["case"]: r for r in got}
        # from storage of a known speed (cold, the reads throttled)
        throttle, why = Throttle.make(first_big)
        if throttle is None:
            log(f"no throttled-storage runs: {why}")
            no_throttle = why
        try:
            for bps in STORAGE_SPEEDS if throttle else ():
                try:
                    throttle.set(bps)
                except OSError as e:
                    log(f"no throttled-storage runs: the limit was refused: {e}")
                    no_throttle = f"the cgroup refused the read limit ({e})"
                    break
                for threads, units in STREAM_SETUPS:
                    got = rows(run([bench, "stream", "--key", str(key), "--file", str(first_big), "--reps",
                                    str(max(args.reps, 5)), "--cold", "1", "--threads", str(threads),
                                    "--units", str(units)], cgroup=throttle))
                    stream.setdefault(f"disk {bps}", {})[threads] = {r["case"]: r for r in got}
        finally:
            if throttle:
                throttle.close()
    after = machine()

    # ------------------------------------------------------------ report
    def get(k: Tuple, size: int) -> Optional[Dict[str, float]]:
        return summarize(timings[k], size) if k in timings else None

    cmd = "python3 bench/manifest_peers.py" + (f" --shape {args.shape}" if args.shape != "full" else "") + \
          (f" --reps {args.reps}" if args.reps != 3 else "")
    for flag, val in (("--big", args.big), ("--small", args.small), ("--many", args.many),
                      ("--shard-size", args.shard_size)):
        if val is not None:
            cmd += f" {flag} {val}"
    lines = [f"Measured {before['date']} by `{cmd}` ({time.time() - t_start:.0f} s).",
             f"Machine: {before.get('Model name', '?')}, {before.get('CPU(s)', '?')} CPUs"
             f"{' (' + before['Hypervisor vendor'] + ' guest)' if 'Hypervisor vendor' in before else ''}; "
             f"load average {before['load average']} before, {after['load average']} after.",
             f"Build: `{build_info}`", ""]
    desc = {"big": f"{len(shape['big'])} files of {', '.join(str(m) for m in shape['big'])} MiB + "
                   f"{shape['small']} of 4..64 KiB",
            "many": f"{shape['many']} files of 4..64 KiB"}
    lines += ["### Single core", "",
              "| figure | GB/s |", "|---|---|",
              f"| SHA-256 kernel in memory, 1 MiB buffers (`openssl speed -evp sha256`) | {kern:.3f} |",
              (f"| libaios 2-lane SHA-256 kernel in memory, two 1 MiB streams on one core "
               f"(`bench_crypto --only sha256`) | {kern2:.3f} |" if kern2 else
               "| libaios 2-lane SHA-256 kernel | (none on this CPU) |"),
              f"| `aios_manifest_hash`, one cached {kernel_file['bytes'] >> 20} MiB file, 1 thread "
              f"(read() 4 MiB + SHA-256) | {kernel_file['gbps']:.3f} |",
              f"| plain read() of that file, 4 MiB calls | {plain['gbps']:.3f} |", ""]
    shard_txt = f"{shape['shard']:,}".replace(",", " ")
    lines += [f"### Sign and verify, page cache warm (shards of {shard_txt} bytes)", "",
              "Best of the rounds (median in parentheses), GB/s of model bytes; ratios on the best. "
              "openssl: `openssl dgst -sha256` over the same files, 1 process, or 2 in parallel on "
              "halves balanced by bytes; threads x kernel uses the single-stream in-memory kernel "
              "above (`openssl speed`), threads x 2-lane the 2-lane one.", "",
              "| model | method | threads | op | libaios | model_signing 1.1.1 | libaios / model_signing "
              "| openssl dgst | libaios / openssl | libaios / (threads x kernel) "
              "| libaios / (threads x 2-lane) | cores (libaios) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    losses: List[str] = []
    median_losses: List[str] = []
    kernel_rows: List[Tuple[int, str, float]] = []
    lane_rows: List[float] = []
    small_ratios: List[float] = []
    for name, _ in dirs:
        size = sizes[name]
        for method in ("files", "shards"):
            for threads in (1, 2):
                osl = get(("openssl", "dgst", name, "-", threads), size)
                for op in ("sign", "verify"):
                    a = get(("aios", op, name, method, threads), size)
                    m = get(("model_signing", op, name, method, threads), size)
                    if a is None or m is None or osl is None:
                        continue
                    cores = max(extra[("aios", op, name, method, threads)]["cores"])
                    ratio_m = a["gbps"] / m["gbps"]
                    ratio_k = a["gbps"] / (threads * kern)
                    ratio_k2 = f"{a['gbps'] / (threads * kern2):.2f}" if kern2 else "–"
                    lines.append(f"| {name} | {method} | {threads} | {op} | {a['gbps']:.3f} "
                                 f"({a['gbps_median']:.3f}) | {m['gbps']:.3f} ({m['gbps_median']:.3f}) | "
                                 f"{ratio_m:.2f}x | {osl['gbps']:.3f} | {a['gbps'] / osl['gbps']:.2f} | "
                                 f"{ratio_k:.2f} | {ratio_k2} | {cores:.2f} |")
                    if a["gbps"] < m["gbps"]:
                        losses.append(f"{name} {method} {threads}t {op}: libaios {a['gbps']:.3f}, "
                                      f"model_signing {m['gbps']:.3f}")
                    elif a["gbps_median"] < m["gbps_median"]:
                        median_losses.append(f"{name} {method} {threads}t {op}")
                    if name == "big" and method == "shards":
                        kernel_rows.append((threads, op, ratio_k))
                        if kern2:
                            lane_rows.append(a["gbps"] / (threads * kern2))
                    if name == "many":
                        small_ratios.append(ratio_m)
    lines.append("")
    for name, _ in dirs:
        lines.append(f"- {name}: {desc[name]}, {sizes[name] / 2**30:.2f} GiB in {nfiles[name]} files.")
    for name, _ in dirs:
        vb = [min(v) for k, v in timings.items() if k[1] == "verify-bundle-only" and k[2] == name]
        if vb:
            lines.append(f"- {name}: of libaios verify, checking the bundle alone "
                         f"(`aios_manifest_verify_key`: parse, signature, {nfiles[name]} or more resources) "
                         f"takes {min(vb) * 1e3:.1f} to {max(vb) * 1e3:.1f} ms.")
    if interop:
        lines.append(f"- Interop: libaios verified model_signing's bundles ({', '.join(interop)}).")
    lines.append("")
    lines += ["Targets:", ""]
    if kernel_rows:
        worst = min(r for _, _, r in kernel_rows)
        lines.append(f"- At least {KERNEL_TARGET:.0%} of threads x the kernel with enough shards "
                     f"(big, shards; 1 and 2 threads, sign and verify): worst {worst:.2f}: "
                     f"{'**met**' if worst >= KERNEL_TARGET else '**not met**'}."
                     + (f" Against threads x libaios' own 2-lane kernel in memory (a higher "
                        f"ceiling than the issue's single-core kernel): {min(lane_rows):.2f} to "
                        f"{max(lane_rows):.2f}." if lane_rows else ""))
    if dirs:
        if losses:
            lines.append("- Never slower than model_signing: **not met**:")
            lines += [f"  - {x}" for x in losses]
        else:
            lines.append("- Never slower than model_signing (best of the rounds, every row): **met**.")
        if median_losses:
            lines.append("  Slower on the median of the rounds (noise, or a real loss to check): "
                         + ", ".join(median_losses) + ".")
    if small_ratios:
        lines.append(f"- Clearly faster on many small files: {min(small_ratios):.2f}x to "
                     f"{max(small_ratios):.2f}x model_signing.")
    for kind, by_threads in stream.items():
        disk = kind.startswith("disk ")
        title = ("page cache warm" if kind == "warm" else
                 "page cache cold (this file's pages dropped before every read)" if kind == "cold" else
                 f"from storage at {int(kind.split()[1]) / 1e9:g} GB/s (cold, reads throttled)")
        first = by_threads[STREAM_SETUPS[0][0]]
        lines += ["", f"### Streaming verification of one {first['stream-plain-read']['bytes'] >> 20} MiB "
                  f"file, {title}", "",
                  "| how the file is read | stream threads | GB/s (best) | median | over the plain read: "
                  "best / median of rounds |",
                  "|---|---|---|---|---|"]
        verdicts = []
        for threads, st in by_threads.items():
            pr, sf = st["stream-plain-read"], st["stream-read-finish"]
            pru, sv = st["stream-plain-read-unit"], st["stream-read-verified"]
            o_files = sf["best_s"] / pr["best_s"] - 1
            o_shards = sv["best_s"] / pru["best_s"] - 1
            r_files, r_shards = round_ratio(sf, pr), round_ratio(sv, pru)
            units = pru["buffer"] // sv["shard_size"]
            lines += [f"| plain read(), 4 MiB calls | – | {pr['gbps']:.3f} | {pr['gbps_median']:.3f} | – |",
                      f"| `aios_manifest_stream_read` (4 MiB) + `_finish`, files | {threads} | {sf['gbps']:.3f} | "
                      f"{sf['gbps_median']:.3f} | {o_files:+.0%} / {r_files:+.0%} |",
                      f"| plain read(), {pru['buffer'] >> 20} MiB calls | – | {pru['gbps']:.3f} | "
                      f"{pru['gbps_median']:.3f} | – |",
                      f"| `aios_manifest_stream_read_verified`, {sv['shard_size'] >> 20} MiB shards, "
                      f"{units} per call | {threads} | {sv['gbps']:.3f} | {sv['gbps_median']:.3f} | "
                      f"{o_shards:+.0%} / {r_shards:+.0%} |"]
            verdicts.append((threads, o_files, o_shards, r_files, r_shards))
        tp, vf = first["two-pass"], first["verify-file"]
        pr1, sf1 = first["stream-plain-read"], first["stream-read-finish"]
        lines += [f"| `aios_manifest_verify_file` alone | 1 | {vf['gbps']:.3f} | {vf['gbps_median']:.3f} | – |",
                  f"| two passes: `verify_file`, then a plain read | 1 | {tp['gbps']:.3f} | {tp['gbps_median']:.3f} | "
                  f"{tp['best_s'] / pr1['best_s'] - 1:+.0%} / {round_ratio(tp, pr1):+.0%} |", ""]
        # met: every way of streaming under the target, on the best and on
        # the median of the rounds
        worst = max(max(v[1:]) for v in verdicts)
        lines.append(f"- Streaming verification under {STREAM_TARGET:.0%} over a plain read ({title}): "
                     f"{'**met**' if worst < STREAM_TARGET else '**not met**'} ("
                     + "; ".join(f"{t} thread{'s' if t > 1 else ''}: files {f:+.0%} / {rf:+.0%}, "
                                 f"shards {sh:+.0%} / {rsh:+.0%}" for t, f, sh, rf, rsh in verdicts)
                     + f"); against the two-pass alternative the 1-thread files stream takes "
                     f"{sf1['best_s'] / tp['best_s'] - 1:+.0%}." + (
                         " The storage's speed is what is read here: the plain read's best can pass it "
                         "by a few percent (the throttle lets a short burst through)." if disk else ""))
    if "stream" in parts and no_throttle:
        lines += ["", f"(No runs from throttled storage: {no_throttle}.)"]
    print("\n".join(lines))

    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
