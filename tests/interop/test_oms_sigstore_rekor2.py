"""Sigstore keyless bundles of the Rekor v2 kind, made up here and held to
sigstore-python's verdicts.

Rekor v2 logs a DSSE envelope as a ``hashedrekord`` 0.0.2 entry: no
integrated time and no inclusion promise, only an inclusion proof under a
checkpoint signed (C2SP signed note) by the log's Ed25519 key.  The time
of signing comes from an RFC 3161 timestamp over the DSSE signature, which
a timestamp authority (TSA) of the trusted root must have issued.

:class:`Rekor2Sigstore` extends the virtual Sigstore of
``test_oms_sigstore_virtual`` (its Fulcio-like CA, CT log key, in-toto
payload and Merkle helpers) with an Ed25519 Rekor v2 log, TSAs, and an
RFC 3161 TimeStampResp encoder written here (a small DER writer).  Every
row of :data:`CASES` is a bundle and a trusted root with sigstore-python's
verdict (``Verifier.verify_dsse``, what ``model_signing verify sigstore``
runs); :func:`test_sigstore_python_verdict` proves the rows against it and
:func:`test_libaios_same_verdicts` holds libaios to the same verdicts.

The format, as sigstore-python 4.5.1 reads it:

* trusted root: the v2 log's key is ``PKIX_ED25519`` (rawBytes the SPKI
  DER) and its ``logId.keyId`` is the C2SP note key ID,
  SHA-256(origin || "\\n" || 0x01 || raw key), origin the URL's host, as in
  the staging root; a TSA is ``certChain`` [leaf, ..., root] and
  ``validFor``; ``subject`` needs both organization and commonName;
* the entry's leaf hash is SHA-256(0x00 || canonicalizedBody); the
  checkpoint's signature line is ``— <origin> b64(keyId[:4] || sig)``;
* the body must equal (as a model) the one rebuilt from the bundle:
  data = hash of the DSSE PAE with the hash named by the leaf's key
  (SHA2_256 for P-256, SHA2_384 for P-384), signature.content = the DSSE
  signature, signature.verifier = {x509Certificate: the leaf DER,
  keyDetails}; Rekor writes it with sorted keys, as :func:`canon` does;
* the timestamp's messageImprint hashes ``bundle.signature``: the raw
  (decoded) DSSE signature bytes;
* rfc3161-client: status granted; the SignedData verifies under the TSA
  chain at genTime (OpenSSL PKCS7_verify: the messageDigest attribute,
  the signature over the DER SET of signed attributes); the signer is
  found by the SignerInfo's issuer and serial and must be the root's TSA
  leaf; its EKU must be critical and name timeStamping; genTime must lie
  in the TSA's validFor [start, end) and in the leaf's validity.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import pytest

import aios
from aios import manifest as am

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from test_oms_sigstore_virtual import (
    EMAIL, ISSUER_V1, ISSUER_V2, OIDC, SCT_LIST, T0, Sigstore, audit_path, b64, canon, der_octets,
    der_utf8, mth)

from sigstore.models import Bundle, TrustedRoot
from sigstore.verify import Verifier, policy
from sigstore_models.trustroot import v1 as trustroot_v1

UTC = datetime.timezone.utc
PAYLOAD_TYPE = "application/vnd.in-toto+json"
ORIGIN = "log2026.rekor.example"
TSA_POLICY = "1.3.6.1.4.1.57264.2"  # the policy Sigstore's TSA names

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
OID_SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"
OID_SIGNING_CERT_V1 = "1.2.840.113549.1.9.16.2.12"
HASH_OIDS = {"sha256": "2.16.840.1.101.3.4.2.1", "sha384": "2.16.840.1.101.3.4.2.2",
             "sha512": "2.16.840.1.101.3.4.2.3"}
ECDSA_OIDS = {"sha256": "1.2.840.10045.4.3.2", "sha384": "1.2.840.10045.4.3.3",
              "sha512": "1.2.840.10045.4.3.4"}
RSA_OIDS = {"sha256": "1.2.840.113549.1.1.11", "sha384": "1.2.840.113549.1.1.12",
            "sha512": "1.2.840.113549.1.1.13"}
HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


def utc(t: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(t, UTC)


def rfc3339(t: int) -> str:
    return utc(t).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------ DER writer


def tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + content


def seq(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def set_of(*items: bytes) -> bytes:
    return tlv(0x31, b"".join(sorted(items)))  # DER: a SET OF's elements in order


def integer(v: int) -> bytes:
    assert v >= 0
    return tlv(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big"))


def oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray()
    for a in [arcs[0] * 40 + arcs[1]] + arcs[2:]:
        chunk = [a & 0x7F]
        a >>= 7
        while a:
            chunk.append(0x80 | (a & 0x7F))
            a >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))


def octets(v: bytes) -> bytes:
    return tlv(0x04, v)


def gentime(t: int) -> bytes:
    return tlv(0x18, utc(t).strftime("%Y%m%d%H%M%SZ").encode())


def utctime(t: int) -> bytes:
    return tlv(0x17, utc(t).strftime("%y%m%d%H%M%SZ").encode())


def explicit(n: int, content: bytes) -> bytes:
    return tlv(0xA0 | n, content)


def alg(dotted: str, null: bool = False) -> bytes:
    return seq(oid(dotted), b"\x05\x00" if null else b"")


# ------------------------------------------------------------ the TSA


class TSA:
    """A timestamp authority: a self-signed root and a leaf that stamps."""

    serial = 1000

    def __init__(self, *, name: str = "virtual-tsa", curve: Any = None, rsa_bits: int = 0,
                 eku: Optional[Sequence[x509.ObjectIdentifier]] = (ExtendedKeyUsageOID.TIME_STAMPING,),
                 eku_critical: bool = True, not_before: int = 1_735_689_600,  # 2025-01-01
                 not_after: int = 2_051_222_400) -> None:  # 2035-01-01
        curve = curve or ec.SECP384R1()
        self.root_key = ec.generate_private_key(ec.SECP384R1())
        rname = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "example"),
                           x509.NameAttribute(NameOID.COMMON_NAME, name + "-root")])
        self.root = (x509.CertificateBuilder().subject_name(rname).issuer_name(rname)
                     .public_key(self.root_key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(utc(1_704_067_200))
                     .not_valid_after(utc(max(2_082_758_400, not_after)))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                                  False), critical=True)
                     .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.root_key.public_key()),
                                    critical=False)
                     .sign(self.root_key, hashes.SHA384()))
        # rsa_bits: an RSA authority key (as many public TSAs have)
        self.key = (rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits) if rsa_bits
                    else ec.generate_private_key(curve))
        self.name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "example"),
                               x509.NameAttribute(NameOID.COMMON_NAME, name)])
        b = (x509.CertificateBuilder().subject_name(self.name).issuer_name(rname)
             .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(utc(not_before)).not_valid_after(utc(not_after))
             .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                            critical=True)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.root_key.public_key()),
                            critical=False))
        if eku is not None:
            b = b.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=eku_critical)
        self.leaf = b.sign(self.root_key, hashes.SHA384())

    def der(self) -> Tuple[bytes, bytes]:
        return (self.leaf.public_bytes(serialization.Encoding.DER),
                self.root.public_bytes(serialization.Encoding.DER))

    def root_entry(self, start: str = "2025-01-01T00:00:00Z", end: Optional[str] = None) -> Dict[str, Any]:
        vf = {"start": start}
        if end:
            vf["end"] = end
        leaf, root = self.der()
        cn = self.name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        return {"subject": {"organization": "example", "commonName": cn},
                "uri": "https://%s.example/api/v1/timestamp" % cn,
                "certChain": {"certificates": [{"rawBytes": b64(leaf)}, {"rawBytes": b64(root)}]},
                "validFor": vf}

    def stamp(self, message: bytes, gen_time: int, *, imprint: Optional[bytes] = None,
              imprint_hash: str = "sha256", digest: Optional[str] = None, key: Any = None,
              status: int = 0, nonce: Optional[int] = None, policy_oid: str = TSA_POLICY,
              embed: Sequence[x509.Certificate] = (), ess: bool = True,
              ess_cert: Optional[x509.Certificate] = None, signing_time: bool = True,
              message_digest: Optional[bytes] = None, serial: Optional[int] = None,
              ess_v1: bool = False) -> bytes:
        """A DER TimeStampResp over ``message`` (its ``imprint_hash``, or
        the digest ``imprint`` as given), signed by this TSA's leaf key (or
        ``key``) with ``digest`` (default SHA-256 for a P-256 key, SHA-384
        for P-384).  ``embed``: the certificates SignedData carries (none by
        default, as Sigstore's TSA; Rekor2Sigstore.bundle passes the leaf).
        The ESS signingCertificateV2 attribute names the leaf (or
        ``ess_cert``); ``ess=False`` leaves it out; ``ess_v1`` writes the
        v1 attribute (SHA-1, as ``openssl ts`` does by default)."""
        key = key or self.key
        if digest is None:
            digest = ("sha384" if isinstance(getattr(key, "curve", None), ec.SECP384R1)
                      else "sha256")
        if imprint is None:
            imprint = hashlib.new(imprint_hash, message).digest()
        if serial is None:
            TSA.serial += 1
            serial = TSA.serial
        tst = seq(integer(1), oid(policy_oid),
                  seq(alg(HASH_OIDS[imprint_hash], null=True), octets(imprint)),
                  integer(serial), gentime(gen_time),
                  seq(integer(1)),  # accuracy: one second
                  integer(nonce) if nonce is not None else b"")
        attrs = [seq(oid(OID_CONTENT_TYPE), set_of(oid(OID_TST_INFO))),
                 seq(oid(OID_MESSAGE_DIGEST),
                     set_of(octets(message_digest or hashlib.new(digest, tst).digest())))]
        if signing_time:
            attrs.append(seq(oid(OID_SIGNING_TIME), set_of(utctime(gen_time))))
        if ess:
            ec_ = ess_cert or self.leaf
            issuer_serial = seq(seq(explicit(4, ec_.issuer.public_bytes())), integer(ec_.serial_number))
            h = hashlib.sha1 if ess_v1 else hashlib.sha256
            ess_id = seq(octets(h(ec_.public_bytes(serialization.Encoding.DER)).digest()),
                         issuer_serial)  # v2: hashAlgorithm omitted, SHA-256, the DEFAULT
            attrs.append(seq(oid(OID_SIGNING_CERT_V1 if ess_v1 else OID_SIGNING_CERT_V2),
                             set_of(seq(seq(ess_id)))))
        signed = set_of(*attrs)
        is_rsa = isinstance(key, rsa.RSAPrivateKey)
        sig = (key.sign(signed, padding.PKCS1v15(), HASHES[digest]()) if is_rsa
               else key.sign(signed, ec.ECDSA(HASHES[digest]())))
        sid = seq(self.leaf.issuer.public_bytes(), integer(self.leaf.serial_number))
        signer = seq(integer(1), sid, alg(HASH_OIDS[digest]), b"\xa0" + signed[1:],  # [0] IMPLICIT
                     alg((RSA_OIDS if is_rsa else ECDSA_OIDS)[digest], null=is_rsa), octets(sig))
        certs = [c.public_bytes(serialization.Encoding.DER) for c in embed]
        sd = seq(integer(3), set_of(alg(HASH_OIDS[digest])),
                 seq(oid(OID_TST_INFO), explicit(0, octets(tst))),
                 tlv(0xA0, b"".join(sorted(certs))) if certs else b"",
                 set_of(signer))
        return seq(seq(integer(status)), seq(oid(OID_SIGNED_DATA), explicit(0, sd)))


# ------------------------------------------------------------ the Sigstore


class Rekor2Sigstore(Sigstore):
    """The virtual Sigstore with a Rekor v2 log (Ed25519) and a TSA.

    ``root(...)`` and ``bundle(...)`` return JSON bytes; ``leaf(...)``
    issues a Fulcio-like leaf with an embedded SCT.
    """

    def __init__(self, origin: str = ORIGIN) -> None:
        super().__init__()
        self.origin = origin
        self.log2_key = ed25519.Ed25519PrivateKey.generate()
        pub = self.log2_key.public_key()
        self.log2_spki = pub.public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.log2_id = self.note_key_id(origin, raw)
        self.tsa = TSA()

    @staticmethod
    def note_key_id(origin: str, raw: bytes) -> bytes:
        """The C2SP signed-note key ID of an Ed25519 key (0x01 its type)."""
        return hashlib.sha256(origin.encode() + b"\n" + b"\x01" + raw).digest()

    # -- the leaf: the virtual one's, with an AuthorityKeyIdentifier (the
    # -- webpki profile sigstore-python's chain check applies requires it)
    # -- and both issuer extensions as Fulcio writes them
    def leaf(self, *, curve: Any = None,  # type: ignore[override]
             san: x509.GeneralName = x509.RFC822Name(EMAIL), v1: Optional[str] = OIDC,
             v2: Optional[str] = OIDC, eku: Any = ExtendedKeyUsageOID.CODE_SIGNING, life: int = 600,
             sct: bool = True, sct_key: Any = None, public_key: Any = None,
             t0: int = T0, ku: bool = True) -> Tuple[Any, x509.Certificate]:
        return super().leaf(san=san, v1=v1, v2=v2, eku=eku, life=life, sct=sct, sct_key=sct_key,
                            curve=curve, aki=True, public_key=public_key, t0=t0, ku=ku)

    def root(self, *, tsas: Optional[List[TSA]] = None,  # type: ignore[override]
             tsa_start: str = "2025-01-01T00:00:00Z", tsa_end: Optional[str] = None,
             v1_log: bool = False, log_start: str = "2025-01-01T00:00:00Z", ctlogs: bool = True) -> bytes:
        """The trusted root: the CA, the CT log, the v2 log (and with
        ``v1_log`` the virtual Sigstore's ECDSA v1 log after it), and the
        TSAs (default this Sigstore's one), each valid from ``tsa_start``
        to ``tsa_end``."""
        tlogs = [{"baseUrl": "https://" + self.origin, "hashAlgorithm": "SHA2_256",
                  "publicKey": {"rawBytes": b64(self.log2_spki), "keyDetails": "PKIX_ED25519",
                                "validFor": {"start": log_start}},
                  "logId": {"keyId": b64(self.log2_id)}}]
        if v1_log:
            tlogs.append({"baseUrl": "https://log.example", "hashAlgorithm": "SHA2_256",
                          "publicKey": {"rawBytes": b64(self.log_spki),
                                        "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                                        "validFor": {"start": "2020-01-01T00:00:00Z"}},
                          "logId": {"keyId": b64(self.log_id)}})
        ca = self.ca.public_bytes(serialization.Encoding.DER)
        return json.dumps({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": tlogs,
            "certificateAuthorities": [{
                "subject": {"organization": "example", "commonName": "virtual-fulcio"},
                "certChain": {"certificates": [{"rawBytes": b64(ca)}]},
                "validFor": {"start": "2020-01-01T00:00:00Z"}}],
            "ctlogs": [{"baseUrl": "https://ct.example", "hashAlgorithm": "SHA2_256",
                        "publicKey": {"rawBytes": b64(self.ct_spki), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                                      "validFor": {"start": "2020-01-01T00:00:00Z"}},
                        "logId": {"keyId": b64(self.ct_id)}}] if ctlogs else [],
            "timestampAuthorities": [t.root_entry(tsa_start, tsa_end) for t in (tsas if tsas is not None
                                                                               else [self.tsa])],
        }, indent=1).encode()

    def pae(self, payload: Optional[bytes] = None) -> bytes:
        p = self.payload if payload is None else payload
        return b"DSSEv1 %d %s %d %s" % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(p), p)

    def checkpoint(self, size: int, root: bytes, signers: Optional[List[Tuple[Any, bytes]]] = None,
                   name: Optional[str] = None) -> str:
        """A C2SP signed note: the origin, size and root, then one line per
        (Ed25519 key, key ID) signer: "— <name> b64(keyid[:4] || sig)"."""
        text = "%s\n%d\n%s\n" % (self.origin, size, b64(root))
        lines = ""
        for key, kid in (signers if signers is not None else [(self.log2_key, self.log2_id)]):
            lines += "\u2014 %s %s\n" % (name or self.origin, b64(kid[:4] + key.sign(text.encode())))
        return text + "\n" + lines

    @staticmethod
    def body(cert: x509.Certificate, sig: bytes, digest: bytes, *, algorithm: Optional[str] = None,
             key_details: Optional[str] = None) -> Dict[str, Any]:
        """The hashedrekord 0.0.2 body of a DSSE envelope (rekor-v2 6.1.4)."""
        p384 = isinstance(cert.public_key(), ec.EllipticCurvePublicKey) and \
            isinstance(cert.public_key().curve, ec.SECP384R1)  # type: ignore[union-attr]
        kd = "PKIX_ECDSA_P384_SHA_384" if p384 else "PKIX_ECDSA_P256_SHA_256"
        return {"apiVersion": "0.0.2", "kind": "hashedrekord", "spec": {"hashedRekordV002": {
            "data": {"algorithm": algorithm or ("SHA2_384" if p384 else "SHA2_256"), "digest": b64(digest)},
            "signature": {"content": b64(sig), "verifier": {
                "keyDetails": key_details or kd,
                "x509Certificate": {"rawBytes": b64(cert.public_bytes(serialization.Encoding.DER))}}}}}}

    def bundle(self, key: Any, cert: x509.Certificate, *,  # type: ignore[override]
               # the timestamps
               gen_time: int = T0 + 5, tsa: Optional[TSA] = None, ts_key: Any = None,
               imprint: Optional[bytes] = None, imprint_hash: str = "sha256", ts_count: int = 1,
               timestamps: Optional[List[bytes]] = None, embed: Optional[Sequence[x509.Certificate]] = None,
               stamp: Optional[Dict[str, Any]] = None,
               # the log entry
               tree: int = 1, index: int = 0, proof_edit: Any = None,
               cp_signers: Optional[List[Tuple[Any, bytes]]] = None, log_id: Optional[bytes] = None,
               integrated_time: Optional[int] = None, promise: bool = False,
               # the body
               digest: Optional[bytes] = None, algorithm: Optional[str] = None,
               body_sig: Optional[bytes] = None, body_cert: Optional[x509.Certificate] = None,
               key_details: Optional[str] = None,
               body_edit: Optional[Callable[[Dict[str, Any]], None]] = None,
               # the envelope
               dsse_hash: Optional[Any] = None, payload_edit: Optional[Callable[[bytes], bytes]] = None
               ) -> bytes:
        """A v0.3 bundle of a DSSE envelope signed by ``key`` (``cert``),
        logged as hashedrekord 0.0.2 and timestamped.

        Timestamps: ``ts_count`` of them (0: no timestampVerificationData)
        by ``tsa`` (default ``self.tsa``) at ``gen_time``, ``gen_time`` + 1,
        ..., signed with ``ts_key`` if given, over SHA-256 (``imprint_hash``)
        of the DSSE signature or with ``imprint`` as the digest; ``embed``:
        the certificates to carry (default the TSA leaf); ``stamp``: more
        keyword arguments of :meth:`TSA.stamp`; ``timestamps``: DER
        responses given whole (replacing the above).
        The entry: ours is leaf ``index`` of ``tree``; ``proof_edit`` maps
        the audit path; ``cp_signers`` (key, key ID) sign the checkpoint;
        ``log_id`` replaces the entry's logId; ``integrated_time`` and
        ``promise`` (a signed entry timestamp) add what v2 entries lack.
        The body: ``digest``, ``algorithm``, ``body_sig``, ``body_cert``,
        ``key_details`` replace its fields; ``body_edit`` edits the dict.
        The envelope: ``dsse_hash`` (default SHA-256 for P-256, SHA-384
        for P-384) signs the PAE; ``payload_edit`` changes the payload
        after everything was signed and logged."""
        p384 = isinstance(key.curve, ec.SECP384R1)
        pae = self.pae()
        sig = key.sign(pae, ec.ECDSA(dsse_hash or (hashes.SHA384() if p384 else hashes.SHA256())))
        if digest is None:
            digest = (hashlib.sha384 if p384 else hashlib.sha256)(pae).digest()
        body_d = self.body(body_cert or cert, sig if body_sig is None else body_sig, digest,
                           algorithm=algorithm, key_details=key_details)
        if body_edit:
            body_edit(body_d)
        body = canon(body_d)
        leaves = [hashlib.sha256(b"\x00" + (body if i == index else b"other %d" % i)).digest()
                  for i in range(tree)]
        root, path = mth(leaves), audit_path(index, leaves)
        if proof_edit:
            path = proof_edit(path)
        kid = self.log2_id if log_id is None else log_id
        entry: Dict[str, Any] = {
            "logIndex": str(index), "logId": {"keyId": b64(kid)},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
            "inclusionProof": {"logIndex": str(index), "rootHash": b64(root), "treeSize": str(tree),
                               "hashes": [b64(h) for h in path],
                               "checkpoint": {"envelope": self.checkpoint(tree, root, cp_signers)}},
            "canonicalizedBody": b64(body)}
        if integrated_time is not None:
            entry["integratedTime"] = str(integrated_time)
        if promise:
            entry["inclusionPromise"] = {"signedEntryTimestamp": b64(self.log2_key.sign(canon({
                "body": b64(body), "integratedTime": integrated_time or 0, "logID": kid.hex(),
                "logIndex": index})))}
        if timestamps is None:
            t = tsa or self.tsa
            timestamps = [t.stamp(sig, gen_time + i, imprint=imprint, imprint_hash=imprint_hash, key=ts_key,
                                  embed=[t.leaf] if embed is None else embed, **(stamp or {}))
                          for i in range(ts_count)]
        vm: Dict[str, Any] = {
            "certificate": {"rawBytes": b64(cert.public_bytes(serialization.Encoding.DER))},
            "tlogEntries": [entry]}
        if timestamps:
            vm["timestampVerificationData"] = {"rfc3161Timestamps": [{"signedTimestamp": b64(t)}
                                                                     for t in timestamps]}
        payload = payload_edit(self.payload) if payload_edit else self.payload
        return json.dumps({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": vm,
            "dsseEnvelope": {"payload": b64(payload), "payloadType": PAYLOAD_TYPE,
                             "signatures": [{"sig": b64(sig)}]},
        }, indent=1).encode()


# ------------------------------------------------------------ the verdicts


def sigstore_python_verify(bundle: bytes, root: bytes, identity: str = EMAIL, issuer: str = OIDC) -> None:
    """sigstore-python's verification; raises on any refusal."""
    trusted = TrustedRoot(trustroot_v1.TrustedRoot.from_json(root))
    Verifier(trusted_root=trusted).verify_dsse(Bundle.from_json(bundle),
                                               policy.Identity(identity=identity, issuer=issuer))


def sigstore_python_verdict(bundle: bytes, root: bytes) -> bool:
    try:
        sigstore_python_verify(bundle, root)
        return True
    except Exception:  # noqa: BLE001 - any refusal counts
        return False


def aios_verdict(bundle: bytes, root: bytes) -> bool:
    """libaios's verdict on the same bundle and root."""
    try:
        am.verify_sigstore(bundle, root, identity=EMAIL, oidc_issuer=OIDC)
        return True
    except aios.AiosError:
        return False


Maker = Callable[[Rekor2Sigstore], Tuple[bytes, bytes]]


def good(**kw: Any) -> Maker:
    """A P-256 leaf's bundle with the bundle() knobs ``kw``, and the root."""
    def make(rs: Rekor2Sigstore) -> Tuple[bytes, bytes]:
        key, cert = rs.leaf()
        return rs.bundle(key, cert, **kw), rs.root()
    return make


def with_root(root_kw: Dict[str, Any], **kw: Any) -> Maker:
    def make(rs: Rekor2Sigstore) -> Tuple[bytes, bytes]:
        key, cert = rs.leaf()
        return rs.bundle(key, cert, **kw), rs.root(**root_kw)
    return make


def other_tsa(*, trusted: bool, root_kw: Optional[Dict[str, Any]] = None,
              stamp_kw: Optional[Dict[str, Any]] = None, **tsa_kw: Any) -> Maker:
    """A bundle stamped by another TSA (made with ``tsa_kw``; ``stamp_kw``
    for its stamp), which the root lists (alone) if ``trusted``."""
    def make(rs: Rekor2Sigstore) -> Tuple[bytes, bytes]:
        t = TSA(name="other-tsa", **tsa_kw)
        key, cert = rs.leaf()
        return (rs.bundle(key, cert, tsa=t, stamp=stamp_kw or {}),
                rs.root(tsas=[t] if trusted else None, **(root_kw or {})))
    return make


def two_stamps(second_trusted: bool, second_time: int = T0 + 9) -> Maker:
    """Two timestamps: a good one first, then one by this TSA or by an
    untrusted one, at ``second_time``."""
    def make(rs: Rekor2Sigstore) -> Tuple[bytes, bytes]:
        key, cert = rs.leaf()
        b = json.loads(rs.bundle(key, cert))
        sig = base64.b64decode(b["dsseEnvelope"]["signatures"][0]["sig"])
        t = rs.tsa if second_trusted else TSA(name="stranger")
        b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"].append(
            {"signedTimestamp": b64(t.stamp(sig, second_time, embed=[t.leaf]))})
        return json.dumps(b).encode(), rs.root()
    return make


def body_other_cert(rs: Rekor2Sigstore) -> Tuple[bytes, bytes]:
    key, cert = rs.leaf()
    return rs.bundle(key, cert, body_cert=rs.leaf()[1]), rs.root()


def body_sig_resigned(rs: Rekor2Sigstore) -> Tuple[bytes, bytes]:
    """The body's signature another valid one over the same PAE."""
    key, cert = rs.leaf()
    return rs.bundle(key, cert, body_sig=key.sign(rs.pae(), ec.ECDSA(hashes.SHA256()))), rs.root()


def body_sig_flipped(rs: Rekor2Sigstore) -> Tuple[bytes, bytes]:
    key, cert = rs.leaf()
    b = json.loads(rs.bundle(key, cert))
    sig = bytearray(base64.b64decode(b["dsseEnvelope"]["signatures"][0]["sig"]))
    sig[-1] ^= 1
    return rs.bundle(key, cert, body_sig=bytes(sig)), rs.root()


def bad_envelope_sig(rs: Rekor2Sigstore) -> Tuple[bytes, bytes]:
    """The envelope's (and body's, and stamp's) signature made by another
    key: everything consistent but the signature itself."""
    key, cert = rs.leaf()
    return rs.bundle(ec.generate_private_key(ec.SECP256R1()), cert), rs.root()


def p384_leaf(dsse_hash: Any) -> Maker:
    def make(rs: Rekor2Sigstore) -> Tuple[bytes, bytes]:
        key, cert = rs.leaf(curve=ec.SECP384R1())
        return rs.bundle(key, cert, dsse_hash=dsse_hash), rs.root()
    return make


def checkpoint_other_key(rs: Rekor2Sigstore) -> Tuple[bytes, bytes]:
    key, cert = rs.leaf()
    other = ed25519.Ed25519PrivateKey.generate()
    return rs.bundle(key, cert, cp_signers=[(other, rs.log2_id)]), rs.root()


def checkpoint_cosigned(rs: Rekor2Sigstore) -> Tuple[bytes, bytes]:
    """A witness's line first, then the log's (as real checkpoints have)."""
    key, cert = rs.leaf()
    w = ed25519.Ed25519PrivateKey.generate()
    return rs.bundle(key, cert, cp_signers=[(w, b"wit!" + bytes(28)), (rs.log2_key, rs.log2_id)]), rs.root()


def pae_of_other_payload(rs: Rekor2Sigstore) -> Tuple[bytes, bytes]:
    key, cert = rs.leaf()
    return rs.bundle(key, cert, digest=hashlib.sha256(rs.pae(rs.payload + b" ")).digest()), rs.root()


def flip_proof_hash(p: List[bytes]) -> List[bytes]:
    return [bytes(32)] + p[1:]


def v1_log_too(rs: Rekor2Sigstore) -> Tuple[bytes, bytes]:
    key, cert = rs.leaf()
    return rs.bundle(key, cert), rs.root(v1_log=True)


def leaf_without_sct(rs: Rekor2Sigstore) -> Tuple[bytes, bytes]:
    key, cert = rs.leaf(sct=False)
    return rs.bundle(key, cert), rs.root()


def leaf_with(**leaf_kw: Any) -> Maker:
    def make(rs: Rekor2Sigstore) -> Tuple[bytes, bytes]:
        key, cert = rs.leaf(**leaf_kw)
        return rs.bundle(key, cert), rs.root()
    return make


def two_log_entries(rs: Rekor2Sigstore) -> Tuple[bytes, bytes]:
    """The good entry, then one of an unknown log with a body nobody checks."""
    key, cert = rs.leaf()
    d = json.loads(rs.bundle(key, cert))
    extra = dict(d["verificationMaterial"]["tlogEntries"][0])
    extra.update(logId={"keyId": b64(bytes(32))}, canonicalizedBody=b64(b"not json"))
    d["verificationMaterial"]["tlogEntries"].append(extra)
    return json.dumps(d).encode(), rs.root()


def rekeyed_ca_first(rs: Rekor2Sigstore) -> Tuple[bytes, bytes]:
    """A root listing first a CA of the same name under another key (a
    re-keyed Fulcio, overlapping validFor); the leaf is the other's."""
    key, cert = rs.leaf()
    r = json.loads(rs.root())
    old = dict(r["certificateAuthorities"][0])
    old["certChain"] = {"certificates": [{"rawBytes": b64(
        Rekor2Sigstore().ca.public_bytes(serialization.Encoding.DER))}]}
    r["certificateAuthorities"].insert(0, old)
    return rs.bundle(key, cert), json.dumps(r).encode()


def other_identity(rs: Rekor2Sigstore) -> Tuple[bytes, bytes]:
    key, cert = rs.leaf(san=x509.RFC822Name("bob@example.com"))
    return rs.bundle(key, cert), rs.root()


# (name, maker(Rekor2Sigstore) -> (bundle, trusted root), sigstore-python accepts)
CASES: List[Tuple[str, Maker, bool]] = [
    ("good", good(), True),
    ("good, tree of 13, ours at 6", good(tree=13, index=6), True),
    ("good, tree of 8, ours last", good(tree=8, index=7), True),
    ("good, integratedTime 0", good(integrated_time=0), True),
    ("good, genTime the leaf's first second", good(gen_time=T0), True),
    ("good, genTime the leaf's last second", good(gen_time=T0 + 600), True),
    ("good, SHA-384 imprint", good(imprint_hash="sha384"), True),
    ("good, SHA-512 imprint", good(imprint_hash="sha512"), True),
    ("good, TSA certificate not embedded (as Sigstore's TSA)", good(embed=[]), True),
    ("good, TSA signs with SHA-256 on P-384 (as Sigstore's TSA)", good(stamp={"digest": "sha256"}), True),
    ("good, a nonce", good(stamp={"nonce": 0x1234567890ABCDEF}), True),
    ("good, no signingTime attribute", good(stamp={"signing_time": False}), True),
    ("good, a P-256 TSA", other_tsa(trusted=True, curve=ec.SECP256R1()), True),
    ("good, an RSA-2048 TSA, PKCS #1 v1.5", other_tsa(trusted=True, rsa_bits=2048), True),
    ("good, an RSA-3072 TSA, SHA-384", other_tsa(trusted=True, rsa_bits=3072,
                                                 stamp_kw={"digest": "sha384"}), True),
    ("good, two timestamps", good(ts_count=2), True),
    ("good, two timestamps, the second untrusted", two_stamps(False), True),
    ("good, the TSA's validFor ends after genTime", with_root({"tsa_end": rfc3339(T0 + 6)}), True),
    ("good, genTime the TSA's validFor start", with_root({"tsa_start": rfc3339(T0 + 5)}), True),
    ("good, a v1 log in the root too", v1_log_too, True),
    ("good, a witness cosigned the checkpoint", checkpoint_cosigned, True),
    ("good, a re-keyed CA of the same name first in the root", rekeyed_ca_first, True),
    ("good, leaf EKU serverAuth and codeSigning",
     leaf_with(eku=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CODE_SIGNING]), True),
    ("leaf without KeyUsage", leaf_with(ku=False), False),
    ("leaf EKU anyExtendedKeyUsage only", leaf_with(eku=[x509.ObjectIdentifier("2.5.29.37.0")]), False),
    ("leaf EKU serverAuth and anyExtendedKeyUsage",
     leaf_with(eku=[ExtendedKeyUsageOID.SERVER_AUTH, x509.ObjectIdentifier("2.5.29.37.0")]), False),
    ("two tlogEntries", two_log_entries, False),
    ("wrong imprint", good(imprint=hashlib.sha256(b"something else").digest()), False),
    ("imprint over the PAE, not the signature", lambda rs: (lambda k, c: (
        rs.bundle(k, c, imprint=hashlib.sha256(rs.pae()).digest()), rs.root()))(*rs.leaf()), False),
    ("timestamp signed by an untrusted TSA", other_tsa(trusted=False), False),
    ("timestamp signed by another key under the TSA's certificate",
     good(ts_key=ec.generate_private_key(ec.SECP384R1())), False),
    ("timestamp's messageDigest attribute wrong", good(stamp={"message_digest": bytes(48)}), False),
    ("timestamp status rejection", good(stamp={"status": 2}), False),
    ("timestamp status grantedWithMods", good(stamp={"status": 1}), False),
    ("genTime before the TSA's validFor", with_root({"tsa_start": rfc3339(T0 + 6)}), False),
    ("genTime after the TSA's validFor", with_root({"tsa_end": rfc3339(T0 + 4)}), False),
    ("genTime after the leaf expired", good(gen_time=T0 + 601), False),
    ("genTime before the leaf", good(gen_time=T0 - 1), False),
    ("genTime outside the TSA leaf's validity",
     other_tsa(trusted=True, not_before=T0 + 100), False),
    ("two timestamps, the second after the leaf expired", two_stamps(True, T0 + 601), False),
    ("no timestamp", good(ts_count=0), False),
    ("no TSA in the root", with_root({"tsas": []}), False),
    ("TSA leaf without EKU", other_tsa(trusted=True, eku=None), False),
    ("TSA leaf with EKU not critical", other_tsa(trusted=True, eku_critical=False), False),
    ("TSA leaf with codeSigning EKU", other_tsa(trusted=True, eku=[ExtendedKeyUsageOID.CODE_SIGNING]), False),
    ("bad inclusion proof hash", good(tree=5, index=2, proof_edit=flip_proof_hash), False),
    ("inclusion proof one hash short", good(tree=5, index=2, proof_edit=lambda p: p[:-1]), False),
    ("checkpoint signed by another Ed25519 key", checkpoint_other_key, False),
    ("checkpoint signed by a witness only",
     good(cp_signers=[(ed25519.Ed25519PrivateKey.generate(), b"wit!" + bytes(28))]), False),
    ("entry's logId another key's", good(log_id=hashlib.sha256(b"x").digest()), False),
    ("body digest of another PAE", pae_of_other_payload, False),
    ("body digest algorithm SHA2_384", good(algorithm="SHA2_384"), False),
    ("body keyDetails P-384 for a P-256 leaf", good(key_details="PKIX_ECDSA_P384_SHA_384"), False),
    ("body names another certificate", body_other_cert, False),
    ("body signature another valid one", body_sig_resigned, False),
    ("body signature changed", body_sig_flipped, False),
    ("body kind dsse", good(body_edit=lambda d: d.update(kind="dsse")), False),
    ("body verifier with a publicKey too", good(body_edit=lambda d: d["spec"]["hashedRekordV002"]["signature"]
                                                ["verifier"].update(publicKey={"rawBytes": "AAAA"})), False),
    ("body with a dsseV002 spec too", good(body_edit=lambda d: d["spec"].update(dsseV002={})), False),
    ("body with an extra member", good(body_edit=lambda d: d.update(extra=1)), False),
    ("payload changed after signing", good(payload_edit=lambda p: p.replace(b"sha256", b"sha384", 1)), False),
    ("envelope signed by another key", bad_envelope_sig, False),
    ("inclusion promise on a v2 entry", good(integrated_time=T0 + 5, promise=True), False),
    ("leaf without SCT", leaf_without_sct, False),
    ("another identity", other_identity, False),
]


@pytest.fixture(scope="module")
def rs() -> Rekor2Sigstore:
    return Rekor2Sigstore()


def test_root_key_id_is_the_note_key_id(rs: Rekor2Sigstore) -> None:
    """The v2 log is keyed as Sigstore's staging root keys its v2 logs."""
    root = json.loads(rs.root())
    t = root["tlogs"][0]
    raw = rs.log2_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert base64.b64decode(t["publicKey"]["rawBytes"])[-32:] == raw
    assert base64.b64decode(t["logId"]["keyId"]) == hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw).digest()


