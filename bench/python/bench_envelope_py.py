#!/usr/bin/env python3
"""bench_envelope_py: envelope encryption from Python (issue 4), the aios
binding side by side with Google Tink and the AWS Encryption SDK in one run.

    AIOS_LIBRARY=build-bench/lib/libaios.so.1 PYTHONPATH=bindings/python \\
        build-bench/venv/bin/python bench/python/bench_envelope_py.py [--budget S] [--json]

(bench/envelope_peers.py makes the venv from bench/python/requirements.txt
and runs this for you.)

Three groups, each with seal and open of the same plaintexts:

records (a data key made once and reused: 64 B, 1 KiB, 64 KiB)
    aios      aios.envelope.Session: seal / open_record (a reader session
              opened once from the writer's header)
    tink      Tink AEAD, AES256_GCM key template: encrypt / decrypt
    aws-cache AWS Encryption SDK, caching CMM over a raw AES master key,
              AES_256_GCM_HKDF_SHA512_COMMIT_KEY (key-committing, unsigned)
    aios-batch the same session, BATCH records per call: Session.seal_many /
              open_many (aios_envelope_session_seal_batch / _open_batch);
              the time shown is per record
    aios-bare the same session through bare ctypes calls of the exact-size
              entry points (no wrapper at all): the ctypes floor under
              the binding's own layer, not a peer
    pyca      cryptography's AESGCM (bare AEAD, 12-byte random nonce): the
              ceiling from Python, not a peer

messages (a fresh data key per message, wrapped by a local KEK: same sizes)
    aios      aios.envelope.seal / open (AES-256 KEK in a local keyring)
    tink      Tink KmsEnvelopeAead, AES256_GCM data keys, a local Tink
              AES256_GCM AEAD standing in for the KMS
    aws       AWS Encryption SDK, raw AES keyring (Material Providers
              Library), COMMIT_KEY suite, frame 64 KiB
    aws-sig   the same with the SDK's default suite (COMMIT_KEY_ECDSA_P384:
              every message also signed with ECDSA P-384)

buffer (one 64 MiB plaintext as one message)
    aios (threads 1 and 2), tink (AEAD, one call), tink-envelope, aws
    (COMMIT_KEY, frame 64 KiB)

Every case runs BENCH_ROUNDS rounds of budget/rounds seconds and keeps
the best round's mean (the 64 MiB cases: best of --reps single calls).
Each round checks that open gives back the plaintext once.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional

ROUNDS = 5
SIZES = [64, 1024, 65536]
BATCH = 1000   # records per call for the batched cases (BATCHED)
BUFFER = 64 << 20
CONTEXT = {"tenant": "acme"}
CONTEXT_AD = b"tenant=acme"


def measure(fn: Callable[[], Any], budget: float) -> float:
    """ns per call: the best of ROUNDS rounds of budget/ROUNDS seconds."""
    best = float("inf")
    per_round = budget / ROUNDS
    for _ in range(ROUNDS):
        n, batch = 0, 1
        t0 = time.perf_counter()
        while True:
            for _ in range(batch):
                fn()
            n += batch
            t = time.perf_counter() - t0
            if t >= per_round:
                break
            if batch < 4096:
                batch *= 2
        best = min(best, t * 1e9 / n)
    return best


def measure_once(fn: Callable[[], Any], reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - t0) * 1e9)
    return best


# ------------------------------------------------------------ implementations
# Each maker returns (seal(pt) -> ct, open(ct) -> pt) for one configuration.


class Peers:
    def __init__(self, tmp: str) -> None:
        import aios
        from aios import envelope as env

        self.aios = aios
        self.env = env
        self.keyring = aios.Keyring.create(os.path.join(tmp, "bench.akr"), master_key=os.urandom(32))
        self.kek = self.keyring.add("kek", aios.KeyType.AES256)
        self.keys = env.Keys([self.kek])
        self.writer = env.Session.new(self.kek, CONTEXT)
        self.reader = env.Session.open(self.writer.header, self.keys)

        import tink
        from tink import aead

        aead.register()
        self.tink_aead = tink.new_keyset_handle(aead.aead_key_templates.AES256_GCM).primitive(aead.Aead)
        remote = tink.new_keyset_handle(aead.aead_key_templates.AES256_GCM).primitive(aead.Aead)
        self.tink_env = aead.KmsEnvelopeAead(aead.aead_key_templates.AES256_GCM, remote)

        import aws_encryption_sdk
        from aws_encryption_sdk.identifiers import (
            Algorithm,
            CommitmentPolicy,
            EncryptionKeyType,
            WrappingAlgorithm,
        )
        from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
        from aws_encryption_sdk.key_providers.raw import RawMasterKey
        from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
        from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
        from aws_cryptographic_material_providers.mpl.models import (
            AesWrappingAlg,
            CreateRawAesKeyringInput,
        )

        self.Algorithm = Algorithm
        self.aws = aws_encryption_sdk.EncryptionSDKClient(
            commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
        )
        wrapping = os.urandom(32)
        mpl = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())
        self.aws_keyring = mpl.create_raw_aes_keyring(
            input=CreateRawAesKeyringInput(
                key_namespace="bench",
                key_name="kek",
                wrapping_key=wrapping,
                wrapping_alg=AesWrappingAlg.ALG_AES256_GCM_IV12_TAG16,
            )
        )
        master_key = RawMasterKey(
            provider_id="bench",
            key_id=b"kek",
            wrapping_key=WrappingKey(
                wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
                wrapping_key=wrapping,
                wrapping_key_type=EncryptionKeyType.SYMMETRIC,
            ),
        )
        self.aws_cmm = aws_encryption_sdk.CachingCryptoMaterialsManager(
            master_key_provider=master_key,
            cache=aws_encryption_sdk.LocalCryptoMaterialsCache(capacity=16),
            max_age=3600.0,
            max_messages_encrypted=2**32,
        )

        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.pyca = AESGCM(AESGCM.generate_key(bit_length=256))

    def versions(self) -> Dict[str, str]:
        from importlib.metadata import version

        out = {"python": platform.python_version(), "aios-library": self.aios.version_string()
               if hasattr(self.aios, "version_string") else "?"}
        for dist in ("tink", "aws-encryption-sdk", "aws-cryptographic-material-providers", "cryptography"):
            try:
                out[dist] = version(dist)
            except Exception:  # pragma: no cover - reported as missing
                out[dist] = "missing"
        return out

    # records -------------------------------------------------------------
    def rec_aios(self):
        return self.writer.seal, self.reader.open_record

    def rec_aios_batch(self):
        # Lists of BATCH plaintexts / records in, lists out (see BATCHED).
        return self.writer.seal_many, self.reader.open_many

    def rec_aios_bare(self):
        from aios import _ffi

        # Private objects: the exact-size entry points with no argtypes and
        # no errcheck, the output written into a new bytes object: the
        # ctypes floor under Session.seal / open_record (CPython).
        f_seal = _ffi.cdll["aios_envelope_session_seal_exact"]
        f_open = _ffi.cdll["aios_envelope_session_open_exact"]
        f_seal.restype = f_open.restype = ctypes.c_int
        wh, rh = self.writer._handle(), self.reader._handle()
        overhead = self.env.RECORD_OVERHEAD

        def seal(pt: bytes) -> bytes:
            out = bytes(len(pt) + overhead)
            if f_seal(wh, out, pt, len(pt), None, 0) != 0:
                raise RuntimeError("aios_envelope_session_seal_exact failed")
            return out

        def open_(rec: bytes) -> bytes:
            out = bytes(len(rec) - overhead)
            if f_open(rh, out, rec, len(rec), None, 0) != 0:
                raise RuntimeError("aios_envelope_session_open_exact failed")
            return out

        return seal, open_

    def rec_tink(self):
        return (lambda pt: self.tink_aead.encrypt(pt, b"")), (lambda ct: self.tink_aead.decrypt(ct, b""))

    def rec_aws_cache(self):
        alg = self.Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY

        def seal(pt: bytes) -> bytes:
            return self.aws.encrypt(source=pt, materials_manager=self.aws_cmm, encryption_context=CONTEXT,
                                    algorithm=alg, frame_length=65536)[0]

        def open_(ct: bytes) -> bytes:
            return self.aws.decrypt(source=ct, materials_manager=self.aws_cmm)[0]

        return seal, open_

    def rec_pyca(self):
        def seal(pt: bytes) -> bytes:
            n = os.urandom(12)
            return n + self.pyca.encrypt(n, pt, None)

        def open_(ct: bytes) -> bytes:
            return self.pyca.decrypt(ct[:12], ct[12:], None)

        return seal, open_

    # messages ------------------------------------------------------------
    def msg_aios(self, threads: int = 0):
        env = self.env
        return (lambda pt: env.seal(pt, self.kek, CONTEXT, threads=threads),
                lambda ct: env.open(ct, self.keys, threads=threads))

    def msg_aios2(self):
        return self.msg_aios(threads=2)

    def msg_tink(self):
        return (lambda pt: self.tink_env.encrypt(pt, CONTEXT_AD)), (lambda ct: self.tink_env.decrypt(ct, CONTEXT_AD))

    def _aws_keyring(self, alg: Any):
        def seal(pt: bytes) -> bytes:
            return self.aws.encrypt(source=pt, keyring=self.aws_keyring, encryption_context=CONTEXT,
                                    algorithm=alg, frame_length=65536)[0]

        def open_(ct: bytes) -> bytes:
            return self.aws.decrypt(source=ct, keyring=self.aws_keyring)[0]

        return seal, open_

    def msg_aws(self):
        return self._aws_keyring(self.Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY)

    def msg_aws_sig(self):
        return self._aws_keyring(self.Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384)

    def close(self) -> None:
        self.reader.close()
        self.writer.close()
        self.keys.close()
        self.kek.close()
        self.keyring.close()


PLAN = {
    "records": [("aios", "rec_aios"), ("aios-batch", "rec_aios_batch"), ("tink", "rec_tink"),
                ("aws-cache", "rec_aws_cache"), ("aios-bare", "rec_aios_bare"), ("pyca", "rec_pyca")],
    "messages": [("aios", "msg_aios"), ("tink", "msg_tink"), ("aws", "msg_aws"),
                 ("aws-sig", "msg_aws_sig")],
    "buffer": [("aios", "msg_aios"), ("aios-2t", "msg_aios2"), ("tink", "rec_tink"),
               ("tink-envelope", "msg_tink"), ("aws", "msg_aws")],
}
#: Implementations whose seal and open take lists of BATCH items: timed per
#: call, reported per record.
BATCHED = {"aios-batch"}


def run(budget: float, reps: int, groups: List[str], emit: Callable[[Dict[str, Any]], None]) -> None:
    with tempfile.TemporaryDirectory(prefix="aios-bench-py.") as tmp:
        peers = Peers(tmp)
        emit({"versions": peers.versions()})
        try:
            for group in groups:
                sizes = [BUFFER] if group == "buffer" else SIZES
                for size in sizes:
                    pt = os.urandom(size)
                    for impl, maker in PLAN[group]:
                        seal, open_ = getattr(peers, maker)()
                        if impl in BATCHED:
                            pts = [pt] * BATCH
                            cts = seal(pts)
                            if open_(cts) != pts:
                                raise SystemExit(f"{group}/{impl}/{size}: open did not give the plaintexts back")
                            ns_seal = measure(lambda: seal(pts), budget) / BATCH
                            ns_open = measure(lambda: open_(cts), budget) / BATCH
                            for op, ns in (("seal", ns_seal), ("open", ns_open)):
                                emit({"group": group, "impl": impl, "op": op, "size": size, "ns": ns,
                                      "overhead": len(cts[0]) - size, "batch": BATCH})
                            del pts, cts
                            continue
                        ct = seal(pt)
                        if open_(ct) != pt:
                            raise SystemExit(f"{group}/{impl}/{size}: open did not give the plaintext back")
                        if group == "buffer":
                            ns_seal = measure_once(lambda: seal(pt), reps)
                            ns_open = measure_once(lambda: open_(ct), reps)
                        else:
                            ns_seal = measure(lambda: seal(pt), budget)
                            ns_open = measure(lambda: open_(ct), budget)
                        for op, ns in (("seal", ns_seal), ("open", ns_open)):
                            emit({"group": group, "impl": impl, "op": op, "size": size, "ns": ns,
                                  "overhead": len(ct) - size})
        finally:
            peers.close()


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=float, default=0.5, help="seconds per case (default 0.5)")
    ap.add_argument("--reps", type=int, default=3, help="64 MiB runs per case, best kept (default 3)")
    ap.add_argument("--groups", default="records,messages,buffer")
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    args = ap.parse_args(argv)

    def emit(row: Dict[str, Any]) -> None:
        if args.json:
            print(json.dumps(row), flush=True)
        elif "versions" in row:
            print("# " + "  ".join(f"{k} {v}" for k, v in row["versions"].items()), flush=True)
        else:
            ns = row["ns"]
            shown = f"{ns / 1e6:10.2f} ms" if ns >= 1e6 else f"{ns / 1e3:10.2f} us"
            print(f"{row['group']:<9} {row['impl']:<14} {row['op']:<5} {row['size']:>9} B {shown}",
                  flush=True)

    run(args.budget, args.reps, args.groups.split(","), emit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
