"""Sigstore keyless bundles (``model_signing sign sigstore``) through
``aios.manifest.verify_sigstore``, with Sigstore's real trusted root: the
one the ``sigstore`` package (installed with model_signing) ships, loaded
offline.

Every golden ``*-sigstore`` folder of ../shared/vectors/oms verifies and
its model verifies clean; a changed model file fails.  Each tampering of
the bundle or of the trusted root below must be refused by libaios, and
sigstore-python's own verifier (``sigstore.verify.Verifier``, the code
``model_signing verify sigstore`` runs) is held to the same verdict, so
the two verifiers agree case by case.
"""

from __future__ import annotations

import base64
import copy
import json
import shutil
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Type

import pytest

import aios
import sigstore
from aios import manifest as am

from sigstore.models import Bundle, ClientTrustConfig
from sigstore.verify import Verifier, policy

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "oms" / "model-transparency"
IDENTITY = "stefanb@us.ibm.com"
ISSUER = "https://sigstore.verify.ibm.com/oauth2"
FOLDERS = sorted(p for p in VECTORS.glob("*-sigstore") if p.is_dir())


# The production trusted root the sigstore package ships (what its
# offline mode starts from); both verifiers read this same file.
ROOT_FILE = Path(sigstore.__file__).parent / "_store" / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev" / "trusted_root.json"


class _Trust:
    def __init__(self) -> None:
        kind = type(ClientTrustConfig.production(offline=True).trusted_root)
        self.trusted_root = kind.from_file(str(ROOT_FILE))


@pytest.fixture(scope="module")
def trust() -> Any:
    return _Trust()


@pytest.fixture(scope="module")
def root_json() -> bytes:
    return ROOT_FILE.read_bytes()


def _sigstore_accepts(bundle: Dict[str, Any], root: Any, identity: str = IDENTITY,
                      issuer: str = ISSUER) -> bool:
    try:
        b = Bundle.from_json(json.dumps(bundle))
        Verifier(trusted_root=root).verify_dsse(b, policy.Identity(identity=identity, issuer=issuer))
        return True
    except Exception:  # noqa: BLE001 - any refusal counts
        return False


def test_the_folders_exist() -> None:
    assert len(FOLDERS) >= 4


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_golden_keyless_verify(folder: Path, root_json: bytes, trust: Any, tmp_path: Path) -> None:
    bundle = (folder / "model.sig").read_bytes()
    assert _sigstore_accepts(json.loads(bundle), trust.trusted_root)
    m = am.verify_sigstore(bundle, root_json, identity=IDENTITY, oidc_issuer=ISSUER)
    assert m.verified
    signer = m.signer
    assert signer["method"] == "keyless" and signer["trust"] == "verified"
    assert signer["identity"] == IDENTITY and signer["oidc_issuer"] == ISSUER
    assert signer["integrated_time"] >= signer["not_before"]
    assert signer["integrated_time"] <= signer["not_after"]
    assert signer["log_index"] > 0
    # An RFC 3161 timestamp from Sigstore's timestamp authority (bundles of
    # model_signing 1.1 on): it verifies with the root's authority, so the
    # signer names its time, inside the certificate's life.
    stamps = json.loads(bundle)["verificationMaterial"].get("timestampVerificationData", {}).get(
        "rfc3161Timestamps", [])
    if stamps:
        assert signer["not_before"] <= signer["timestamp"] <= signer["not_after"]
    else:
        assert "timestamp" not in signer
    # the model verifies clean; a changed file fails with the diff naming it
    model = tmp_path / "m"
    shutil.copytree(folder, model)
    ignore = ["ignore-me"] if (model / "ignore-me").exists() else []
    m.verify_dir(model, bundle_path=model / "model.sig", ignore_paths=ignore)
    with open(model / "signme-1", "r+b") as f:
        f.write(b"X")
    with pytest.raises(am.ManifestMismatchError):
        m.verify_dir(model, bundle_path=model / "model.sig", ignore_paths=ignore)
    # a text trusted root works too
    am.verify_sigstore(bundle, root_json.decode(), identity=IDENTITY, oidc_issuer=ISSUER)


