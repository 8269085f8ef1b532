"""aios.key: key handles, the keyring (the "local" provider) and its lifecycle."""

from __future__ import annotations

import base64
import copy
import gc
import hashlib
import hmac
import os
import pickle
import re
import threading
import time
import weakref
from pathlib import Path
from typing import Dict, List

import pytest

import aios
from aios import Key, KeyState, KeyType, KeyUse, Keyring, Status

from conftest import FAST_ARGON2, header_text, repo_root, run_python, strip_c_comments

ASYMMETRIC = [KeyType.ED25519, KeyType.ECDSA_P256, KeyType.ECDSA_P384, KeyType.ECDSA_P521, KeyType.X25519]
SIGNERS = [KeyType.ED25519, KeyType.ECDSA_P256, KeyType.ECDSA_P384, KeyType.ECDSA_P521]
NATURAL = {
    KeyType.AES256: KeyUse.WRAP,
    KeyType.HMAC_SHA256: KeyUse.MAC,
    KeyType.BLAKE2B: KeyUse.MAC,
    KeyType.ED25519: KeyUse.SIGN | KeyUse.VERIFY,
    KeyType.ECDSA_P256: KeyUse.SIGN | KeyUse.VERIFY,
    KeyType.ECDSA_P384: KeyUse.SIGN | KeyUse.VERIFY,
    KeyType.ECDSA_P521: KeyUse.SIGN | KeyUse.VERIFY,
    KeyType.X25519: KeyUse.DERIVE,
}
RAW_PUBLIC_LEN = {KeyType.ED25519: 32, KeyType.X25519: 32, KeyType.ECDSA_P256: 65, KeyType.ECDSA_P384: 97,
                  KeyType.ECDSA_P521: 133}


# ------------------------------------------------------------ constants


def _header_enum(name: str) -> Dict[str, int]:
    text = strip_c_comments(header_text("key.h"))
    body = re.search(r"typedef enum %s \{(.*?)\}" % name, text, flags=re.S)
    assert body, name
    return {
        k: int(v, 0)
        for k, v in re.findall(r"\b(AIOS_\w+)\s*=\s*((?:0x)?[0-9a-fA-F]+)", body.group(1))
        if "__FORCE32" not in k
    }


def _header_defines(prefix: str) -> Dict[str, int]:
    text = strip_c_comments(header_text("key.h"))
    return {k: int(v, 0) for k, v in re.findall(r"#define (%s\w*)\s+((?:0x)?[0-9a-fA-F]+)u?\b" % prefix, text)}


def test_enums_mirror_header() -> None:
    assert {"AIOS_KEY_" + m.name: int(m) for m in KeyType} == _header_enum("aios_key_type")
    assert {"AIOS_KEY_" + m.name: int(m) for m in KeyState} == _header_enum("aios_key_state")
    assert {"AIOS_KEYRING_UNLOCK_" + m.name: int(m) for m in aios.KeyringUnlock} == _header_enum(
        "aios_keyring_unlock"
    )
    uses = {"AIOS_KEY_USE_" + m.name: int(m) for m in KeyUse if m.name != "NONE"}
    assert uses == _header_defines("AIOS_KEY_USE_")
    caps = {"AIOS_PROVIDER_CAN_" + m.name: int(m) for m in aios.ProviderCaps if m.name != "NONE"}
    assert caps == _header_defines("AIOS_PROVIDER_CAN_")
    defines = _header_defines("AIOS_KEY")
    assert defines["AIOS_KEY_DATA_KEY_MAX"] == aios.KEY_DATA_KEY_MAX == 64
    assert defines["AIOS_KEY_WRAPPED_MAX"] == aios.KEY_WRAPPED_MAX == 1024
    assert defines["AIOS_KEY_MAC_LEN"] == aios.KEY_MAC_LEN == 32
    assert _header_defines("AIOS_KEYRING_READ_ONLY")["AIOS_KEYRING_READ_ONLY"] == aios.key._KEYRING_READ_ONLY
    assert (
        _header_defines("AIOS_KEYRING_IMPORT_PENDING")["AIOS_KEYRING_IMPORT_PENDING"]
        == aios.key._KEYRING_IMPORT_PENDING
    )
    for name in ("KEYRING", "KEY_SPEC", "PKCS11", "PROVIDER", "DKCACHE"):
        versions = _header_defines(f"AIOS_{name}_")
        key = f"AIOS_{name}_OPTIONS_VERSION" if name != "KEY_SPEC" else "AIOS_KEY_SPEC_VERSION"
        assert versions[key] == aios.key._OPTIONS_VERSION, key


def test_tokens_and_parsing() -> None:
    assert [t.token for t in KeyType] == [
        "aes256", "hmac-sha256", "blake2b", "ed25519", "ecdsa-p256", "ecdsa-p384", "x25519", "rsa",
        "ecdsa-p521",
    ]
    assert int(KeyType.ECDSA_P521) == 9
    assert KeyState.DECRYPT_ONLY.token == "decrypt-only" and KeyState.PENDING.token == "pending"
    for t in KeyType:
        assert KeyType.parse(t.token) is t and KeyType.parse(t.name) is t and KeyType.parse(int(t)) is t
    for s in KeyState:
        assert KeyState.parse(s.token) is s
    assert KeyType.parse("ECDSA-P256") is KeyType.ECDSA_P256
    with pytest.raises(aios.InvalidInputError, match="unknown key type 'rsa-pss'"):
        KeyType.parse("rsa-pss")
    with pytest.raises(aios.InvalidInputError):
        KeyState.parse(0)
    with pytest.raises(TypeError):
        KeyType.parse(1.5)  # type: ignore[arg-type]


