"""The real ``model_signing sign sigstore`` signs keyless against a Sigstore
served here, and libaios verifies what it wrote.

``model_signing sign sigstore --trust_config F`` reads a client trust
config: a trusted root and a signing config naming Fulcio, the Rekor log
and the timestamp authority by URL.  This file serves those three on
localhost (:class:`LocalSigstore`, over the virtual Sigstore of
``test_oms_sigstore_rekor2``) and gives the tool an identity token, so
the whole signing flow of sigstore-python runs unchanged, offline:

* the OIDC provider's discovery document (model_signing reads it even
  when the token is given);
* Fulcio (``POST /api/v2/signingCert``): the CSR's key gets a leaf for
  the token's identity and issuer, valid from now, with an embedded SCT
  that sigstore-python checks against the root's CT log before it signs;
* the timestamp authority (``POST /api/v1/timestamp``): an RFC 3161
  response over the request's imprint, with its nonce;
* Rekor v2 (``POST /api/v2/log/entries``): the ``hashedRekordRequestV002``
  (a DSSE envelope logged as hashedrekord, rekor-v2 spec 6.1.4) is checked
  (the signature over the digest, with the certificate's key) and
  appended; the answer is the entry with its inclusion proof and a
  checkpoint signed by the log's Ed25519 key.

The bundle model_signing writes is then verified by libaios (API and
CLI) and by ``model_signing verify sigstore`` with the same file; a
changed, added or removed model file fails on both sides, and another
identity fails in libaios.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from aios import manifest as am

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from test_oms_sigstore_rekor2 import TSA, Rekor2Sigstore
from test_oms_sigstore_virtual import audit_path, b64, canon, mth

IDENTITY = "carol@example.com"
ISSUER = "https://oidc.example"
SHA256_OID = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")


class LocalSigstore(Rekor2Sigstore):
    """Fulcio, a Rekor v2 log and a timestamp authority on localhost."""

    def __init__(self) -> None:
        super().__init__(origin="127.0.0.1")
        # this Sigstore signs at the real time: an authority valid to 2100
        self.tsa = TSA(not_after=4_102_444_800)
        self.leaves: List[bytes] = []   # the log's leaf hashes, in order
        self.lock = threading.Lock()
        self.requests: Dict[str, int] = {"fulcio": 0, "tsa": 0, "rekor": 0}
        self.errors: List[str] = []   # what a service refused, for the test's message
        ls = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                if self.path != "/.well-known/openid-configuration":
                    self.send_error(404)
                    return
                out = json.dumps({"issuer": ls.url, "authorization_endpoint": ls.url + "/auth",
                                  "token_endpoint": ls.url + "/token"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    if self.path == "/api/v2/signingCert":
                        code, ctype, out = 200, "application/json", ls.fulcio(
                            data, self.headers.get("Authorization", ""))
                    elif self.path == "/api/v1/timestamp":
                        code, ctype, out = 200, "application/timestamp-reply", ls.timestamp(data)
                    elif self.path == "/api/v2/log/entries":
                        code, ctype, out = 201, "application/json", ls.log(data)
                    else:
                        code, ctype, out = 404, "application/json", b'{"message":"no such endpoint"}'
                except Exception as e:  # noqa: BLE001 - the client sees a 400, the test its text
                    ls.errors.append("%s: %r" % (self.path, e))
                    code, ctype, out = 400, "application/json", json.dumps({"message": repr(e)}).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---- the services

    def fulcio(self, data: bytes, authorization: str) -> bytes:
        req = json.loads(data)
        token = authorization.removeprefix("Bearer ")   # the token comes as a bearer token
        assert token.count(".") == 2
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        csr = x509.load_pem_x509_csr(base64.b64decode(req["certificateSigningRequest"]))
        assert csr.is_signature_valid   # proof of possession of the key
        _, leaf = self.leaf(public_key=csr.public_key(), san=x509.RFC822Name(claims["email"]),
                            v1=claims["iss"], v2=claims["iss"], t0=int(time.time()) - 5)
        self.requests["fulcio"] += 1
        pem = [c.public_bytes(serialization.Encoding.PEM).decode() for c in (leaf, self.ca)]
        return json.dumps({"signedCertificateEmbeddedSct": {"chain": {"certificates": pem}}}).encode()

    def timestamp(self, data: bytes) -> bytes:
        # rfc3161-client (sigstore-python's) parses the request; imported
        # here so that a change of its private module fails this test only
        from rfc3161_client._rust import parse_timestamp_request
        req = parse_timestamp_request(data)
        assert req.message_imprint.hash_algorithm == SHA256_OID
        self.requests["tsa"] += 1
        return self.tsa.stamp(b"", int(time.time()), imprint=req.message_imprint.message,
                              nonce=req.nonce, embed=[self.tsa.leaf] if req.cert_req else [])

    def log(self, data: bytes) -> bytes:
        req = json.loads(data)["hashedRekordRequestV002"]
        digest = base64.b64decode(req["digest"])
        sig = base64.b64decode(req["signature"]["content"])
        verifier = req["signature"]["verifier"]
        cert = x509.load_der_x509_certificate(base64.b64decode(verifier["x509Certificate"]["rawBytes"]))
        key = cert.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        algorithm = {"PKIX_ECDSA_P256_SHA_256": ("SHA2_256", hashes.SHA256()),
                     "PKIX_ECDSA_P384_SHA_384": ("SHA2_384", hashes.SHA384())}[verifier["keyDetails"]]
        try:   # Rekor checks the signature over the digest before it logs
            key.verify(sig, digest, ec.ECDSA(utils.Prehashed(algorithm[1])))
        except InvalidSignature:
            raise ValueError("the signature does not verify over the digest") from None
        body = canon({"apiVersion": "0.0.2", "kind": "hashedrekord", "spec": {"hashedRekordV002": {
            "data": {"algorithm": algorithm[0], "digest": req["digest"]},
            "signature": {"content": req["signature"]["content"], "verifier": verifier}}}})
        with self.lock:
            # two entries of others first, so the proof has a path
            while len(self.leaves) < 2:
                self.leaves.append(hashlib.sha256(b"\x00other %d" % len(self.leaves)).digest())
            index = len(self.leaves)
            self.leaves.append(hashlib.sha256(b"\x00" + body).digest())
            leaves = list(self.leaves)
        root, path = mth(leaves), audit_path(index, leaves)
        self.requests["rekor"] += 1
        return json.dumps({
            "logIndex": str(index), "logId": {"keyId": b64(self.log2_id)},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
            "inclusionProof": {"logIndex": str(index), "rootHash": b64(root),
                               "treeSize": str(len(leaves)), "hashes": [b64(h) for h in path],
                               "checkpoint": {"envelope": self.checkpoint(len(leaves), root)}},
            "canonicalizedBody": b64(body)}).encode()

    # ---- the client trust config and a token

    def trust_config(self) -> Dict[str, Any]:
        def service(url: str, version: int) -> Dict[str, Any]:
            return {"url": url, "majorApiVersion": version, "operator": "local.example",
                    "validFor": {"start": "2025-01-01T00:00:00Z"}}
        return {
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": json.loads(self.root()),
            "signingConfig": {
                "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
                "caUrls": [service(self.url, 1)],
                # model_signing reads the provider's discovery document even
                # with a token given; the token's issuer is ISSUER
                "oidcUrls": [service(self.url, 1)],
                "rekorTlogUrls": [service(self.url, 2)],
                "tsaUrls": [service(self.url + "/api/v1/timestamp", 1)],
                "rekorTlogConfig": {"selector": "ANY"},
                "tsaConfig": {"selector": "ANY"},
            },
        }

    @staticmethod
    def token(identity: str = IDENTITY, issuer: str = ISSUER) -> str:
        """An OIDC identity token as sigstore-python reads it (it forwards
        the token to Fulcio and checks only its claims, not its signature)."""
        def part(o: Dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
        now = int(time.time())
        return ".".join([part({"alg": "ES256", "typ": "JWT"}),
                         part({"iss": issuer, "aud": "sigstore", "sub": identity, "email": identity,
                               "email_verified": True, "iat": now, "nbf": now, "exp": now + 600}),
                         base64.urlsafe_b64encode(b"not checked by the client").rstrip(b"=").decode()])


@pytest.fixture(scope="module")
def local() -> Any:
    ls = LocalSigstore()
    yield ls
    ls.close()


def _model(root: Path) -> Path:
    m = root / "model"
    (m / "nested" / "deeper").mkdir(parents=True)
    (m / "config.json").write_text('{"layers": 2}')
    (m / "weights.bin").write_bytes(os.urandom(3 << 20))
    (m / "nested" / "deeper" / "tok en ü.txt").write_text("vocabulary")
    (m / "empty").write_bytes(b"")
    return m


def _ms(*args: str) -> subprocess.CompletedProcess:
    # straight to localhost, whatever proxy the machine names
    env = dict(os.environ, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    return subprocess.run([sys.executable, "-m", "model_signing", "--log-level", "WARNING", *args],
                          capture_output=True, text=True, timeout=300, env=env)


def _aios_cli(*args: str) -> subprocess.CompletedProcess:
    lib = Path(os.environ["AIOS_LIBRARY"]).resolve()
    env = dict(os.environ, LD_LIBRARY_PATH=str(lib.parent))
    return subprocess.run([str(lib.parents[1] / "bin" / "aios"), *args], capture_output=True,
                          text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def signed(local: LocalSigstore, tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Path, Path]:
    """model_signing signs a model keyless, as `model_signing sign sigstore` does by default."""
    d = tmp_path_factory.mktemp("keyless")
    model = _model(d)
    cfg = d / "trust_config.json"
    cfg.write_text(json.dumps(local.trust_config()))
    sig = d / "model.sig"
    r = _ms("sign", "sigstore", "--trust_config", str(cfg), "--identity_token", local.token(),
            "--signature", str(sig), str(model))
    assert r.returncode == 0, r.stdout + r.stderr + "\n".join(local.errors)
    return model, sig, cfg


def test_model_signing_used_every_service(local: LocalSigstore, signed: Tuple[Path, Path, Path]) -> None:
    assert local.requests["fulcio"] >= 1 and local.requests["tsa"] >= 1 and local.requests["rekor"] >= 1
    bundle = json.loads(signed[1].read_text())
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
    assert "integratedTime" not in entry or entry["integratedTime"] in ("0", 0)
    assert len(bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]) == 1


def test_libaios_verifies_what_model_signing_signed(signed: Tuple[Path, Path, Path]) -> None:
    model, sig, cfg = signed
    bundle, trust = sig.read_bytes(), cfg.read_bytes()
    m = am.verify_sigstore(bundle, trust, identity=IDENTITY, oidc_issuer=ISSUER)
    assert m.verified
    s = m.signer
    assert s["method"] == "keyless" and s["identity"] == IDENTITY and s["oidc_issuer"] == ISSUER
    assert "integrated_time" not in s            # Rekor v2: the time is the timestamp's
    assert abs(s["timestamp"] - time.time()) < 600
    assert s["not_before"] <= s["timestamp"] <= s["not_after"]
    m.verify_dir(model)
    # the trusted root alone (not the config) verifies it too
    am.verify_sigstore(bundle, json.dumps(json.loads(trust)["trustedRoot"]), identity=IDENTITY,
                       oidc_issuer=ISSUER)
    with pytest.raises(am.ManifestKeyMismatchError):
        am.verify_sigstore(bundle, trust, identity="mallory@example.com", oidc_issuer=ISSUER)
    with pytest.raises(am.ManifestKeyMismatchError):
        am.verify_sigstore(bundle, trust, identity=IDENTITY, oidc_issuer="https://other.example")


@pytest.mark.parametrize("change", ["none", "modified", "added", "removed"])
def test_both_verifiers_agree(signed: Tuple[Path, Path, Path], tmp_path: Path, change: str) -> None:
    model0, sig, cfg = signed
    model = tmp_path / "model"
    shutil.copytree(model0, model)
    if change == "modified":
        with open(model / "weights.bin", "r+b") as f:
            f.seek(1 << 20)
            f.write(b"\xff")
    elif change == "added":
        (model / "nested" / "extra.py").write_text("print('hi')")
    elif change == "removed":
        (model / "nested" / "deeper" / "tok en ü.txt").unlink()
    theirs = _ms("verify", "sigstore", "--trust_config", str(cfg), "--identity", IDENTITY,
                 "--identity_provider", ISSUER, "--signature", str(sig), str(model))
    ours = _aios_cli("manifest", "verify", str(model), "--signature", str(sig), "--trust-config",
                     str(cfg), "--identity", IDENTITY, "--oidc-issuer", ISSUER, "--quiet", "--json")
    if change == "none":
        assert theirs.returncode == 0, theirs.stdout + theirs.stderr
        assert ours.returncode == 0, ours.stdout + ours.stderr
        return
    # model_signing refuses it for the same file (not for anything else)
    assert theirs.returncode != 0
    # (its message is a Python list's repr: the quoting varies, the words do not)
    kind, name = {"modified": ("Hash mismatch for", "weights.bin"),
                  "added": ("Extra files found in model", "nested/extra.py"),
                  "removed": ("Missing files in model", "tok en ü.txt")}[change]
    assert "Signature mismatch" in theirs.stderr and kind in theirs.stderr, theirs.stderr
    assert name in theirs.stderr, theirs.stderr
    assert ours.returncode == 4, ours.stdout + ours.stderr
    diff = json.loads(ours.stdout)["diff"]
    expect = {"modified": ("modified", "weights.bin"), "added": ("extra", "nested/extra.py"),
              "removed": ("missing", "nested/deeper/tok en ü.txt")}[change]
    names = [d["path"] if isinstance(d, dict) else d for d in diff[expect[0]]]
    assert names == [expect[1]]