def test_timestamp_parses_as_rfc3161(rs: Rekor2Sigstore) -> None:
    """rfc3161-client reads back what the DER writer wrote."""
    from rfc3161_client import decode_timestamp_response

    key, cert = rs.leaf()
    b = json.loads(rs.bundle(key, cert, stamp={"nonce": 7}))
    sig = base64.b64decode(b["dsseEnvelope"]["signatures"][0]["sig"])
    der = base64.b64decode(b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
                           ["signedTimestamp"])
    r = decode_timestamp_response(der)
    assert r.status == 0 and r.tst_info.version == 1 and r.tst_info.nonce == 7
    assert r.tst_info.gen_time == utc(T0 + 5)
    assert r.tst_info.message_imprint.message == hashlib.sha256(sig).digest()
    assert r.tst_info.policy == x509.ObjectIdentifier(TSA_POLICY)
    assert r.signed_data.version == 3 and len(r.signed_data.certificates) == 1
    (si,) = r.signed_data.signer_infos
    assert si.issuer == rs.tsa.leaf.issuer and si.serial_number == rs.tsa.leaf.serial_number
    body = json.loads(base64.b64decode(b["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"]))
    hr = body["spec"]["hashedRekordV002"]
    assert base64.b64decode(hr["data"]["digest"]) == hashlib.sha256(rs.pae()).digest()
    assert base64.b64decode(hr["signature"]["content"]) == sig


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
def test_timestamp_verifies_with_openssl_ts(rs: Rekor2Sigstore, tmp_path: Path) -> None:
    """``openssl ts -verify`` (TS_RESP_verify: RFC 3161 and the ESS
    signingCertificateV2 attribute, which sigstore-python does not read)
    takes our timestamps, and refuses those without the ESS attribute or
    naming another certificate in it; sigstore-python takes all three."""
    key, cert = rs.leaf()
    (tmp_path / "root.pem").write_bytes(rs.tsa.root.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "leaf.pem").write_bytes(rs.tsa.leaf.public_bytes(serialization.Encoding.PEM))
    for stamp, ok in (({}, True), ({"digest": "sha256"}, True), ({"ess": False}, False),
                      ({"ess_cert": rs.tsa.root}, False)):
        bundle = rs.bundle(key, cert, stamp=stamp)
        assert sigstore_python_verdict(bundle, rs.root())
        b = json.loads(bundle)
        (tmp_path / "sig").write_bytes(base64.b64decode(b["dsseEnvelope"]["signatures"][0]["sig"]))
        stamps = b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
        (tmp_path / "tsr").write_bytes(base64.b64decode(stamps[0]["signedTimestamp"]))
        r = subprocess.run(["openssl", "ts", "-verify", "-data", "sig", "-in", "tsr", "-CAfile", "root.pem",
                            "-untrusted", "leaf.pem"], cwd=tmp_path, capture_output=True, text=True)
        assert ("Verification: OK" in r.stdout) is ok, (stamp, r.stdout, r.stderr)