def test_exception_classes() -> None:
    assert issubclass(aios.KeyNotFoundError, aios.NotFoundError) and issubclass(aios.KeyNotFoundError, LookupError)
    assert issubclass(aios.KeyringPassphraseError, aios.AuthenticationError)
    assert issubclass(aios.KeyringTamperedError, aios.AuthenticationError)
    assert issubclass(aios.Pkcs11PinError, aios.AuthenticationError)
    for cls in (aios.KeyExistsError, aios.KeyDestroyedError, aios.KeyDisabledError, aios.KeyDecryptOnlyError,
                aios.KeyNotExportableError, aios.KeyringLockedError):
        assert issubclass(cls, aios.StateError), cls
    assert issubclass(aios.KeyUsageLimitError, aios.LimitExceededError)
    exc = aios.error_for_status(Status.E_PROVIDER_TIMEOUT)
    assert type(exc) is aios.ProviderTimeoutError
    assert isinstance(exc, aios.CallbackError) and isinstance(exc, TimeoutError)
    assert pickle.loads(pickle.dumps(exc)).status == Status.E_PROVIDER_TIMEOUT
    # Statuses without a class of their own keep their kind's class.
    assert type(aios.error_for_status(Status.E_KEY_USAGE)) is aios.InvalidInputError
    assert type(aios.error_for_status(Status.E_KEYRING_CORRUPT)) is aios.InvalidInputError
    assert type(aios.error_for_status(Status.E_PKCS11)) is aios.AiosIOError
    assert type(aios.error_for_status(Status.E_KEY_EXPIRED)) is aios.KeyDecryptOnlyError


# ------------------------------------------------------ create and open


def test_passphrase_keyring_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "pass.akr"
    passphrase = bytearray(b"correct horse battery staple")
    with Keyring.create(path, passphrase=passphrase, **FAST_ARGON2) as kr:
        assert kr.path == str(path) and not kr.closed
        kek = kr.add("kek", KeyType.AES256)
        wrapped = kek.wrap(b"k" * 32, b"ctx")
    assert kr.closed
    with pytest.raises(aios.StateError):
        kr.get("kek")
    assert path.is_file()
    # bytearray, bytes, str, memoryview and a secure Buffer all unlock it.
    secure = aios.Buffer.from_bytes(passphrase, secure=True)
    for secret in (passphrase, bytes(passphrase), passphrase.decode(), memoryview(passphrase), secure):
        with Keyring.open(path, passphrase=secret) as kr:
            with kr.get("kek") as again, again.unwrap(wrapped, b"ctx") as dk:
                assert bytes(dk) == b"k" * 32
    secure.close()
    aios.wipe(passphrase)
    assert passphrase == bytearray(len(passphrase))
    # The key handle outlives its keyring.
    assert kek.unwrap(wrapped, b"ctx").secure
    kek.close()


def test_wrong_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "pass.akr"
    Keyring.create(path, passphrase=b"Tr0ub4dor&3", **FAST_ARGON2).close()
    with pytest.raises(aios.KeyringPassphraseError) as info:
        Keyring.open(path, passphrase=b"Tr0ub4dor&4")
    assert info.value.status == Status.E_KEYRING_PASSPHRASE
    assert isinstance(info.value, aios.AuthenticationError)
    assert "Tr0ub4dor" not in info.value.message  # never the secret
    assert str(path) in info.value.message


def test_raw_master_key(tmp_path: Path, master_key: bytearray) -> None:
    path = tmp_path / "raw.akr"
    with Keyring.create(path, master_key=master_key) as kr:
        mac = kr.add("pseudo", "hmac-sha256").mac(b"alice")
    with Keyring.open(path, master_key=aios.Buffer.from_bytes(master_key, secure=True)) as kr:
        assert kr.get("pseudo").mac(b"alice") == mac
    other = bytearray(master_key)
    other[0] ^= 1
    with pytest.raises(aios.KeyringPassphraseError):
        Keyring.open(path, master_key=other)
    with pytest.raises(aios.InvalidInputError):
        Keyring.create(tmp_path / "short.akr", master_key=b"\x01" * 16)


def test_create_refuses_existing_path(tmp_path: Path, master_key: bytearray) -> None:
    path = tmp_path / "k.akr"
    Keyring.create(path, master_key=master_key).close()
    with pytest.raises(aios.KeyExistsError) as info:
        Keyring.create(path, master_key=master_key)
    assert info.value.status == Status.E_KEY_EXISTS


def test_open_missing_file(tmp_path: Path, master_key: bytearray) -> None:
    with pytest.raises(aios.AiosError) as info:
        Keyring.open(tmp_path / "absent.akr", master_key=master_key)
    assert info.value.status in (Status.E_IO, Status.E_NOT_FOUND)
    assert "absent.akr" in info.value.message


def test_unlock_arguments_are_checked(tmp_path: Path, master_key: bytearray) -> None:
    with pytest.raises(TypeError, match="exactly one"):
        Keyring.create(tmp_path / "a.akr")
    with pytest.raises(TypeError, match="exactly one"):
        Keyring.create(tmp_path / "a.akr", passphrase=b"x", master_key=master_key)
    with pytest.raises(TypeError):
        Keyring.create(tmp_path / "a.akr", passphrase=12345)
    with pytest.raises(TypeError):
        Keyring.create(tmp_path / "a.akr", pkcs11={"module": "/x.so"})
    with pytest.raises(TypeError):
        Keyring()  # type: ignore[call-arg]
    assert not (tmp_path / "a.akr").exists()


