"""Interoperability of libaios' manifest module with the real OpenSSF
``model_signing`` tool (PyPI ``model-signing`` 1.1.1), both ways.

Runs in the venv scripts/test makes (build/venv-oms: model-signing,
pyopenssl, pytest and the aios binding), with AIOS_LIBRARY naming the
built library.  The tool is run as its CLI (``python -m model_signing``)
unless the CLI cannot express the case (shards: see
test_shards_libaios_to_model_signing).

The model has nested folders, an empty file, a file over 64 MiB and
names with spaces and non-ASCII characters.  Cases:

1. signed by libaios (ECDSA P-256, P-384 and P-521 keys) -> ``model_signing verify key``;
2. signed by ``model_signing sign key`` -> libaios verify_key + verify_dir;
3. the certificate method both ways, over a CA -> intermediate -> leaf
   chain made here with ``cryptography`` (and a P-521 CA -> leaf, both ways);
4. a modified, an added and a removed file fail on both sides (libaios:
   ManifestMismatchError with the right diff; model_signing: exit 1);
5. shards: a libaios shard manifest verifies in model_signing through its
   Python API (its CLI always hashes per file, so it must refuse it).
"""

from __future__ import annotations

import datetime
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import pytest

import aios
from aios import manifest as am

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import model_signing

CAFE = "w\u00e9ights/part 2 \u00fcber caf\u00e9.bin"  # non-ASCII and spaces, in a folder
BIG_NAME = "weights/shard 00001.safetensors"
BIG_SIZE = (64 << 20) + 12345  # over 64 MiB


def test_tool_version() -> None:
    assert model_signing.__version__ == "1.1.1"


# ------------------------------------------------------------- fixtures


def _write_model(root: Path) -> Path:
    (root / "weights").mkdir(parents=True)
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "w\u00e9ights").mkdir()
    (root / "config.json").write_text('{"layers": 2, "hidden": 4096}\n')
    (root / "tokenizer file.txt").write_text("tokens \u2603\n")
    (root / "a" / "b" / "c" / "deep.txt").write_text("deep\n")
    (root / "empty").write_bytes(b"")
    (root / CAFE).write_bytes(b"second part\n" * 100)
    block = hashlib.sha256(b"aios").digest() * (1 << 15)  # 1 MiB of pattern
    with open(root / BIG_NAME, "wb") as f:
        for i in range(BIG_SIZE // len(block)):
            f.write(bytes([i & 0xFF]) + block[1:])
        f.write(block[: BIG_SIZE % len(block)])
    return root


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_model(tmp_path_factory.mktemp("pristine") / "my model")


@pytest.fixture
def model(pristine: Path, tmp_path: Path) -> Path:
    """A fresh copy of the model for one test (the tests change files)."""
    dst = tmp_path / "my model"
    shutil.copytree(pristine, dst)
    return dst


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[aios.Keyring]:
    d = tmp_path_factory.mktemp("keys")
    kr = aios.Keyring.create(d / "keys.akr", master_key=bytearray(os.urandom(32)))
    yield kr
    kr.close()


def _run_tool(*args: Any) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "model_signing", "--log-level", "WARNING", *[str(a) for a in args]],
        capture_output=True, text=True, timeout=300,
    )


def _ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"model_signing failed:\n{result.stdout}\n{result.stderr}"


