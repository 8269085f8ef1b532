"""Sigstore keyless verification against a Sigstore made up here: a log
key, a Fulcio-like CA and leaves of our own, Rekor entries, inclusion
proofs and checkpoints built and signed by this test.  It reaches what
the golden bundles cannot: other identities (URI SubjectAltName, the
deprecated issuer extension), leaves that break Sigstore's rules, times
outside the certificate, larger trees, and checkpoints with several
signatures.  sigstore-python is not asked here (it also wants SCTs,
which these leaves lack); tests/interop/test_oms_sigstore.py holds both
verifiers to the same verdicts on real bundles.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

import aios
from aios import manifest as am

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "oms" / "model-transparency"
ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
SCT_LIST = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
EMAIL = "alice@example.com"
OIDC = "https://issuer.example"
T0 = 1_760_000_000  # the leaf's notBefore (2025-10-09)


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def der_utf8(s: str) -> bytes:
    v = s.encode()
    assert len(v) < 128
    return bytes([0x0C, len(v)]) + v


def der_octets(v: bytes) -> bytes:
    n = len(v)
    if n < 128:
        return bytes([0x04, n]) + v
    if n < 256:
        return bytes([0x04, 0x81, n]) + v
    return bytes([0x04, 0x82, n >> 8, n & 255]) + v


def canon(o: Any) -> bytes:
    return json.dumps(o, sort_keys=True, separators=(",", ":")).encode()


class Sigstore:
    """A log key and a CA; issues leaves and writes bundles."""

    def __init__(self) -> None:
        self.log_key = ec.generate_private_key(ec.SECP256R1())
        self.log_spki = self.log_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.log_id = hashlib.sha256(self.log_spki).digest()
        self.ct_key = ec.generate_private_key(ec.SECP256R1())
        self.ct_spki = self.ct_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.ct_id = hashlib.sha256(self.ct_spki).digest()
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "virtual-fulcio")])
        self.ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(self.ca_key.public_key()).serial_number(1)
                   .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))
                   .not_valid_after(datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                  critical=True)
                   .sign(self.ca_key, hashes.SHA256()))
        self.payload = base64.b64decode(
            json.loads((VECTORS / "v1.1.0-sigstore" / "model.sig").read_text())["dsseEnvelope"]["payload"])

    def root(self, ca_start: str = "2020-01-01T00:00:00Z", ca_end: Optional[str] = None,
             ct_start: str = "2020-01-01T00:00:00Z", ctlogs: bool = True) -> bytes:
        vf: Dict[str, str] = {"start": ca_start}
        if ca_end:
            vf["end"] = ca_end
        return json.dumps({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{"baseUrl": "https://log.example", "hashAlgorithm": "SHA2_256",
                       "publicKey": {"rawBytes": b64(self.log_spki), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                                     "validFor": {"start": "2020-01-01T00:00:00Z"}},
                       "logId": {"keyId": b64(self.log_id)}}],
            "ctlogs": [{"baseUrl": "https://ct.example", "hashAlgorithm": "SHA2_256",
                        "publicKey": {"rawBytes": b64(self.ct_spki), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                                      "validFor": {"start": ct_start}},
                        "logId": {"keyId": b64(self.ct_id)}}] if ctlogs else [],
            "certificateAuthorities": [{"subject": {"commonName": "virtual-fulcio"},
                                        "certChain": {"certificates": [{"rawBytes": b64(
                                            self.ca.public_bytes(serialization.Encoding.DER))}]},
                                        "validFor": vf}],
        }).encode()

    def leaf(self, *, san: x509.GeneralName = x509.RFC822Name(EMAIL), v2: Optional[str] = OIDC,
             v1: Optional[str] = None, ca: bool = False, eku: Any = ExtendedKeyUsageOID.CODE_SIGNING,
             life: int = 600, sct: bool = True, sct_key: Any = None, curve: Any = None,
             aki: bool = False, public_key: Any = None, t0: int = T0,
             ku: bool = True) -> Tuple[Any, x509.Certificate]:
        """A Fulcio-like leaf, valid from ``t0`` for ``life`` seconds;
        ``aki`` adds the AuthorityKeyIdentifier that sigstore-python's
        webpki chain check requires.  With ``public_key`` (a CSR's, as
        Fulcio gets it) the leaf is for that key and no private key is
        returned.  ``eku``: one usage or a list; ``ku``: False leaves the
        KeyUsage extension out."""
        key = None if public_key is not None else ec.generate_private_key(curve or ec.SECP256R1())
        b = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(self.ca.subject)
             .public_key(public_key or key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(datetime.datetime.fromtimestamp(t0, datetime.timezone.utc))
             .not_valid_after(datetime.datetime.fromtimestamp(t0 + life, datetime.timezone.utc))
             .add_extension(x509.SubjectAlternativeName([san]), critical=True))
        if ku:
            b = b.add_extension(x509.KeyUsage(True, False, False, False, False, ca, False, False, False),
                                critical=True)
        b = (b.add_extension(x509.ExtendedKeyUsage(list(eku) if isinstance(eku, (list, tuple)) else [eku]),
                             critical=False)
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if aki:
            b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                                critical=False)
        if v1 is not None:
            b = b.add_extension(x509.UnrecognizedExtension(ISSUER_V1, v1.encode()), critical=False)
        if v2 is not None:
            b = b.add_extension(x509.UnrecognizedExtension(ISSUER_V2, der_utf8(v2)), critical=False)
        if sct:  # an embedded SCT over the precertificate (this TBS, RFC 6962 3.2)
            tbs = b.sign(self.ca_key, hashes.SHA256()).tbs_certificate_bytes
            ikh = hashlib.sha256(self.ca.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).digest()
            ts = ((t0 + 1) * 1000).to_bytes(8, "big")
            signed = b"\x00\x00" + ts + b"\x00\x01" + ikh + len(tbs).to_bytes(3, "big") + tbs + b"\x00\x00"
            sig = (sct_key or self.ct_key).sign(signed, ec.ECDSA(hashes.SHA256()))
            one = b"\x00" + self.ct_id + ts + b"\x00\x00" + b"\x04\x03" + len(sig).to_bytes(2, "big") + sig
            lst = len(one).to_bytes(2, "big") + one
            b = b.add_extension(x509.UnrecognizedExtension(
                SCT_LIST, der_octets(len(lst).to_bytes(2, "big") + lst)), critical=False)
        return key, b.sign(self.ca_key, hashes.SHA256())

    def note(self, text: str, signers: List[Tuple[Any, bytes]]) -> str:
        lines = ""
        for key, kid in signers:
            sig = key.sign(text.encode(), ec.ECDSA(hashes.SHA256()))
            lines += "\u2014 log.example " + b64(kid[:4] + sig) + "\n"
        return text + "\n" + lines

    def bundle(self, key: Any, cert: x509.Certificate, *, itime: int = T0 + 5, tree: int = 1,
               index: int = 0, proof_edit: Any = None, cp_signers: Optional[List[Tuple[Any, bytes]]] = None
               ) -> bytes:
        pae = b"DSSEv1 28 application/vnd.in-toto+json %d %s" % (len(self.payload), self.payload)
        sig = key.sign(pae, ec.ECDSA(hashes.SHA256()))
        pem = cert.public_bytes(serialization.Encoding.PEM)
        body = canon({"apiVersion": "0.0.1", "kind": "dsse", "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": "0" * 64},
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(self.payload).hexdigest()},
            "signatures": [{"signature": b64(sig), "verifier": b64(pem)}]}})
        set_ = self.log_key.sign(canon({"body": b64(body), "integratedTime": itime,
                                        "logID": self.log_id.hex(), "logIndex": 7}),
                                 ec.ECDSA(hashes.SHA256()))
        # a tree of `tree` leaves, ours at `index`, the others made up
        leaves = [hashlib.sha256(b"\x00" + (body if i == index else b"other %d" % i)).digest()
                  for i in range(tree)]
        root, path = mth(leaves), audit_path(index, leaves)
        if proof_edit:
            path = proof_edit(path)
        text = "log.example - 42\n%d\n%s\n" % (tree, b64(root))
        cp = self.note(text, cp_signers if cp_signers is not None else [(self.log_key, self.log_id)])
        return json.dumps({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": b64(cert.public_bytes(serialization.Encoding.DER))},
                "tlogEntries": [{
                    "logIndex": "7", "logId": {"keyId": b64(self.log_id)},
                    "kindVersion": {"kind": "dsse", "version": "0.0.1"},
                    "integratedTime": str(itime),
                    "inclusionPromise": {"signedEntryTimestamp": b64(set_)},
                    "inclusionProof": {"logIndex": str(index), "rootHash": b64(root),
                                       "treeSize": str(tree), "hashes": [b64(h) for h in path],
                                       "checkpoint": {"envelope": cp}},
                    "canonicalizedBody": b64(body)}]},
            "dsseEnvelope": {"payload": b64(self.payload), "payloadType": "application/vnd.in-toto+json",
                             "signatures": [{"sig": b64(sig), "keyid": ""}]},
        }).encode()


def node(a: bytes, b: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + a + b).digest()


def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: List[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return node(mth(leaves[:k]), mth(leaves[k:]))


def audit_path(m: int, leaves: List[bytes]) -> List[bytes]:
    if len(leaves) == 1:
        return []
    k = split(len(leaves))
    if m < k:
        return audit_path(m, leaves[:k]) + [mth(leaves[k:])]
    return audit_path(m - k, leaves[k:]) + [mth(leaves[:k])]


@pytest.fixture(scope="module")
def vs() -> Sigstore:
    return Sigstore()


def verify(vs: Sigstore, bundle: bytes, identity: str = EMAIL, issuer: str = OIDC,
           root: Optional[bytes] = None) -> am.Manifest:
    return am.verify_sigstore(bundle, root or vs.root(), identity=identity, oidc_issuer=issuer)


def test_email_identity(vs: Sigstore) -> None:
    key, cert = vs.leaf()
    m = verify(vs, vs.bundle(key, cert))
    assert m.verified and m.signer["identity"] == EMAIL and m.signer["oidc_issuer"] == OIDC
    assert m.signer["integrated_time"] == T0 + 5 and m.signer["log_index"] == 7
    with pytest.raises(am.ManifestKeyMismatchError):
        verify(vs, vs.bundle(key, cert), identity="bob@example.com")
    with pytest.raises(am.ManifestKeyMismatchError):
        verify(vs, vs.bundle(key, cert), issuer=OIDC + "/")


def test_uri_identity(vs: Sigstore) -> None:
    uri = "https://github.com/org/repo/.github/workflows/sign.yml@refs/heads/main"
    key, cert = vs.leaf(san=x509.UniformResourceIdentifier(uri))
    assert verify(vs, vs.bundle(key, cert), identity=uri).signer["identity"] == uri
    # a workflow URI past 255 bytes (a 39-byte owner, a 100-byte repository,
    # a long branch): taken whole, reported whole
    uri = ("https://github.com/" + "o" * 39 + "/" + "r" * 100 +
           "/.github/workflows/release.yml@refs/heads/" + "b" * 600)
    key, cert = vs.leaf(san=x509.UniformResourceIdentifier(uri))
    assert verify(vs, vs.bundle(key, cert), identity=uri).signer["identity"] == uri
    with pytest.raises(am.ManifestKeyMismatchError):
        verify(vs, vs.bundle(key, cert), identity=uri[:-1])


def test_issuer_extensions(vs: Sigstore) -> None:
    key, cert = vs.leaf(v2=None, v1=OIDC)  # only the deprecated one
    verify(vs, vs.bundle(key, cert))
    key, cert = vs.leaf(v1=OIDC)  # both, equal
    verify(vs, vs.bundle(key, cert))
    key, cert = vs.leaf(v1="https://other.example")  # both, different
    with pytest.raises(aios.InvalidInputError):
        verify(vs, vs.bundle(key, cert))
    key, cert = vs.leaf(v2=None)  # none
    with pytest.raises(am.ManifestKeyMismatchError):
        verify(vs, vs.bundle(key, cert))


def test_leaf_rules(vs: Sigstore) -> None:
    key, cert = vs.leaf(ca=True)
    with pytest.raises(am.ManifestCertUsageError):
        verify(vs, vs.bundle(key, cert))
    key, cert = vs.leaf(eku=ExtendedKeyUsageOID.SERVER_AUTH)
    with pytest.raises(am.ManifestCertUsageError):
        verify(vs, vs.bundle(key, cert))
    # both extensions, by name (mbedTLS alone passes an absent KeyUsage
    # and takes anyExtendedKeyUsage for code signing)
    any_eku = x509.ObjectIdentifier("2.5.29.37.0")
    for kw in (dict(ku=False), dict(eku=[any_eku]), dict(eku=[ExtendedKeyUsageOID.SERVER_AUTH, any_eku])):
        key, cert = vs.leaf(**kw)  # type: ignore[arg-type]
        with pytest.raises(am.ManifestCertUsageError):
            verify(vs, vs.bundle(key, cert))
    key, cert = vs.leaf(eku=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CODE_SIGNING])
    verify(vs, vs.bundle(key, cert))


def test_times(vs: Sigstore) -> None:
    key, cert = vs.leaf(life=600)
    verify(vs, vs.bundle(key, cert, itime=T0 + 600))  # the last second
    with pytest.raises(am.ManifestChainError):  # logged after the certificate expired
        verify(vs, vs.bundle(key, cert, itime=T0 + 601))
    with pytest.raises(am.ManifestChainError):  # before it
        verify(vs, vs.bundle(key, cert, itime=T0 - 1))
    with pytest.raises(am.ManifestChainError):  # the CA not yet valid in the root
        verify(vs, vs.bundle(key, cert), root=vs.root(ca_start="2025-10-10T00:00:00Z"))
    with pytest.raises(am.ManifestChainError):  # its validity over (an end at the epoch too)
        verify(vs, vs.bundle(key, cert), root=vs.root(ca_end="1970-01-01T00:00:00Z"))
    with pytest.raises(aios.InvalidInputError):
        verify(vs, vs.bundle(key, cert), root=vs.root(ca_end="2025-02-30T00:00:00Z"))


@pytest.mark.parametrize("tree", [1, 2, 3, 5, 8, 13])
def test_larger_trees(vs: Sigstore, tree: int) -> None:
    key, cert = vs.leaf()
    for index in sorted({0, tree // 2, tree - 1}):
        verify(vs, vs.bundle(key, cert, tree=tree, index=index))
        if tree > 1:
            with pytest.raises(aios.AuthenticationError):  # a hash changed
                verify(vs, vs.bundle(key, cert, tree=tree, index=index,
                                     proof_edit=lambda p: [bytes(32)] + p[1:]))
            with pytest.raises(aios.AuthenticationError):  # one hash too few
                verify(vs, vs.bundle(key, cert, tree=tree, index=index, proof_edit=lambda p: p[:-1]))
        with pytest.raises(aios.AuthenticationError):  # one too many
            verify(vs, vs.bundle(key, cert, tree=tree, index=index, proof_edit=lambda p: p + [bytes(32)]))


def test_checkpoint_signatures(vs: Sigstore) -> None:
    key, cert = vs.leaf()
    other = ec.generate_private_key(ec.SECP256R1())
    # another log's signature first, then ours: accepted
    verify(vs, vs.bundle(key, cert, cp_signers=[(other, b"\x01\x02\x03\x04" + bytes(28)),
                                                (vs.log_key, vs.log_id)]))
    # our key hint on another key's signature; another hint on ours; none
    for signers in ([(other, vs.log_id)], [(vs.log_key, bytes(32))], []):
        with pytest.raises(aios.AuthenticationError):
            verify(vs, vs.bundle(key, cert, cp_signers=signers))


def test_certificate_transparency(vs: Sigstore) -> None:
    key, cert = vs.leaf()
    verify(vs, vs.bundle(key, cert))
    for name, leaf, root in (
            ("no SCT", vs.leaf(sct=False), None),
            ("an SCT by another key", vs.leaf(sct_key=ec.generate_private_key(ec.SECP256R1())), None),
            ("no CT log in the root", (key, cert), vs.root(ctlogs=False)),
            ("the CT log not yet valid", (key, cert), vs.root(ct_start="2026-01-01T00:00:00Z"))):
        with pytest.raises(aios.AuthenticationError, match="certificate timestamp"):
            verify(vs, vs.bundle(*leaf), root=root)