# ----------------------------------------------------------- key types


# RSA lives only in tokens
LOCAL_TYPES = [t for t in KeyType if t is not KeyType.RSA]


@pytest.mark.parametrize("key_type", LOCAL_TYPES, ids=lambda t: t.token)
def test_add_every_type(keyring: Keyring, key_type: KeyType) -> None:
    before = int(time.time())
    attrs = {"tenant": "acme", "region": "eu-west", "class": "pii"}
    with keyring.add(f"k-{key_type.token}", key_type, attributes=attrs) as key:
        assert key.id == f"k-{key_type.token}"
        assert key.version == 1
        assert key.type is key_type
        assert key.purposes == NATURAL[key_type]
        assert key.state is KeyState.ACTIVE
        assert key.provider_name == "local"
        assert before - 1 <= key.created_at <= int(time.time()) + 1
        assert key.exportable is False
        assert key.attributes == attrs and list(key.attributes) == sorted(attrs)
        assert key.attribute("tenant") == "acme" and key.attribute("nope") is None
        assert repr(key) == f"<aios.Key 'k-{key_type.token}' v1 {key_type.token} provider=local state=active>"
        if key_type in ASYMMETRIC:
            raw = key.public_raw()
            assert len(raw) == RAW_PUBLIC_LEN[key_type]
            pem = key.public_pem()
            assert pem.startswith("-----BEGIN PUBLIC KEY-----\n") and pem.rstrip().endswith("-----END PUBLIC KEY-----")
        else:
            with pytest.raises(aios.InvalidInputError) as info:
                key.public_pem()
            assert info.value.status == Status.E_KEY_USAGE
    assert key.closed and repr(key) == "<aios.Key closed>"


def test_add_duplicate_and_missing(keyring: Keyring) -> None:
    keyring.add("dup", KeyType.AES256)
    with pytest.raises(aios.KeyExistsError):
        keyring.add("dup", KeyType.ED25519)
    with pytest.raises(aios.KeyNotFoundError) as info:
        keyring.get("nope")
    assert info.value.status == Status.E_KEY_NOT_FOUND and "nope" in info.value.message
    with pytest.raises(aios.KeyNotFoundError) as info:
        keyring.get("dup", 7)
    assert info.value.status == Status.E_KEY_VERSION_NOT_FOUND
    assert isinstance(info.value, LookupError)


def test_bad_ids_and_arguments(keyring: Keyring) -> None:
    with pytest.raises(aios.InvalidInputError):
        keyring.add("", KeyType.AES256)
    with pytest.raises(aios.InvalidInputError):
        keyring.add("x" * 257, KeyType.AES256)
    with pytest.raises(aios.InvalidInputError, match="NUL"):
        keyring.add("a\0b", KeyType.AES256)
    with pytest.raises(aios.InvalidInputError, match="not valid text"):
        keyring.add("a\udcff", KeyType.AES256)  # a lone surrogate has no UTF-8 form
    with pytest.raises(aios.InvalidInputError):
        keyring.get("x", -1)
    with pytest.raises(aios.InvalidInputError):
        keyring.add("bad-purpose", KeyType.AES256, purposes=KeyUse.SIGN)
    with pytest.raises(TypeError):
        keyring.add(42, KeyType.AES256)  # type: ignore[arg-type]


# ------------------------------------------------------------ operations


def test_wrap_unwrap(keyring: Keyring) -> None:
    kek = keyring.add("kek", KeyType.AES256)
    dk = os.urandom(32)
    wrapped = kek.wrap(dk, b"tenant=acme")
    assert isinstance(wrapped, bytes) and dk not in wrapped and len(wrapped) > len(dk)
    assert kek.wrap(dk, b"tenant=acme") != wrapped  # randomised
    with kek.unwrap(wrapped, b"tenant=acme") as out:
        assert out.secure and bytes(out) == dk
    # ad is bound; any change is an authentication failure.
    with pytest.raises(aios.AuthenticationError) as info:
        kek.unwrap(wrapped, b"tenant=evil")
    assert info.value.status == Status.E_AUTH
    tampered = bytearray(wrapped)
    tampered[-1] ^= 1
    with pytest.raises(aios.AuthenticationError):
        kek.unwrap(tampered, b"tenant=acme")
    other = keyring.add("other", KeyType.AES256)
    with pytest.raises(aios.AuthenticationError):
        other.unwrap(wrapped, b"tenant=acme")
    # Empty ad, a secure Buffer as the data key, the size limits.
    with aios.Buffer.from_bytes(dk, secure=True) as secret:
        w2 = kek.wrap(secret)
    assert bytes(kek.unwrap(w2)) == dk
    assert bytes(kek.unwrap(kek.wrap(b"x" * aios.KEY_DATA_KEY_MAX))) == b"x" * 64
    with pytest.raises(aios.AiosError):
        kek.wrap(b"x" * (aios.KEY_DATA_KEY_MAX + 1))
    with pytest.raises(aios.AiosError):
        kek.wrap(b"")