def _fails(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0, f"model_signing accepted it:\n{result.stdout}\n{result.stderr}"
    for w in words:
        assert w in result.stderr, result.stderr


# ------------------------------------------------------------- changes (case 4)

#: The three changes of case 4 and what libaios' diff must say for each.
CHANGES = ["modify", "add", "remove"]


def _change(model: Path, what: str) -> Tuple[am.Change, str]:
    if what == "modify":
        with open(model / BIG_NAME, "r+b") as f:
            f.seek(BIG_SIZE - 1)
            f.write(b"\x00" if f.read(1) != b"\x00" else b"\x01")
        return am.Change.MODIFIED, BIG_NAME
    if what == "add":
        (model / "a" / "b" / "new file \u00e9.txt").write_text("not signed")
        return am.Change.EXTRA, "a/b/new file \u00e9.txt"
    (model / CAFE).unlink()
    return am.Change.MISSING, CAFE


def _libaios_rejects(m: am.Manifest, model: Path, kind: am.Change, path: str) -> None:
    with pytest.raises(am.ManifestMismatchError) as info:
        m.verify_dir(model)
    assert [(i.kind, i.path) for i in info.value.diff] == [(kind, path)]


# ------------------------------------------------------------- 1. libaios -> model_signing (key)


@pytest.mark.parametrize("curve", ["ecdsa-p256", "ecdsa-p384", "ecdsa-p521"], ids=["p256", "p384", "p521"])
def test_key_libaios_to_model_signing(curve: str, model: Path, keyring: aios.Keyring, tmp_path: Path) -> None:
    key = keyring.add(f"signer-{curve}", curve)
    pub = tmp_path / "pub.pem"
    pub.write_text(key.public_pem())
    sig = tmp_path / "model.sig"
    bundle, signed = am.sign(model, key, bundle_path=sig)
    signed.close()
    assert sig.read_bytes() == bundle
    assert key.type.token == curve
    _ok(_run_tool("verify", "key", model, "--signature", sig, "--public_key", pub))
    # the same bundle written inside the model (recorded in its ignore paths)
    inside = model / "model.sig"
    am.sign(model, key, bundle_path=inside)[1].close()
    _ok(_run_tool("verify", "key", model, "--signature", inside, "--public_key", pub))
    inside.unlink()
    # another key: refused
    other = tmp_path / "other.pem"
    other.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    _fails(_run_tool("verify", "key", model, "--signature", sig, "--public_key", other))
    key.close()


# ------------------------------------------------------------- 2. model_signing -> libaios (key)


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()], ids=["p256", "p384", "p521"])
def test_key_model_signing_to_libaios(curve: ec.EllipticCurve, model: Path, tmp_path: Path) -> None:
    priv = ec.generate_private_key(curve)
    priv_pem = tmp_path / "key.pem"
    priv_pem.write_bytes(priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    pub_pem = priv.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    sig = tmp_path / "model.sig"
    _ok(_run_tool("sign", "key", model, "--signature", sig, "--private_key", priv_pem))
    with aios.Key.from_public_pem(pub_pem) as pub, am.verify_key(am.read_bundle(sig), pub) as m:
        assert m.verified and m.method is am.Method.FILES
        assert m.subject_name == "my model"
        names = {r.name for r in m.resources}
        assert {BIG_NAME, CAFE, "empty", "a/b/c/deep.txt", "tokenizer file.txt"} <= names
        assert m.verify_dir(model).ok
        # the same model hashed by libaios: the same identity
        with am.hash(model) as h:
            assert h.root_digest == m.root_digest
            assert h.resources == m.resources
        # and the tool's own bundle inside the model
        inside = model / "model.sig"
        _ok(_run_tool("sign", "key", model, "--signature", inside, "--private_key", priv_pem))
        with am.verify_key(am.read_bundle(inside), pub) as m2:
            assert m2.verify_dir(model, bundle_path=inside).ok
        inside.unlink()


# ------------------------------------------------------------- 4. changes fail on both sides


@pytest.mark.parametrize("what", CHANGES)
def test_changes_fail_both_sides(what: str, model: Path, keyring: aios.Keyring, tmp_path: Path) -> None:
    # signed by libaios: model_signing must refuse the changed model
    key = keyring.add(f"change-{what}", "ecdsa-p256")
    pub = tmp_path / "pub.pem"
    pub.write_text(key.public_pem())
    ours = tmp_path / "ours.sig"
    bundle, signed = am.sign(model, key, bundle_path=ours)
    signed.close()
    # signed by model_signing: libaios must refuse it
    priv = ec.generate_private_key(ec.SECP256R1())
    priv_pem = tmp_path / "key.pem"
    priv_pem.write_bytes(priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    theirs = tmp_path / "theirs.sig"
    _ok(_run_tool("sign", "key", model, "--signature", theirs, "--private_key", priv_pem))
    with aios.Key.from_public_pem(priv.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)) as their_pub:
        m_theirs = am.verify_key(am.read_bundle(theirs), their_pub)
    m_ours = am.verify_key(bundle, key)

    kind, path = _change(model, what)
    _fails(_run_tool("verify", "key", model, "--signature", ours, "--public_key", pub), "Signature mismatch")
    _libaios_rejects(m_theirs, model, kind, path)
    _libaios_rejects(m_ours, model, kind, path)
    m_theirs.close()
    m_ours.close()
    key.close()


# ------------------------------------------------------------- 3. certificates


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "libaios interop"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, issuer: str, public: Any, signer: Any, ca: bool, path_len: Any = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
         .public_key(public).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=30))
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False))
    if ca:
        b = (b.add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
             .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True))
    else:
        b = (b.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                          crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False))
    if isinstance(signer.curve, ec.SECP521R1):
        return b.sign(signer, hashes.SHA512())
    return b.sign(signer, hashes.SHA384() if isinstance(signer.curve, ec.SECP384R1) else hashes.SHA256())