@pytest.mark.parametrize("name,make,ok", CASES, ids=[c[0] for c in CASES])
def test_sigstore_python_verdict(rs: Rekor2Sigstore, name: str, make: Maker, ok: bool) -> None:
    bundle, root = make(rs)
    if ok:
        sigstore_python_verify(bundle, root)
    else:
        with pytest.raises(Exception):
            sigstore_python_verify(bundle, root)


def test_p384_leaf(rs: Rekor2Sigstore) -> None:
    """A P-384 leaf: the body names SHA2_384 and the SHA-384 of the PAE
    (sigstore-python's _get_prehash), yet sigstore-python 4.5.1 checks
    the envelope's signature with ECDSA-SHA256 whatever the curve
    (sigstore/dsse/__init__.py _verify), so it takes only a P-384 leaf
    that signed the PAE with SHA-256; Rekor v2 itself checks the body's
    signature against the SHA-384 digest, so it would log only the other,
    which libaios takes.  Neither is in CASES: the verifiers differ here."""
    for dsse_hash, ok in ((hashes.SHA256(), True), (hashes.SHA384(), False)):
        assert sigstore_python_verdict(*p384_leaf(dsse_hash)(rs)) is ok
        # libaios verifies a P-384 signature with SHA-384 (MANIFEST.md 4.2),
        # the hash the log entry names: the one Rekor v2 would log
        assert aios_verdict(*p384_leaf(dsse_hash)(rs)) is not ok