def test_identity_and_issuer_are_exact(root_json: bytes, trust: Any) -> None:
    bundle = (FOLDERS[-1] / "model.sig").read_bytes()
    for identity, issuer in ((IDENTITY.upper(), ISSUER), ("stefanb@us.ibm.co", ISSUER),
                             (IDENTITY, ISSUER + "/"), (IDENTITY, "https://accounts.google.com")):
        assert not _sigstore_accepts(json.loads(bundle), trust.trusted_root, identity, issuer)
        with pytest.raises(am.ManifestKeyMismatchError):
            am.verify_sigstore(bundle, root_json, identity=identity, oidc_issuer=issuer)


# ------------------------------------------------------------- tampering


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _entry(b: Dict[str, Any]) -> Dict[str, Any]:
    return b["verificationMaterial"]["tlogEntries"][0]


def _body_edit(b: Dict[str, Any]) -> None:
    e = _entry(b)
    body = json.loads(base64.b64decode(e["canonicalizedBody"]))
    body["spec"]["envelopeHash"]["value"] = "0" * 64
    e["canonicalizedBody"] = _b64(json.dumps(body, separators=(",", ":")).encode())


def _flip_b64(s: str, at: int = 5) -> str:
    raw = bytearray(base64.b64decode(s))
    raw[at % len(raw)] ^= 1
    return _b64(bytes(raw))


def _set_flip(b: Dict[str, Any]) -> None:
    p = _entry(b)["inclusionPromise"]
    p["signedEntryTimestamp"] = _flip_b64(p["signedEntryTimestamp"], 20)


def _time_plus_one(b: Dict[str, Any]) -> None:
    e = _entry(b)
    e["integratedTime"] = str(int(e["integratedTime"]) + 1)


def _index_plus_one(b: Dict[str, Any]) -> None:
    e = _entry(b)
    e["logIndex"] = str(int(e["logIndex"]) + 1)


def _proof_hash_flip(b: Dict[str, Any]) -> None:
    p = _entry(b)["inclusionProof"]
    p["hashes"][0] = _flip_b64(p["hashes"][0])


def _proof_index(b: Dict[str, Any]) -> None:
    p = _entry(b)["inclusionProof"]
    p["logIndex"] = str(int(p["logIndex"]) + 1)


def _checkpoint_sig(b: Dict[str, Any]) -> None:
    cp = _entry(b)["inclusionProof"]["checkpoint"]
    head, sep, sigline = cp["envelope"].rpartition(" ")
    cp["envelope"] = head + sep + _flip_b64(sigline.strip(), 40) + "\n"


def _checkpoint_root(b: Dict[str, Any]) -> None:
    p = _entry(b)["inclusionProof"]
    lines = p["checkpoint"]["envelope"].split("\n")
    lines[2] = _flip_b64(lines[2])
    p["checkpoint"]["envelope"] = "\n".join(lines)


def _dsse_sig(b: Dict[str, Any]) -> None:
    s = b["dsseEnvelope"]["signatures"][0]
    s["sig"] = _flip_b64(s["sig"], 30)


def _payload(b: Dict[str, Any]) -> None:
    env = b["dsseEnvelope"]
    stmt = json.loads(base64.b64decode(env["payload"]))
    stmt["predicate"]["extra"] = 1
    env["payload"] = _b64(json.dumps(stmt).encode())


def _other_cert(b: Dict[str, Any]) -> None:
    other = json.loads((FOLDERS[0] / "model.sig").read_text())
    b["verificationMaterial"]["certificate"] = other["verificationMaterial"]["certificate"]


def _kind(b: Dict[str, Any]) -> None:
    _entry(b)["kindVersion"]["kind"] = "intoto"