class Pki:
    """CA (P-384) -> intermediate (P-256) -> leaf (P-256), as files and DER."""

    def __init__(self, d: Path) -> None:
        self.ca_key = ec.generate_private_key(ec.SECP384R1())
        self.int_key = ec.generate_private_key(ec.SECP256R1())
        self.leaf_key = ec.generate_private_key(ec.SECP256R1())
        self.ca = _cert("interop root CA", "interop root CA", self.ca_key.public_key(), self.ca_key, True, 1)
        self.int = _cert("interop intermediate", "interop root CA", self.int_key.public_key(), self.ca_key, True, 0)
        self.leaf = _cert("interop model signer", "interop intermediate", self.leaf_key.public_key(),
                          self.int_key, False)
        self.files: Dict[str, Path] = {}
        for name, cert in (("ca", self.ca), ("int", self.int), ("leaf", self.leaf)):
            p = d / f"{name}.pem"
            p.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            self.files[name] = p
        self.leaf_key_pem = self.leaf_key.private_bytes(serialization.Encoding.PEM,
                                                        serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption())
        p = d / "leaf-key.pem"
        p.write_bytes(self.leaf_key_pem)
        self.files["leaf-key"] = p

    def der(self, name: str) -> bytes:
        cert: x509.Certificate = getattr(self, name)
        return cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


def test_certificate_model_signing_to_libaios(pki: Pki, model: Path, tmp_path: Path) -> None:
    sig = tmp_path / "model.sig"
    _ok(_run_tool("sign", "certificate", model, "--signature", sig, "--private_key", pki.files["leaf-key"],
                  "--signing_certificate", pki.files["leaf"], "--certificate_chain", pki.files["int"]))
    # the tool itself accepts it (sanity of the PKI made here)
    _ok(_run_tool("verify", "certificate", model, "--signature", sig, "--certificate_chain", pki.files["ca"]))
    bundle = am.read_bundle(sig)
    with am.verify_certificate(bundle, [pki.files["ca"].read_bytes()]) as m:
        assert m.verified
        signer = m.signer
        assert signer["method"] == "certificate" and "interop model signer" in signer["subject"]
        assert m.verify_dir(model).ok
        with am.verify_certificate(bundle, [pki.der("ca")], time_policy="now") as m_now:
            assert m_now.root_digest == m.root_digest
        kind, path = _change(model, "modify")
        _libaios_rejects(m, model, kind, path)
    # not our CA: refused
    other = ec.generate_private_key(ec.SECP256R1())
    other_ca = _cert("interop root CA", "interop root CA", other.public_key(), other, True, 1)
    with pytest.raises(am.ManifestChainError):
        am.verify_certificate(bundle, [other_ca.public_bytes(serialization.Encoding.DER)])
    # a certificate bundle is no key bundle
    with aios.Key.from_public_pem(pki.leaf_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)) as k:
        with pytest.raises(am.ManifestMethodError):
            am.verify_key(bundle, k)