def test_tsa_validity_end(rs: Rekor2Sigstore) -> None:
    """A genTime equal to the TSA's validFor end: sigstore-python 4.5.1
    refuses it (``gen_time < validity_period_end`` in
    Verifier._verify_signed_timestamp), while TimeRange is a closed
    interval (sigstore_common.proto) and sigstore-conformance's
    trust-root-tsa-validity-end-inclusive expects success.  Not in CASES:
    the references differ; libaios takes it, as the conformance case
    expects."""
    key, cert = rs.leaf()
    assert not sigstore_python_verdict(rs.bundle(key, cert), rs.root(tsa_end=rfc3339(T0 + 5)))
    # libaios reads validFor as the closed range the protobuf defines
    assert aios_verdict(rs.bundle(key, cert), rs.root(tsa_end=rfc3339(T0 + 5)))
    assert not aios_verdict(rs.bundle(key, cert), rs.root(tsa_end=rfc3339(T0 + 4)))


def test_libaios_same_verdicts(rs: Rekor2Sigstore) -> None:
    wrong = []
    for name, make, ok in CASES:
        bundle, root = make(rs)
        if aios_verdict(bundle, root) is not ok:
            wrong.append((name, ok))
    assert not wrong, wrong


def test_libaios_reads_the_ess_attribute(rs: Rekor2Sigstore) -> None:
    """The ESS signing-certificate attribute (RFC 5816), which sigstore-python
    does not read: libaios, like ``openssl ts -verify``, refuses a timestamp
    whose attribute names another certificate than the authority's (the
    bundle then has no verified time), and takes one without the
    attribute."""
    key, cert = rs.leaf()
    assert aios_verdict(rs.bundle(key, cert, stamp={"ess": False}), rs.root())
    other = rs.bundle(key, cert, stamp={"ess_cert": rs.tsa.root})
    assert sigstore_python_verdict(other, rs.root())
    assert not aios_verdict(other, rs.root())
    # the v1 attribute (SHA-1 of the certificate), as openssl ts writes it
    assert aios_verdict(rs.bundle(key, cert, stamp={"ess_v1": True}), rs.root())
    assert not aios_verdict(rs.bundle(key, cert, stamp={"ess_v1": True, "ess_cert": rs.tsa.root}),
                            rs.root())