def _log_id(b: Dict[str, Any]) -> None:
    e = _entry(b)
    e["logId"]["keyId"] = _flip_b64(e["logId"]["keyId"], 0)


CASES: Dict[str, Callable[[Dict[str, Any]], None]] = {
    "rekor body": _body_edit,
    "signed entry timestamp": _set_flip,
    "integrated time": _time_plus_one,
    "log index": _index_plus_one,
    "inclusion proof hash": _proof_hash_flip,
    "inclusion proof index": _proof_index,
    "checkpoint signature": _checkpoint_sig,
    "checkpoint root hash": _checkpoint_root,
    "dsse signature": _dsse_sig,
    "payload": _payload,
    "another certificate": _other_cert,
    "entry kind": _kind,
    "log id": _log_id,
}

ERRORS: Dict[str, Type[Exception]] = {
    "entry kind": aios.AiosError,  # AIOS_E_UNSUPPORTED
    "payload": aios.AiosError,  # the statement or the signature, whichever fails first
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tampered_bundle_is_refused_by_both(case: str, root_json: bytes, trust: Any) -> None:
    b = json.loads((FOLDERS[-1] / "model.sig").read_text())
    CASES[case](b)
    assert not _sigstore_accepts(b, trust.trusted_root), f"sigstore-python accepted: {case}"
    with pytest.raises(ERRORS.get(case, aios.AuthenticationError)):
        am.verify_sigstore(json.dumps(b).encode(), root_json, identity=IDENTITY, oidc_issuer=ISSUER)


def test_without_inclusion_proof_both_refuse(root_json: bytes, trust: Any) -> None:
    """A v0.3 bundle must carry its inclusion proof and checkpoint: the
    signed timestamp alone is the log's promise, not its proof."""
    b = json.loads((FOLDERS[-1] / "model.sig").read_text())
    del _entry(b)["inclusionProof"]
    assert not _sigstore_accepts(b, trust.trusted_root)
    with pytest.raises(aios.InvalidInputError):
        am.verify_sigstore(json.dumps(b).encode(), root_json, identity=IDENTITY, oidc_issuer=ISSUER)


def _root_edit(root_json: bytes, fn: Callable[[Dict[str, Any]], None]) -> bytes:
    r = json.loads(root_json)
    fn(r)
    return json.dumps(r).encode()


def test_trusted_root_edits(root_json: bytes) -> None:
    bundle = (FOLDERS[-1] / "model.sig").read_bytes()

    def no_rekor(r: Dict[str, Any]) -> None:
        r["tlogs"] = [t for t in r["tlogs"] if t["baseUrl"] != "https://rekor.sigstore.dev"]

    def cas_expired(r: Dict[str, Any]) -> None:
        for ca in r["certificateAuthorities"]:
            ca["validFor"]["end"] = "2024-01-01T00:00:00Z"

    def log_not_yet(r: Dict[str, Any]) -> None:
        for t in r["tlogs"]:
            t["publicKey"]["validFor"]["start"] = "2030-01-01T00:00:00Z"

    def other_log_key(r: Dict[str, Any]) -> None:
        for t in r["tlogs"]:
            if t["baseUrl"] == "https://rekor.sigstore.dev":
                t["publicKey"]["rawBytes"] = _flip_b64(t["publicKey"]["rawBytes"], 40)

    def no_ctlogs(r: Dict[str, Any]) -> None:
        r["ctlogs"] = []

    def ct_key_changed(r: Dict[str, Any]) -> None:
        for t in r["ctlogs"]:
            t["publicKey"]["rawBytes"] = _flip_b64(t["publicKey"]["rawBytes"], 40)

    for fn in (no_ctlogs, ct_key_changed):
        with pytest.raises(aios.AuthenticationError, match="certificate timestamp"):
            am.verify_sigstore(bundle, _root_edit(root_json, fn), identity=IDENTITY, oidc_issuer=ISSUER)
    expect: Dict[str, Optional[Type[Exception]]] = {}
    for name, fn, err in (("no rekor log", no_rekor, aios.AuthenticationError),
                          ("CAs expired", cas_expired, am.ManifestChainError),
                          ("log key not yet valid", log_not_yet, aios.AuthenticationError),
                          ("another log key", other_log_key, aios.AiosError)):
        expect[name] = err
        with pytest.raises(err):
            am.verify_sigstore(bundle, _root_edit(root_json, fn), identity=IDENTITY, oidc_issuer=ISSUER)
    for bad in (b"", b"{}", b"[]", b"not json", copy.deepcopy(root_json)[:100]):
        with pytest.raises((aios.InvalidInputError, ValueError)):
            am.verify_sigstore(bundle, bad, identity=IDENTITY, oidc_issuer=ISSUER)


def test_key_bundles_are_not_keyless(root_json: bytes) -> None:
    bundle = (VECTORS / "v1.1.0-elliptic-key" / "model.sig").read_bytes()
    with pytest.raises(am.ManifestMethodError):
        am.verify_sigstore(bundle, root_json, identity=IDENTITY, oidc_issuer=ISSUER)


def test_cli_verifies_keyless(tmp_path: Path) -> None:
    """`aios manifest verify --sigstore-root ROOT --identity ID --oidc-issuer URL`."""
    import os
    import subprocess

    lib = Path(os.environ["AIOS_LIBRARY"]).resolve()
    aios_bin = lib.parents[1] / "bin" / "aios"   # the staged install beside the library
    assert aios_bin.exists(), aios_bin
    env = dict(os.environ, LD_LIBRARY_PATH=str(lib.parent))
    model = tmp_path / "m"
    shutil.copytree(FOLDERS[-1], model)
    base = [str(aios_bin), "manifest", "verify", str(model), "--sigstore-root", str(ROOT_FILE),
            "--quiet", "--json"]
    ok = subprocess.run(base + ["--identity", IDENTITY, "--oidc-issuer", ISSUER],
                        capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["ok"] and out["signer"]["identity"] == IDENTITY
    # the text form names the keyless signer and when the log saw it
    text = subprocess.run(base[:-2] + ["--identity", IDENTITY, "--oidc-issuer", ISSUER],
                          capture_output=True, text=True, env=env)
    assert text.returncode == 0, text.stderr
    assert ("signer: keyless %s (issuer %s), Rekor index %d, logged at %d"
            % (IDENTITY, ISSUER, out["signer"]["log_index"], out["signer"]["integrated_time"])) in text.stdout
    other = subprocess.run(base + ["--identity", "someone@example.com", "--oidc-issuer", ISSUER],
                           capture_output=True, text=True, env=env)
    assert other.returncode == 4 and "not the expected identity" in other.stdout
    (model / "signme-2").write_bytes(b"changed")
    changed = subprocess.run(base + ["--identity", IDENTITY, "--oidc-issuer", ISSUER],
                             capture_output=True, text=True, env=env)
    assert changed.returncode == 4
    assert json.loads(changed.stdout)["diff"]["modified"][0]["path"] == "signme-2"


# ---- a client trust config: the file `model_signing verify sigstore
# --trust_config` takes (a trusted root and a signing config in one)

CTC_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"


def _client_trust_config(root: Dict[str, Any]) -> Dict[str, Any]:
    signing = json.loads((ROOT_FILE.parent / "signing_config.v0.2.json").read_text())
    return {"mediaType": CTC_MEDIA_TYPE, "trustedRoot": root, "signingConfig": signing}


def test_client_trust_config(root_json: bytes) -> None:
    """A ClientTrustConfig verifies like the trusted root it holds, in both
    verifiers; a broken one is refused with a format error."""
    cfg = _client_trust_config(json.loads(root_json))
    text = json.dumps(cfg)
    # sigstore-python reads it as model_signing does (ClientTrustConfig.from_json)
    theirs = ClientTrustConfig.from_json(text)
    bundle = (FOLDERS[-1] / "model.sig").read_bytes()
    assert _sigstore_accepts(json.loads(bundle), theirs.trusted_root)
    m = am.verify_sigstore(bundle, text, identity=IDENTITY, oidc_issuer=ISSUER)
    assert m.verified and m.signer["identity"] == IDENTITY and "timestamp" in m.signer
    # the trust comes from its trusted root: without the Fulcio CAs, nothing verifies
    no_ca = copy.deepcopy(cfg)
    no_ca["trustedRoot"]["certificateAuthorities"] = no_ca["trustedRoot"]["certificateAuthorities"][:0]
    with pytest.raises(aios.InvalidInputError) as e:
        am.verify_sigstore(bundle, json.dumps(no_ca), identity=IDENTITY, oidc_issuer=ISSUER)
    assert e.value.status == aios.Status.E_FORMAT
    other_ca = copy.deepcopy(cfg)
    for ca in other_ca["trustedRoot"]["certificateAuthorities"]:
        ca["certChain"]["certificates"] = (
            json.loads(root_json)["timestampAuthorities"][0]["certChain"]["certificates"])
    with pytest.raises(am.ManifestChainError):
        am.verify_sigstore(bundle, json.dumps(other_ca), identity=IDENTITY, oidc_issuer=ISSUER)
    for edit in ("no trustedRoot", "trustedRoot not an object", "its mediaType",
                 "unknown mediaType"):
        bad = copy.deepcopy(cfg)
        if edit == "no trustedRoot":
            del bad["trustedRoot"]
        elif edit == "trustedRoot not an object":
            bad["trustedRoot"] = [bad["trustedRoot"]]
        elif edit == "its mediaType":
            bad["trustedRoot"]["mediaType"] = CTC_MEDIA_TYPE
        else:
            bad["mediaType"] = CTC_MEDIA_TYPE.replace("v0.1", "v9.9")
        with pytest.raises(aios.InvalidInputError) as e:
            am.verify_sigstore(bundle, json.dumps(bad), identity=IDENTITY, oidc_issuer=ISSUER)
        assert e.value.status == aios.Status.E_FORMAT, edit


def test_model_signing_cli_and_aios_cli_share_a_trust_config(root_json: bytes,
                                                             tmp_path: Path) -> None:
    """The real `model_signing verify sigstore --trust_config F` and
    `aios manifest verify --trust-config F`, offline, on the same golden
    model and file: both accept it, both refuse it once a file changed."""
    import os
    import subprocess
    import sys

    cfg = tmp_path / "trust_config.json"
    cfg.write_text(json.dumps(_client_trust_config(json.loads(root_json))))
    lib = Path(os.environ["AIOS_LIBRARY"]).resolve()
    aios_bin = lib.parents[1] / "bin" / "aios"
    env = dict(os.environ, LD_LIBRARY_PATH=str(lib.parent))
    model = tmp_path / "m"
    shutil.copytree(FOLDERS[-1], model)
    sig = model / "model.sig"
    ignore = ["--ignore-paths", str(model / "ignore-me")] if (model / "ignore-me").exists() else []

    def theirs() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "model_signing", "--log-level", "WARNING", "verify", "sigstore",
             "--signature", str(sig), "--trust_config", str(cfg), "--identity", IDENTITY,
             "--identity_provider", ISSUER, *ignore, str(model)],
            capture_output=True, text=True, env=env, timeout=300)

    def ours() -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(aios_bin), "manifest", "verify", str(model), "--trust-config", str(cfg),
             "--identity", IDENTITY, "--oidc-issuer", ISSUER, "--quiet", "--json"],
            capture_output=True, text=True, env=env, timeout=300)

    t, o = theirs(), ours()
    assert t.returncode == 0, t.stdout + t.stderr
    assert o.returncode == 0, o.stdout + o.stderr
    assert json.loads(o.stdout)["signer"]["identity"] == IDENTITY
    with open(model / "signme-1", "r+b") as f:
        f.write(b"X")
    t, o = theirs(), ours()
    assert t.returncode != 0 and "Hash mismatch for" in t.stderr and "signme-1" in t.stderr, t.stderr
    assert o.returncode == 4
    assert json.loads(o.stdout)["diff"]["modified"][0]["path"] == "signme-1"