def test_certificate_p521_model_signing_to_libaios(model: Path, tmp_path: Path) -> None:
    """A P-521 CA (ECDSA with SHA-512) and a P-521 leaf: model_signing signs,
    libaios verifies the chain and the signature (SHA-512, long-form DER)."""
    ca_key = ec.generate_private_key(ec.SECP521R1())
    leaf_key = ec.generate_private_key(ec.SECP521R1())
    ca = _cert("interop P-521 CA", "interop P-521 CA", ca_key.public_key(), ca_key, True, 0)
    leaf = _cert("interop P-521 signer", "interop P-521 CA", leaf_key.public_key(), ca_key, False)
    files = {}
    for name, data in (("ca", ca.public_bytes(serialization.Encoding.PEM)),
                       ("leaf", leaf.public_bytes(serialization.Encoding.PEM)),
                       ("leaf-key", leaf_key.private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))):
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_bytes(data)
    sig = tmp_path / "model.sig"
    _ok(_run_tool("sign", "certificate", model, "--signature", sig, "--private_key", files["leaf-key"],
                  "--signing_certificate", files["leaf"], "--certificate_chain", files["ca"]))
    _ok(_run_tool("verify", "certificate", model, "--signature", sig, "--certificate_chain", files["ca"]))
    bundle = am.read_bundle(sig)
    with am.verify_certificate(bundle, [files["ca"].read_bytes()]) as m:
        assert m.verified and "interop P-521 signer" in m.signer["subject"]
        assert m.verify_dir(model).ok
        kind, path = _change(model, "modify")
        _libaios_rejects(m, model, kind, path)
    # a certificate bundle is no key bundle; a public key alone may not sign
    with aios.Key.from_public_pem(leaf_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)) as k:
        assert k.type is aios.KeyType.ECDSA_P521
        with pytest.raises(am.ManifestMethodError):
            am.verify_key(bundle, k)
        with pytest.raises(aios.InvalidInputError):
            am.sign(model, k, bundle_path=tmp_path / "ours.sig")