def test_libaios_signer_names_the_timestamp(rs: Rekor2Sigstore) -> None:
    key, cert = rs.leaf()
    m = am.verify_sigstore(rs.bundle(key, cert, gen_time=T0 + 7), rs.root(), identity=EMAIL,
                           oidc_issuer=OIDC)
    assert m.signer["timestamp"] == T0 + 7 and "integrated_time" not in m.signer
    assert m.verified and m.signer["log_index"] >= 0 and m.signer["identity"] == EMAIL


def _entry_edit(bundle: bytes, edit: Callable[[Dict[str, Any]], None]) -> bytes:
    b = json.loads(bundle)
    edit(b["verificationMaterial"]["tlogEntries"][0])
    return json.dumps(b).encode()


def test_libaios_v2_log_index_is_the_proofs(rs: Rekor2Sigstore) -> None:
    """A Rekor v2 entry's logIndex is signed by nothing but its inclusion
    proof's: libaios requires the two to agree (sigstore-python reports the
    entry's without comparing)."""
    key, cert = rs.leaf()
    bundle = rs.bundle(key, cert, tree=5, index=2)
    assert aios_verdict(bundle, rs.root())
    edited = _entry_edit(bundle, lambda e: e.update(logIndex="3"))
    assert sigstore_python_verdict(edited, rs.root())
    with pytest.raises(aios.AuthenticationError):
        am.verify_sigstore(edited, rs.root(), identity=EMAIL, oidc_issuer=OIDC)


