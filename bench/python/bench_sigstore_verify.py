#!/usr/bin/env python3
"""bench_sigstore_verify: the cost of checking one Sigstore keyless bundle
(the golden v1.1.0-sigstore of ../shared/vectors/oms), libaios against
sigstore-python (what `model_signing verify sigstore` runs), with the
production trusted root the sigstore package ships, read from the same
file by both.  Only the signature side is timed (no model hashing).

    build/venv-oms/bin/python bench/python/bench_sigstore_verify.py [--reps N]

Needs the venv that scripts/test makes for the OMS interop tests
(model-signing, hence sigstore) with the aios binding installed, and
AIOS_LIBRARY naming the built library.  Prints best-of-3 milliseconds per
verification.
"""

from __future__ import annotations

import argparse
import pathlib
import time
from typing import Callable

import sigstore
from sigstore.models import Bundle, ClientTrustConfig
from sigstore.verify import Verifier, policy

from aios import manifest as am

IDENTITY = "stefanb@us.ibm.com"
ISSUER = "https://sigstore.verify.ibm.com/oauth2"
HERE = pathlib.Path(__file__).resolve()
BUNDLE = HERE.parents[3] / "shared" / "vectors" / "oms" / "model-transparency" / "v1.1.0-sigstore" / "model.sig"
ROOT = pathlib.Path(sigstore.__file__).parent / "_store" / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev" / "trusted_root.json"


def best_ms(fn: Callable[[], None], n: int) -> float:
    for _ in range(3):
        fn()
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t) / n)
    return best * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=100)
    args = ap.parse_args()
    bundle, root = BUNDLE.read_bytes(), ROOT.read_bytes()
    kind = type(ClientTrustConfig.production(offline=True).trusted_root)
    verifier = Verifier(trusted_root=kind.from_file(str(ROOT)))
    pol = policy.Identity(identity=IDENTITY, issuer=ISSUER)

    def libaios() -> None:
        am.verify_sigstore(bundle, root, identity=IDENTITY, oidc_issuer=ISSUER).close()

    def sigstore_python() -> None:
        verifier.verify_dsse(Bundle.from_json(bundle), pol)

    a = best_ms(libaios, args.reps)
    s = best_ms(sigstore_python, args.reps)
    print(f"libaios aios_manifest_verify_sigstore (trusted root parsed per call): {a:.2f} ms")
    print(f"sigstore-python Verifier.verify_dsse (verifier made once):          {s:.2f} ms")
    print(f"libaios / sigstore-python time: {a / s:.2f}")


if __name__ == "__main__":
    main()