def test_certificate_p521_libaios_to_model_signing(model: Path, keyring: aios.Keyring,
                                                   tmp_path: Path) -> None:
    """A P-521 leaf's key imported into a libaios keyring: libaios signs
    (ECDSA-SHA-512, certificate method), model_signing verifies the chain."""
    ca_key = ec.generate_private_key(ec.SECP521R1())
    leaf_key = ec.generate_private_key(ec.SECP521R1())
    ca = _cert("interop P-521 CA", "interop P-521 CA", ca_key.public_key(), ca_key, True, 0)
    leaf = _cert("interop P-521 signer", "interop P-521 CA", leaf_key.public_key(), ca_key, False)
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    key = keyring.import_key("interop-p521-leaf", "ecdsa-p521", leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    sig = tmp_path / "model.sig"
    bundle, signed = am.sign(model, key, chain=[leaf.public_bytes(serialization.Encoding.DER)],
                             bundle_path=sig)
    signed.close()
    _ok(_run_tool("verify", "certificate", model, "--signature", sig, "--certificate_chain", ca_pem))
    with am.verify_certificate(bundle, [ca_pem.read_bytes()]) as m:
        assert "interop P-521 signer" in m.signer["subject"]
        assert m.verify_dir(model).ok
    _change(model, "modify")
    _fails(_run_tool("verify", "certificate", model, "--signature", sig, "--certificate_chain", ca_pem),
           "Signature mismatch")
    key.close()


def test_certificate_libaios_to_model_signing(pki: Pki, model: Path, keyring: aios.Keyring,
                                              tmp_path: Path) -> None:
    # The leaf's private key, imported into libaios: the signing key is the certificate's.
    key = keyring.import_key("interop-leaf", "ecdsa-p256", pki.leaf_key_pem)
    sig = tmp_path / "model.sig"
    bundle, signed = am.sign(model, key, chain=[pki.der("leaf"), pki.der("int")], bundle_path=sig)
    signed.close()
    _ok(_run_tool("verify", "certificate", model, "--signature", sig, "--certificate_chain", pki.files["ca"]))
    with am.verify_certificate(bundle, [pki.files["ca"].read_bytes()]) as m:
        assert m.verify_dir(model).ok
    # a chain whose leaf holds another key: refused before signing
    other = keyring.add("interop-other", "ecdsa-p256")
    with pytest.raises(am.ManifestKeyMismatchError):
        am.sign(model, other, chain=[pki.der("leaf"), pki.der("int")])
    other.close()
    # trusting another root: the tool refuses
    other_ca_key = ec.generate_private_key(ec.SECP256R1())
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_bytes(_cert("interop root CA", "interop root CA", other_ca_key.public_key(), other_ca_key,
                               True, 1).public_bytes(serialization.Encoding.PEM))
    _fails(_run_tool("verify", "certificate", model, "--signature", sig, "--certificate_chain", other_ca))
    # the changed model: the tool refuses
    _change(model, "add")
    _fails(_run_tool("verify", "certificate", model, "--signature", sig, "--certificate_chain", pki.files["ca"]),
           "Signature mismatch")
    key.close()


# ------------------------------------------------------------- 5. shards


def test_shards_libaios_to_model_signing(model: Path, keyring: aios.Keyring, tmp_path: Path) -> None:
    """A libaios shard manifest in model_signing 1.1.1.

    Its CLI cannot verify one: ``verify key`` always passes a
    ``hashing.Config()`` (per-file serialization) to ``set_hashing_config``
    (``_cli.py``, ``_verify_private_key``), so the model is re-hashed per
    file and the manifests differ.  Its Python API guesses the hashing
    configuration from the signed manifest when none is set
    (``verifying.Config._guess_hashing_config``: method ``shards`` with the
    signed ``shard_size``), and that path accepts it.
    """
    from model_signing import verifying

    key = keyring.add("shards", "ecdsa-p384")
    pub = tmp_path / "pub.pem"
    pub.write_text(key.public_pem())
    sig = tmp_path / "model.sig"
    shard = 16 << 20
    bundle, signed = am.sign(model, key, method="shards", shard_size=shard, bundle_path=sig)
    with signed:
        big = [r for r in signed.resources if r.name.startswith(BIG_NAME + ":")]
        assert len(big) == 5 and big[-1].end == BIG_SIZE
        assert not any(r.name.startswith("empty") for r in signed.resources)
    # the CLI: a per-file re-hash, which cannot match a shard manifest
    _fails(_run_tool("verify", "key", model, "--signature", sig, "--public_key", pub), "Signature mismatch")
    # the Python API: accepted
    verifying.Config().use_elliptic_key_verifier(public_key=pub).verify(model, sig)
    # and refused once a byte changed
    _change(model, "modify")
    with pytest.raises(ValueError, match="Signature mismatch"):
        verifying.Config().use_elliptic_key_verifier(public_key=pub).verify(model, sig)
    with am.verify_key(bundle, key) as m:
        with pytest.raises(am.ManifestMismatchError) as info:
            m.verify_dir(model)
        modified = [i for i in info.value.diff if i.kind is am.Change.MODIFIED]
        assert modified == [am.DiffItem(am.Change.MODIFIED, BIG_NAME, 4 * shard)]
    key.close()


def test_shards_model_signing_to_libaios(model: Path, tmp_path: Path) -> None:
    """model_signing's own shard signing (Python API) verifies in libaios."""
    from model_signing import hashing, signing

    priv = ec.generate_private_key(ec.SECP256R1())
    priv_pem = tmp_path / "key.pem"
    priv_pem.write_bytes(priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    sig = tmp_path / "model.sig"
    (signing.Config().use_elliptic_key_signer(private_key=priv_pem)
     .set_hashing_config(hashing.Config().use_shard_serialization(shard_size=16 << 20))
     .sign(model, sig))
    with aios.Key.from_public_pem(priv.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)) as pub:
        with am.verify_key(am.read_bundle(sig), pub) as m:
            assert m.method is am.Method.SHARDS and m.shard_size == 16 << 20
            diff = m.verify_dir(model)
            assert diff.ok and diff.extra_empty == ["empty"]
            with am.hash(model, method="shards", shard_size=16 << 20) as h:
                assert h.root_digest == m.root_digest
            # a range in the last shard, through the verifier
            m.verify_range(model, BIG_NAME, BIG_SIZE - 10, 10)