@pytest.mark.parametrize("key_type", SIGNERS, ids=lambda t: t.token)
def test_sign_verify(keyring: Keyring, key_type: KeyType) -> None:
    key = keyring.add("signer", key_type)
    msg = b"model.safetensors sha256=..."
    sig = key.sign(msg)
    if key_type is KeyType.ED25519:
        assert len(sig) == 64
    else:
        assert sig[0] == 0x30  # DER SEQUENCE
        assert key.sign(msg) == sig  # RFC 6979: deterministic for local keys
    assert key.verify(sig, msg) is True
    assert key.verify(sig, msg + b"!") is False
    bad = bytearray(sig)
    bad[len(bad) // 2] ^= 0x40
    assert key.verify(bytes(bad), msg) is False
    assert key.verify(b"", msg) is False
    # The public key alone verifies, under a given id or its fingerprint.
    with Key.from_public_pem(key.public_pem(), key_id="signer-pub") as pub:
        assert pub.provider_name == "public" and pub.id == "signer-pub" and pub.version == 1
        assert pub.type is key_type and pub.purposes & KeyUse.VERIFY
        assert pub.verify(sig, msg) and not pub.verify(sig, b"other")
        assert pub.public_raw() == key.public_raw()
        assert pub.public_pem() == key.public_pem()
        with pytest.raises(aios.AiosError):
            pub.sign(msg)
        with pytest.raises(aios.AiosError):
            pub.export()
    anon = Key.from_public_pem(key.public_pem().encode())
    assert re.fullmatch(r"[0-9a-f]{64}", anon.id)


def test_public_key_fingerprint_is_sha256_of_spki(keyring: Keyring) -> None:
    key = keyring.add("ed", KeyType.ED25519)
    pem = key.public_pem()
    der = base64.b64decode("".join(line for line in pem.splitlines() if "-----" not in line))
    assert Key.from_public_pem(pem).id == hashlib.sha256(der).hexdigest()


def test_from_public_pem_rejects_garbage() -> None:
    with pytest.raises(aios.InvalidInputError):
        Key.from_public_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(aios.InvalidInputError):
        Key.from_public_pem("not pem")


@pytest.mark.parametrize("key_type", [KeyType.HMAC_SHA256, KeyType.BLAKE2B], ids=lambda t: t.token)
def test_mac(keyring: Keyring, key_type: KeyType) -> None:
    key = keyring.add("mac", key_type, exportable=True)
    tag = key.mac(b"alice@example.com")
    assert len(tag) == aios.KEY_MAC_LEN and tag == key.mac(bytearray(b"alice@example.com"))
    assert key.mac(b"bob@example.com") != tag
    assert keyring.add("mac2", key_type).mac(b"alice@example.com") != tag
    with key.export() as secret:
        assert secret.secure and len(secret) == 32
        raw = bytes(secret)
    if key_type is KeyType.HMAC_SHA256:
        assert tag == hmac.new(raw, b"alice@example.com", hashlib.sha256).digest()
    else:
        assert tag == hashlib.blake2b(b"alice@example.com", key=raw, digest_size=32).digest()


def test_agree(keyring: Keyring) -> None:
    a = keyring.add("alice", KeyType.X25519)
    b = keyring.add("bob", KeyType.X25519)
    with a.agree(b.public_raw()) as s1, b.agree(a.public_raw()) as s2:
        assert s1.secure and len(s1) == 32 and bytes(s1) == bytes(s2)
    # A low-order point is refused.
    with pytest.raises(aios.AuthenticationError):
        a.agree(bytes(32))
    # A public-only X25519 key is a recipient, not a party that agrees.
    recipient = Key.from_public_pem(b.public_pem())
    assert recipient.type is KeyType.X25519
    with pytest.raises(aios.AiosError):
        recipient.agree(a.public_raw())


def test_purposes_are_enforced(keyring: Keyring) -> None:
    kek = keyring.add("kek", KeyType.AES256)
    signer = keyring.add("signer", KeyType.ED25519)
    with pytest.raises(aios.InvalidInputError) as info:
        signer.wrap(b"k" * 32)
    assert info.value.status == Status.E_KEY_USAGE
    for call in (lambda: kek.sign(b"m"), lambda: kek.mac(b"m"), lambda: kek.agree(bytes(32)),
                 lambda: kek.verify(b"s", b"m"), lambda: signer.mac(b"m")):
        with pytest.raises(aios.InvalidInputError) as info:
            call()
        assert info.value.status == Status.E_KEY_USAGE
    verify_only = keyring.add("verify-only", KeyType.ED25519, purposes=KeyUse.VERIFY)
    assert verify_only.purposes == KeyUse.VERIFY
    with pytest.raises(aios.InvalidInputError):
        verify_only.sign(b"m")


def test_export_and_import(keyring: Keyring) -> None:
    secret_key = keyring.add("locked-in", KeyType.AES256)
    with pytest.raises(aios.KeyNotExportableError) as info:
        secret_key.export()
    assert info.value.status == Status.E_KEY_NOT_EXPORTABLE
    # A symmetric key: the raw 32 bytes, importable elsewhere.
    kek = keyring.add("kek", KeyType.AES256, exportable=True)
    assert kek.exportable
    wrapped = kek.wrap(b"d" * 32, b"ad")
    with kek.export() as raw:
        twin = keyring.import_key("kek-twin", KeyType.AES256, raw)
    assert not twin.exportable
    assert bytes(twin.unwrap(wrapped, b"ad")) == b"d" * 32
    # A private key: PKCS#8 PEM, importable as str or bytes.
    for key_type in SIGNERS + [KeyType.X25519]:
        key = keyring.add(f"src-{key_type.token}", key_type, exportable=True)
        with key.export() as pem:
            text = bytes(pem).rstrip(b"\0").decode()
        assert text.startswith("-----BEGIN PRIVATE KEY-----")
        imported = keyring.import_key(f"imp-{key_type.token}", key_type, text, exportable=True)
        assert imported.public_raw() == key.public_raw()
        if key_type in SIGNERS:
            assert key.verify(imported.sign(b"m"), b"m")
    # Material of the wrong type or length is refused.
    with pytest.raises(aios.InvalidInputError):
        keyring.import_key("short", KeyType.AES256, b"\x01" * 31)
    with pytest.raises(aios.InvalidInputError):
        keyring.import_key("wrong-curve", KeyType.ECDSA_P384, text)


# -------------------------------------------------------------- lifecycle


def test_rotate(keyring: Keyring) -> None:
    v1 = keyring.add("kek", KeyType.AES256)
    w1 = v1.wrap(b"1" * 32)
    v2 = keyring.rotate("kek")
    assert (v2.id, v2.version, v2.state) == ("kek", 2, KeyState.ACTIVE)
    assert v1.state is KeyState.DECRYPT_ONLY  # live: the old handle sees it
    with pytest.raises(aios.KeyDecryptOnlyError) as info:
        v1.wrap(b"x" * 32)
    assert info.value.status == Status.E_KEY_DECRYPT_ONLY
    assert bytes(v1.unwrap(w1)) == b"1" * 32
    assert keyring.get("kek").version == 2
    assert bytes(keyring.get("kek", 1).unwrap(w1)) == b"1" * 32
    # A version's wrapped keys open only under that version.
    with pytest.raises(aios.AuthenticationError):
        v2.unwrap(w1)


def test_two_phase_rotation(keyring: Keyring) -> None:
    keyring.add("kek", KeyType.AES256)
    pending = keyring.add_version("kek")
    assert pending.version == 2 and pending.state is KeyState.PENDING
    assert keyring.get("kek").version == 1  # not primary yet
    with pytest.raises(aios.KeyDecryptOnlyError):
        pending.wrap(b"x" * 32)
    with pytest.raises(aios.StateError):
        keyring.set_state("kek", 2, KeyState.ACTIVE)
    keyring.promote("kek", 2)
    assert pending.state is KeyState.ACTIVE
    assert keyring.get("kek").version == 2 and keyring.get("kek", 1).state is KeyState.DECRYPT_ONLY
    assert len(pending.wrap(b"x" * 32)) > 32


def test_import_version(keyring: Keyring, tmp_path: Path, master_key: bytearray) -> None:
    """Rotation to material of one's own, primary or pending; the same bytes
    imported as a key elsewhere are the same key."""
    m2 = bytearray(range(0x20, 0x40))
    m3 = bytearray(range(0x40, 0x60))
    other = Keyring.create(str(tmp_path / "other.aioskr"), master_key=master_key)
    twin2 = other.import_key("twin2", KeyType.AES256, m2)
    twin3 = other.import_key("twin3", KeyType.AES256, m3)
    v1 = keyring.add("kek", KeyType.AES256)
    w1 = v1.wrap(b"1" * 32, b"ad")

    v2 = keyring.import_version("kek", m2)
    assert (v2.id, v2.version, v2.type, v2.state) == ("kek", 2, KeyType.AES256, KeyState.ACTIVE)
    assert keyring.get("kek").version == 2 and v1.state is KeyState.DECRYPT_ONLY
    assert bytes(v1.unwrap(w1, b"ad")) == b"1" * 32
    assert bytes(twin2.unwrap(v2.wrap(b"2" * 32, b"ad"), b"ad")) == b"2" * 32
    assert bytes(v2.unwrap(twin2.wrap(b"2" * 32, b"ad"), b"ad")) == b"2" * 32

    v3 = keyring.import_version("kek", bytes(m3), pending=True)
    assert (v3.version, v3.state) == (3, KeyState.PENDING)
    assert keyring.get("kek").version == 2
    with pytest.raises(aios.KeyDecryptOnlyError):
        v3.wrap(b"x" * 32)
    assert bytes(v3.unwrap(twin3.wrap(b"3" * 32))) == b"3" * 32
    keyring.promote("kek", 3)
    assert v3.state is KeyState.ACTIVE and v2.state is KeyState.DECRYPT_ONLY

    # Mistakes: each its status; nothing changes.
    before = keyring.list()
    with pytest.raises(aios.KeyExistsError) as info:
        keyring.import_version("kek", m2)           # version 2's bytes
    assert info.value.status == Status.E_KEY_EXISTS and "version 2" in str(info.value)
    with pytest.raises(aios.InvalidInputError) as info2:
        keyring.import_version("kek", b"\x01" * 31)
    assert info2.value.status == Status.E_FORMAT
    with pytest.raises(aios.InvalidInputError):
        keyring.import_version("kek", "-----BEGIN PRIVATE KEY-----\n")
    with pytest.raises(aios.KeyNotFoundError):
        keyring.import_version("missing", m2)
    with pytest.raises(aios.InvalidInputError):
        keyring.import_version("", m2)
    assert keyring.list() == before

    # A private key: PKCS#8 PEM (str or bytes) of the key's own algorithm.
    src = keyring.add("src", KeyType.ED25519, exportable=True)
    with src.export() as pem:
        text = bytes(pem).rstrip(b"\0").decode()
    signer = keyring.add("signer", KeyType.ED25519)
    with pytest.raises(aios.InvalidInputError):
        keyring.import_version("signer", m2)
    with pytest.raises(aios.InvalidInputError):
        keyring.import_version("kek", text)
    new = keyring.import_version("signer", text)
    assert new.version == 2 and new.public_raw() == src.public_raw()
    assert src.verify(new.sign(b"m"), b"m")
    assert signer.state is KeyState.DECRYPT_ONLY

    # On disk: closed and opened again.
    path = keyring.path
    keyring.close()
    with Keyring.open(path, master_key=master_key) as again:
        assert again.get("kek").version == 3
        assert again.get("kek", 2).state is KeyState.DECRYPT_ONLY
        assert bytes(again.get("kek", 2).unwrap(twin2.wrap(b"4" * 32))) == b"4" * 32
        assert again.get("signer").public_raw() == src.public_raw()
    other.close()


def test_disable_enable(keyring: Keyring) -> None:
    v1 = keyring.add("kek", KeyType.AES256)
    w1 = v1.wrap(b"1" * 32)
    keyring.rotate("kek")
    keyring.disable("kek", 1)
    assert v1.state is KeyState.DISABLED
    with pytest.raises(aios.KeyDisabledError) as info:
        v1.unwrap(w1)
    assert info.value.status == Status.E_KEY_DISABLED
    keyring.enable("kek", 1)
    assert v1.state is KeyState.DECRYPT_ONLY
    assert bytes(v1.unwrap(w1)) == b"1" * 32
    keyring.set_state("kek", 1, "active")
    assert v1.state is KeyState.ACTIVE and len(v1.wrap(b"y" * 32)) > 32
    # The primary cannot be disabled.
    with pytest.raises(aios.StateError) as info:
        keyring.disable("kek", 2)
    assert info.value.status == Status.E_STATE and "primary" in info.value.message
    with pytest.raises(aios.InvalidInputError):
        keyring.set_state("kek", 1, KeyState.DESTROYED)
    with pytest.raises(aios.KeyNotFoundError):
        keyring.disable("kek", 9)


def test_destroy(keyring: Keyring) -> None:
    v1 = keyring.add("signer", KeyType.ED25519)
    sig = v1.sign(b"m")
    pub = v1.public_pem()
    keyring.rotate("signer")
    with pytest.raises(aios.StateError):
        keyring.destroy("signer", 2)  # the primary
    keyring.destroy("signer", 1)
    keyring.destroy("signer", 1)  # again: nothing to do
    assert v1.state is KeyState.DESTROYED
    with pytest.raises(aios.KeyDestroyedError) as info:
        keyring.get("signer", 1).sign(b"m")
    assert info.value.status == Status.E_KEY_DESTROYED
    with pytest.raises(aios.KeyDestroyedError):
        keyring.enable("signer", 1)
    # The public half of a destroyed pair still verifies old signatures.
    assert v1.verify(sig, b"m") and v1.public_pem() == pub
    assert Key.from_public_pem(pub).verify(sig, b"m")
    listed = keyring.list()["keys"][0]["versions"]
    assert [v["state"] for v in listed] == ["destroyed", "active"]
    # Data under a destroyed wrapping key reports it, rather than looking corrupt.
    kek = keyring.add("kek", KeyType.AES256)
    wrapped = kek.wrap(b"k" * 32)
    keyring.rotate("kek")
    keyring.destroy("kek", 1)
    with pytest.raises(aios.KeyDestroyedError):
        kek.unwrap(wrapped)
    with pytest.raises(aios.KeyDestroyedError):
        keyring.get("kek", 1).unwrap(wrapped)


def test_min_decrypt_version(keyring: Keyring) -> None:
    v1 = keyring.add("kek", KeyType.AES256)
    w1 = v1.wrap(b"1" * 32)
    v2 = keyring.rotate("kek")
    w2 = v2.wrap(b"2" * 32)
    keyring.rotate("kek")
    keyring.set_min_decrypt_version("kek", 2)
    with pytest.raises(aios.KeyDisabledError):
        v1.unwrap(w1)
    assert bytes(v2.unwrap(w2)) == b"2" * 32
    with pytest.raises(aios.KeyNotFoundError):
        keyring.set_min_decrypt_version("kek", 9)
    keyring.add_version("kek")  # version 4, pending
    with pytest.raises(aios.StateError) as info:
        keyring.set_min_decrypt_version("kek", 4)  # would disable the primary
    assert info.value.status == Status.E_STATE and "primary" in info.value.message
    assert keyring.list()["keys"][0]["min_decrypt_version"] == 2


def test_max_uses(keyring: Keyring) -> None:
    key = keyring.add("limited", KeyType.HMAC_SHA256, max_uses=2)
    key.mac(b"1")
    key.mac(b"2")
    with pytest.raises(aios.KeyUsageLimitError) as info:
        key.mac(b"3")
    assert info.value.status == Status.E_KEY_USAGE_LIMIT
    assert keyring.list()["keys"][0]["versions"][0]["uses"] == 2


def test_not_after(keyring: Keyring) -> None:
    import datetime

    key = keyring.add("expiring", KeyType.AES256, not_after=int(time.time()) + 3600)
    w = key.wrap(b"k" * 32)
    expired = keyring.add("expired", KeyType.AES256, not_after=datetime.datetime(2001, 1, 1,
                                                                                  tzinfo=datetime.timezone.utc))
    with pytest.raises(aios.KeyDecryptOnlyError) as info:
        expired.wrap(b"k" * 32)
    assert info.value.status == Status.E_KEY_EXPIRED
    assert bytes(key.unwrap(w)) == b"k" * 32


def test_list(keyring: Keyring) -> None:
    keyring.add("kek", KeyType.AES256, attributes={"tenant": "acme"})
    keyring.rotate("kek")
    keyring.add("signer", KeyType.ED25519)
    listing = keyring.list()
    keys = {k["id"]: k for k in listing["keys"]}
    assert set(keys) == {"kek", "signer"}
    kek = keys["kek"]
    assert kek["type"] == "aes256" and kek["purposes"] == ["wrap"]
    assert kek["primary"] == 2 and kek["attributes"] == {"tenant": "acme"}
    assert [(v["version"], v["state"]) for v in kek["versions"]] == [(1, "decrypt-only"), (2, "active")]
    assert all(isinstance(v["created_at"], int) and v["created_at"] > 1600000000 for v in kek["versions"])
    assert keys["signer"]["purposes"] == ["sign", "verify"]
    # No secret anywhere in it.
    assert "material" not in repr(listing)


# ------------------------------------------------------------ the file


def test_tampered_file(tmp_path: Path, master_key: bytearray) -> None:
    path = tmp_path / "k.akr"
    with Keyring.create(path, master_key=master_key) as kr:
        kr.add("kek", KeyType.AES256)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises((aios.KeyringTamperedError, aios.InvalidInputError)) as info:
        Keyring.open(path, master_key=master_key)
    assert info.value.status in (Status.E_KEYRING_TAMPERED, Status.E_KEYRING_CORRUPT)
    # A flipped bit in the authenticated body, not in its framing, is tampering.
    original = bytearray(data)
    original[len(data) // 2] ^= 0x01
    tampered_seen = False
    for offset in range(len(original) - 20, len(original) - 1):
        copy_ = bytearray(original)
        copy_[offset] ^= 0x80
        path.write_bytes(bytes(copy_))
        try:
            Keyring.open(path, master_key=master_key).close()
        except aios.KeyringTamperedError as exc:
            assert exc.status == Status.E_KEYRING_TAMPERED
            tampered_seen = True
            break
        except aios.InvalidInputError:
            continue
    assert tampered_seen
    # Truncated: corrupt, an InvalidInputError.
    path.write_bytes(bytes(original[:12]))
    with pytest.raises(aios.InvalidInputError) as info:
        Keyring.open(path, master_key=master_key)
    assert info.value.status == Status.E_KEYRING_CORRUPT


def test_second_writer_is_locked_out(tmp_path: Path, master_key: bytearray) -> None:
    path = tmp_path / "k.akr"
    with Keyring.create(path, master_key=master_key) as writer:
        writer.add("kek", KeyType.AES256)
        with pytest.raises(aios.KeyringLockedError) as info:
            Keyring.open(path, master_key=master_key)
        assert info.value.status == Status.E_KEYRING_LOCKED
        started = time.monotonic()
        with pytest.raises(aios.KeyringLockedError):
            Keyring.open(path, master_key=master_key, lock_timeout_ms=300)
        assert time.monotonic() - started >= 0.25
        # A reader needs no lock; it cannot change anything.
        with Keyring.open(path, master_key=master_key, read_only=True) as reader:
            assert reader.get("kek").type is KeyType.AES256
            with pytest.raises(aios.StateError) as info:
                reader.add("x", KeyType.AES256)
            assert info.value.status == Status.E_STATE
            # It sees the writer's changes after reload(), its handles too.
            old_handle = reader.get("kek")
            writer.add("later", KeyType.ED25519)
            writer.rotate("kek")
            with pytest.raises(aios.KeyNotFoundError):
                reader.get("later")
            assert old_handle.state is KeyState.ACTIVE
            reader.reload()
            assert reader.get("later").type is KeyType.ED25519
            assert reader.get("kek").version == 2
            assert old_handle.state is KeyState.DECRYPT_ONLY
    # Closed: the lock is free again.
    Keyring.open(path, master_key=master_key).close()


def test_lock_held_by_another_process(tmp_path: Path, master_key: bytearray) -> None:
    path = tmp_path / "k.akr"
    Keyring.create(path, master_key=master_key).close()
    ready = tmp_path / "ready"
    code = f"""
import sys, time, pathlib, aios
kr = aios.Keyring.open({str(path)!r}, master_key=bytes.fromhex({master_key.hex()!r}))
kr.add("from-child", "ed25519")
pathlib.Path({str(ready)!r}).write_text("1")
time.sleep(1.5)
kr.close()
"""
    import subprocess
    import sys

    from conftest import package_parent

    env = dict(os.environ, PYTHONPATH=package_parent())
    child = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        assert ready.exists(), "the child did not open the keyring"
        with pytest.raises(aios.KeyringLockedError):
            Keyring.open(path, master_key=master_key)
        # Waiting long enough gets the lock once the child closes.
        with Keyring.open(path, master_key=master_key, lock_timeout_ms=30000) as kr:
            assert kr.get("from-child").type is KeyType.ED25519
    finally:
        child.wait(timeout=60)
    assert child.returncode == 0


# ---------------------------------------------------- handles and provider


def test_key_handle_lifetime(keyring: Keyring) -> None:
    key = keyring.add("kek", KeyType.AES256)
    twin = copy.copy(key)
    deep = copy.deepcopy(key)
    assert twin is not key and twin.id == deep.id == "kek"
    key.close()
    key.close()  # idempotent
    assert key.closed and not twin.closed
    with pytest.raises(aios.StateError):
        key.wrap(b"k" * 32)
    with pytest.raises(aios.StateError):
        _ = key.id
    assert len(twin.wrap(b"k" * 32)) > 32
    with pytest.raises(TypeError):
        pickle.dumps(twin)
    with pytest.raises(TypeError):
        Key()  # type: ignore[call-arg]
    # The finalizer drops a forgotten handle.
    ref = weakref.ref(deep)
    del deep
    gc.collect()
    assert ref() is None


def test_keyring_provider(tmp_path: Path, master_key: bytearray) -> None:
    kr = Keyring.create(tmp_path / "k.akr", master_key=master_key)
    kr.add("kek", KeyType.AES256)
    kr.rotate("kek")
    provider = kr.provider
    assert provider.name == "local" and provider.capabilities is None and provider.host is None
    assert repr(provider) == "<aios.Provider local (borrowed)>"
    assert provider.get_key("kek").version == 2
    v1 = provider.get_key("kek", 1)
    assert v1.version == 1 and v1.state is KeyState.DECRYPT_ONLY
    with pytest.raises(aios.KeyNotFoundError):
        provider.get_key("nope")
    provider.close()  # borrowed: nothing happens
    assert provider.get_key("kek").version == 2
    # The borrowed provider keeps its keyring object alive ...
    ref = weakref.ref(kr)
    del kr
    gc.collect()
    assert ref() is not None
    # ... and is unusable once the keyring is closed.
    ref().close()  # type: ignore[union-attr]
    assert provider.closed
    with pytest.raises(aios.StateError):
        provider.get_key("kek")
    assert v1.state is KeyState.DECRYPT_ONLY  # keys outlive both


def test_concurrent_operations_and_rotation(keyring: Keyring) -> None:
    kek = keyring.add("kek", KeyType.AES256)
    signer = keyring.add("signer", KeyType.ED25519)
    keyring.add("other", KeyType.HMAC_SHA256)
    errors: List[BaseException] = []

    def worker(i: int) -> None:
        try:
            for j in range(50):
                dk = bytes([i, j]) * 16
                w = kek.wrap(dk, b"%d" % i)
                with kek.unwrap(w, b"%d" % i) as out:
                    assert bytes(out) == dk
                assert signer.verify(signer.sign(dk), dk)
                assert keyring.get("kek").version == 1
                assert len(keyring.list()["keys"]) == 3
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for _ in range(3):
        keyring.rotate("other")  # the keyring is internally locked
        keyring.list()
    for t in threads:
        t.join()
    assert errors == []
    assert keyring.get("other").version == 4


def test_key_module_imports_alone() -> None:
    # aios.key is importable on its own and registers its exception classes.
    proc = run_python(
        "import aios.key as k, aios; "
        "assert type(aios.error_for_status(-103)) is k.KeyDestroyedError; print('ok')"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


# ------------------------------------------------------- ECDSA P-521


P521_DIR = repo_root() / "tests" / "vectors" / "manifest-p521"


def test_p521(keyring: Keyring) -> None:
    """A P-521 public key verifies (a bundle model_signing signed with it)
    and never signs; a keyring generates P-521 keys and imports the tool's
    PKCS#8 key, which signs manifests that verify with the public key."""
    from aios import manifest as am

    pem = (P521_DIR / "signing-key-pub.pem").read_text()
    key = Key.from_public_pem(pem)
    assert key.type is KeyType.ECDSA_P521 and key.type.token == "ecdsa-p521"
    assert key.purposes == KeyUse.VERIFY
    assert key.provider_name == "public"
    assert len(key.public_raw()) == 133 and key.public_raw()[0] == 4
    assert key.public_pem() == pem
    bundle = (P521_DIR / "model.sig").read_bytes()
    m = am.verify_key(bundle, key)
    assert len(m.verify_dir(P521_DIR / "model")) == 0
    with pytest.raises(aios.InvalidInputError) as info:
        key.sign(b"m")
    assert info.value.status == Status.E_KEY_USAGE
    assert key.verify(b"0" * 138, b"m") is False

    gen = keyring.add("p521", KeyType.ECDSA_P521)
    assert gen.purposes == KeyUse.SIGN | KeyUse.VERIFY
    sig = gen.sign(b"m")
    assert 130 < len(sig) <= 139 and sig[:2] == b"\x30\x81"
    with Key.from_public_pem(gen.public_pem()) as gen_pub:
        assert gen_pub.verify(sig, b"m") is True
        assert gen_pub.verify(sig, b"n") is False
    private = (P521_DIR / "signing-key.pem").read_text()
    imported = keyring.import_key("p521-tool", KeyType.ECDSA_P521, private)
    assert imported.public_pem() == pem
    assert key.verify(imported.sign(b"m"), b"m") is True
    ours, signed = am.sign(P521_DIR / "model", imported)
    signed.close()
    with am.verify_key(ours, key) as mine:
        assert len(mine.verify_dir(P521_DIR / "model")) == 0
    with pytest.raises(aios.InvalidInputError, match="the key is p521, not ecdsa-p384") as info:
        keyring.import_key("p521-as-p384", KeyType.ECDSA_P384, private)
    assert info.value.status == Status.E_FORMAT
    gen.close()
    imported.close()