def _stamps(b: Dict[str, Any]) -> list:
    return b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]


def _stamped_folder() -> Path:
    for f in FOLDERS:
        b = json.loads((f / "model.sig").read_text())
        if b["verificationMaterial"].get("timestampVerificationData", {}).get("rfc3161Timestamps"):
            return f
    raise AssertionError("no golden keyless bundle carries an RFC 3161 timestamp")


# Offsets into the real timestamp response (openssl asn1parse): 150 is in
# the TSTInfo's serial number, 170 a digit of its genTime, -5 and -40 in
# the authority's signature; 1, 5 and 11 are lengths and a tag.
@pytest.mark.parametrize("where", [150, 170, -5, -40])
def test_real_timestamp_tampered(where: int, root_json: bytes, trust: Any) -> None:
    """A real timestamp with one bit of its signed content or its signature
    changed: still well formed, it no longer verifies, so neither verifier
    counts it; the log's integrated time (Rekor v1) still stands, so both
    accept the bundle, and libaios names no timestamp."""
    b = json.loads((_stamped_folder() / "model.sig").read_text())
    raw = bytearray(base64.b64decode(_stamps(b)[0]["signedTimestamp"]))
    raw[where] ^= 0x01
    _stamps(b)[0]["signedTimestamp"] = _b64(bytes(raw))
    assert _sigstore_accepts(b, trust.trusted_root)
    m = am.verify_sigstore(json.dumps(b).encode(), root_json, identity=IDENTITY, oidc_issuer=ISSUER)
    assert "timestamp" not in m.signer and m.signer["integrated_time"] > 0