def test_libaios_skips_an_authority_it_cannot_use(rs: Rekor2Sigstore) -> None:
    """A trusted root whose first timestamp authority has an RSA key (which
    libaios does not take) or a certificate that does not parse: the
    timestamp is checked against the next authority, and the bundle
    verifies, as with sigstore-python."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    key, cert = rs.leaf()
    bundle = rs.bundle(key, cert)
    rk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "example"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "rsa-tsa")])
    rsa_cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(rk.public_key()).serial_number(7)
                .not_valid_before(utc(1_704_067_200)).not_valid_after(utc(2_082_758_400))
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
                .sign(rk, hashes.SHA256())).public_bytes(serialization.Encoding.DER)
    for first in (rsa_cert, b"\x30\x03\x02\x01\x00"):
        root = json.loads(rs.root())
        bad = json.loads(json.dumps(root["timestampAuthorities"][0]))
        bad["certChain"]["certificates"][0]["rawBytes"] = b64(first)
        root["timestampAuthorities"].insert(0, bad)
        text = json.dumps(root).encode()
        assert aios_verdict(bundle, text)


def test_rsa_1024_authority(rs: Rekor2Sigstore) -> None:
    """An RSA timestamp authority of 1024 bits: sigstore-python takes its
    timestamps; libaios does not (RSA keys of at least 2048 bits, as on
    certificate paths, docs/MANIFEST.md 7.5.1), so a Rekor v2 bundle whose
    only time it is has no verified time.  Not in CASES: the verifiers
    differ here by design."""
    bundle, root = other_tsa(trusted=True, rsa_bits=1024)(rs)
    assert sigstore_python_verdict(bundle, root)
    assert not aios_verdict(bundle, root)