@pytest.mark.parametrize("where", [1, 5, 11])
def test_real_timestamp_malformed(where: int, root_json: bytes, trust: Any) -> None:
    """A real timestamp made malformed (a length, a tag): both refuse the
    bundle rather than skip what they cannot read."""
    b = json.loads((_stamped_folder() / "model.sig").read_text())
    raw = bytearray(base64.b64decode(_stamps(b)[0]["signedTimestamp"]))
    raw[where] ^= 0x01
    _stamps(b)[0]["signedTimestamp"] = _b64(bytes(raw))
    assert not _sigstore_accepts(b, trust.trusted_root)
    with pytest.raises(aios.InvalidInputError):
        am.verify_sigstore(json.dumps(b).encode(), root_json, identity=IDENTITY, oidc_issuer=ISSUER)


def test_real_timestamp_twice_or_without_authority(root_json: bytes, trust: Any) -> None:
    """The same timestamp twice, or a timestamp with a trusted root that has
    no timestamp authority: both verifiers refuse."""
    b = json.loads((_stamped_folder() / "model.sig").read_text())
    twice = json.loads(json.dumps(b))
    _stamps(twice).append(dict(_stamps(twice)[0]))
    assert not _sigstore_accepts(twice, trust.trusted_root)
    with pytest.raises(aios.InvalidInputError):
        am.verify_sigstore(json.dumps(twice).encode(), root_json, identity=IDENTITY,
                           oidc_issuer=ISSUER)
    root = json.loads(root_json)
    del root["timestampAuthorities"]
    with pytest.raises(aios.AuthenticationError):
        am.verify_sigstore(json.dumps(b).encode(), json.dumps(root).encode(), identity=IDENTITY,
                           oidc_issuer=ISSUER)
