"""aios.envelope one-shot: seal/open with KEKs, X25519 and mixed
recipients, the encryption context, errors by class, peek and header_len,
suites and threads."""

from __future__ import annotations

import io
import os
import re
import threading
from pathlib import Path
from typing import Dict, List

import pytest

import aios
from aios import Key, Keyring, KeyType, Status
from aios import envelope as env

from conftest import header_text, strip_c_comments

CS = 4096
SIZES = [0, 1, CS - 1, CS, CS + 1, 3 * CS + 5, 200_003]
CONTEXT = {"tenant": "acme", "region": "eu-west-1", "purpose": "training"}


def payload(n: int, seed: int = 0) -> bytes:
    return bytes((i * 131 + seed * 7 + (i >> 8)) & 0xFF for i in range(n))


@pytest.fixture
def kek(keyring: Keyring) -> Key:
    return keyring.add("kek", KeyType.AES256)


@pytest.fixture
def x25519(keyring: Keyring) -> Key:
    """An X25519 private key (the service's)."""
    return keyring.add("svc", KeyType.X25519)


@pytest.fixture
def x25519_public(x25519: Key) -> Key:
    """The same key as a producer sees it: public only, from PEM."""
    return Key.from_public_pem(x25519.public_pem())


# ------------------------------------------------------------ constants


def _defines() -> Dict[str, int]:
    text = strip_c_comments(header_text("envelope.h"))
    return {k: int(v, 0) for k, v in re.findall(r"#define (AIOS_ENVELOPE_\w+)\s+((?:0x)?[0-9a-fA-F]+)u?\b", text)}


def test_constants_mirror_header() -> None:
    d = _defines()
    for name in ("CHUNK_SIZE_MIN", "CHUNK_SIZE_MAX", "CHUNK_SIZE_DEFAULT", "HEADER_MAX", "RECIPIENTS_MAX",
                 "CONTEXT_MAX", "RECORD_OVERHEAD", "RECORD_MAX", "RECORD_AD_MAX", "SESSION_ID_LEN"):
        assert getattr(env, name) == d["AIOS_ENVELOPE_" + name], name
    assert env._REWRAP_REPLACE_ALL == d["AIOS_ENVELOPE_REWRAP_REPLACE_ALL"]
    assert env._SESSION_DETERMINISTIC == d["AIOS_ENVELOPE_SESSION_DETERMINISTIC"]
    assert env._FIELDS_DETERMINISTIC == d["AIOS_ENVELOPE_FIELDS_DETERMINISTIC"]
    assert env._FIELDS_SKIP_MISSING == d["AIOS_ENVELOPE_FIELDS_SKIP_MISSING"]
    for name in ("SEAL", "OPEN", "REWRAP", "SESSION", "FIELDS"):
        assert d[f"AIOS_ENVELOPE_{name}_OPTIONS_VERSION"] == env._OPTIONS_VERSION
    # The functions for bindings agree with the macros.
    assert aios._ffi.lib.aios_envelope_header_max() == env.HEADER_MAX
    assert aios._ffi.lib.aios_envelope_record_overhead() == env.RECORD_OVERHEAD


def test_enums_mirror_header() -> None:
    text = strip_c_comments(header_text("envelope.h"))
    for enum_cls, c_name, prefix in ((env.Suite, "aios_envelope_suite", "AIOS_ENVELOPE_SUITE_"),
                                     (env.ContextMode, "aios_envelope_context_mode", "AIOS_ENVELOPE_CONTEXT_")):
        body = re.search(r"typedef enum %s \{(.*?)\}" % c_name, text, flags=re.S)
        assert body
        members = {k: int(v, 0) for k, v in re.findall(r"\b(AIOS_\w+)\s*=\s*((?:0x)?[0-9a-fA-F]+)", body.group(1))
                   if "__FORCE32" not in k}
        assert {prefix + m.name: int(m) for m in enum_cls} == members


def test_suite_tokens_and_parsing() -> None:
    assert [s.token for s in env.Suite] == ["auto", "aes256gcm", "xchacha20poly1305", "aes256siv", "portable"]
    assert aios._ffi.lib.aios_envelope_suite_name(77) == "unknown"
    assert env.Suite.parse("portable") is env.Suite.PORTABLE
    assert env.Suite.parse("XCHACHA20POLY1305") is env.Suite.XCHACHA20POLY1305
    assert env.Suite.parse(1) is env.Suite.AES256GCM
    with pytest.raises(aios.InvalidInputError):
        env.Suite.parse("rot13")
    with pytest.raises(TypeError):
        env.Suite.parse(1.5)  # type: ignore[arg-type]
    assert env.ContextMode.parse("subset") is env.ContextMode.SUBSET
    with pytest.raises(aios.InvalidInputError):
        env.ContextMode.parse("fuzzy")


def test_exception_classes() -> None:
    expected = {
        Status.E_ENVELOPE_NO_RECIPIENT: (aios.NoRecipientError, aios.NotFoundError),
        Status.E_ENVELOPE_COMMITMENT: (aios.CommitmentError, aios.AuthenticationError),
        Status.E_ENVELOPE_CONTEXT_MISMATCH: (aios.ContextMismatchError, aios.AuthenticationError),
        Status.E_ENVELOPE_TRUNCATED: (aios.TruncatedError, aios.AuthenticationError),
        Status.E_ENVELOPE_TRAILING_DATA: (aios.TrailingDataError, aios.InvalidInputError),
        Status.E_ENVELOPE_UNKNOWN_SESSION: (aios.UnknownSessionError, aios.NotFoundError),
        Status.E_ENVELOPE_MODE: (aios.EnvelopeModeError, aios.InvalidInputError),
    }
    for status, (cls, kind_cls) in expected.items():
        exc = aios.error_for_status(status)
        assert type(exc) is cls and isinstance(exc, kind_cls)
        assert getattr(env, cls.__name__) is cls


# ------------------------------------------------------------ round trips


@pytest.mark.parametrize("n", SIZES)
def test_round_trip_kek(kek: Key, n: int) -> None:
    pt = payload(n)
    msg = env.seal(pt, kek, CONTEXT, chunk_size=CS)
    assert isinstance(msg, bytes)
    assert len(pt) < 64 or pt[:64] not in msg  # not stored in the clear
    assert env.open(msg, kek) == pt
    # Seal is randomised: a fresh data key and message id every time.
    assert env.seal(pt, kek, CONTEXT, chunk_size=CS) != msg
    # The payload size follows FORMAT.md 8.2: chunks of cs+16 bytes.
    hl = env.header_len(msg)
    chunks = max(1, -(-n // CS))
    assert len(msg) - hl == n + 16 * chunks


def test_round_trip_x25519_public_recipient(x25519: Key, x25519_public: Key) -> None:
    pt = payload(10_000)
    assert x25519_public.provider_name == "public"
    msg = env.seal(pt, x25519_public, {"to": "svc"})
    assert env.open(msg, x25519) == pt
    info = env.peek(msg)
    assert [r["kind"] for r in info["recipients"]] == ["x25519"]
    assert bytes.fromhex(info["recipients"][0]["public_key"]) == x25519.public_raw()


def test_mixed_recipients_each_opens_alone(keyring: Keyring, kek: Key, x25519: Key, x25519_public: Key) -> None:
    pt = payload(3 * CS + 5, seed=3)
    msg = env.seal(pt, [kek, x25519_public], CONTEXT, chunk_size=CS)
    assert env.open(msg, kek) == pt
    assert env.open(msg, [x25519]) == pt
    with env.Keys(providers=[keyring.provider]) as ks:  # the keyring finds the KEK by id and version
        assert env.open(msg, ks) == pt
    kinds = [r["kind"] for r in env.peek(msg)["recipients"]]
    assert kinds == ["kek", "x25519"]


def test_open_buffer(kek: Key) -> None:
    msg = env.seal(b"secret record", kek)
    with env.open_buffer(msg, kek) as buf:
        # ordinary memory (any size fits), wiped when closed
        assert not buf.secure and bytes(buf) == b"secret record"
    with pytest.raises(aios.StateError):
        bytes(buf)


def test_keys_set(keyring: Keyring, kek: Key, x25519: Key) -> None:
    ks = env.Keys([kek, x25519], [keyring.provider])
    msg = env.seal(b"x", kek)
    kek.close()  # the set holds its own reference
    assert env.open(msg, ks) == b"x"
    ks.close()
    ks.close()
    with pytest.raises(aios.StateError):
        env.open(msg, ks)
    with pytest.raises(TypeError):
        env.Keys(["not a key"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        env.open(msg, [object()])  # type: ignore[list-item]


# ------------------------------------------------------------ failures


def test_wrong_key_is_no_recipient(keyring: Keyring, kek: Key) -> None:
    other = keyring.add("other", KeyType.AES256)
    msg = env.seal(b"for kek only", kek)
    with pytest.raises(aios.NoRecipientError) as info:
        env.open(msg, other)
    assert isinstance(info.value, aios.NotFoundError)
    assert info.value.status == Status.E_ENVELOPE_NO_RECIPIENT
    other_x = keyring.add("other-x", KeyType.X25519)
    with pytest.raises(aios.NoRecipientError):
        env.open(msg, other_x)


def test_same_key_id_other_material_fails_authentication(tmp_path: Path, kek: Key) -> None:
    msg = env.seal(b"payload", kek)
    with Keyring.create(tmp_path / "impostor.akr", master_key=os.urandom(32)) as kr2:
        impostor = kr2.add("kek", KeyType.AES256)  # same provider, id and version
        with pytest.raises(aios.AuthenticationError) as info:
            env.open(msg, impostor)
    assert not isinstance(info.value, aios.NoRecipientError)


def test_expected_context(kek: Key) -> None:
    msg = env.seal(b"ctx", kek, CONTEXT)
    assert env.open(msg, kek, expected_context=CONTEXT) == b"ctx"
    assert env.open(msg, kek, expected_context=dict(reversed(list(CONTEXT.items())))) == b"ctx"
    with pytest.raises(aios.ContextMismatchError):
        env.open(msg, kek, expected_context={"tenant": "acme"})  # exact by default
    with pytest.raises(aios.ContextMismatchError):
        env.open(msg, kek, expected_context={"tenant": "acme"}, context_mode="exact")
    assert env.open(msg, kek, expected_context={"tenant": "acme"}, context_mode="subset") == b"ctx"
    assert env.open(msg, kek, expected_context={"tenant": "acme"}, context_mode=env.ContextMode.SUBSET) == b"ctx"
    with pytest.raises(aios.ContextMismatchError) as info:
        env.open(msg, kek, expected_context={"tenant": "evil"}, context_mode="subset")
    assert isinstance(info.value, aios.AuthenticationError)
    with pytest.raises(aios.ContextMismatchError):
        env.open(msg, kek, expected_context={**CONTEXT, "extra": "1"}, context_mode="subset")
    # Checked before any key is used: a stranger's key still gets the mismatch.
    with pytest.raises(aios.ContextMismatchError):
        env.open(msg, [], expected_context={"tenant": "evil"})


def test_context_arguments(kek: Key) -> None:
    with pytest.raises(aios.InvalidInputError):
        env.seal(b"x", kek, {"aios.reserved": "no"})
    with pytest.raises(aios.InvalidInputError):
        env.seal(b"x", kek, {"k": "nul\0inside"})
    with pytest.raises(TypeError):
        env.seal(b"x", kek, {"k": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        env.seal(b"x", kek, [("k", "v")])  # type: ignore[arg-type]
    uni = {"clé": "vàlue ✓", "empty": ""}
    msg = env.seal(b"x", kek, uni)
    assert env.peek(msg)["context"] == uni
    assert env.open(msg, kek, expected_context=uni) == b"x"


def test_converted_contexts_follow_the_dict(kek: Key) -> None:
    """Contexts are converted once and reused by value (a cache): a dict
    changed in place, equal dicts, str subclasses and unhashable values all
    give what they hold now."""
    ctx = {"tenant": "acme", "stage": "1"}
    for stage in ("1", "2", "1"):
        ctx["stage"] = stage
        msg = env.seal(b"x", kek, ctx)
        assert env.peek(msg)["context"] == {"tenant": "acme", "stage": stage}
        assert env.open(msg, kek, expected_context=dict(ctx)) == b"x"
        other = "2" if stage == "1" else "1"
        with pytest.raises(aios.ContextMismatchError):
            env.open(msg, kek, expected_context={**ctx, "stage": other})

    class Tag(str):
        pass

    msg = env.seal(b"x", kek, {Tag("tenant"): Tag("acme")})
    assert env.peek(msg)["context"] == {"tenant": "acme"}
    msg = env.seal(b"x", kek, {"tenant": bytearray(b"acme")})  # unhashable: converted each time
    assert env.peek(msg)["context"] == {"tenant": "acme"}
    assert env.open(msg, kek, expected_context={"tenant": bytearray(b"acme")}) == b"x"
    for _ in range(2):  # a refused context is refused every time, never remembered
        with pytest.raises(aios.InvalidInputError):
            env.seal(b"x", kek, {"k": "nul\0inside"})
        with pytest.raises(aios.InvalidInputError):
            env.open(msg, kek, expected_context={"k": "nul\0inside"})
    many = [{"n": str(i)} for i in range(600)]  # more than the cache holds
    sealed = [env.seal(b"x", kek, c) for c in many]
    for c, m in zip(many, sealed):
        assert env.peek(m)["context"] == c and env.open(m, kek, expected_context=c) == b"x"


@pytest.mark.parametrize("n", [0, 1, 64, 70_000, 200_003])
def test_seal_into_caller_memory(kek: Key, n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """seal() to one key with default options: the first message for a key
    and context goes the usual way and teaches the header's length; the
    next ones are sealed straight into a bytes object
    (aios_envelope_seal_into, a bare call on CPython).  A wrong length
    learnt falls back to the usual way."""
    import platform

    cpython = platform.python_implementation() == "CPython"
    calls: List[int] = []
    real = env._into_seal

    def counted(*args: object) -> int:
        rc = real(*args)  # type: ignore[no-any-return]
        calls.append(rc)
        return rc  # type: ignore[no-any-return]

    monkeypatch.setattr(env, "_into_seal", counted)
    monkeypatch.setattr(env, "_SEAL_HEADER_LEN", {})
    keys = env.Keys([kek])
    ctx = {"tenant": "acme", "n": str(n)}
    pt = payload(n, 9)
    msgs = [env.seal(pt, kek, ctx) for _ in range(3)]
    assert len({len(m) for m in msgs}) == 1 and len(set(msgs)) == 3
    assert all(type(m) is bytes and env.open(m, keys, expected_context=ctx) == pt for m in msgs)
    assert calls == ([0, 0] if cpython else [])
    if cpython:
        # A length learnt too short: one refused call (nothing sealed), then
        # the usual way, which learns the right one again.
        learnt = env._SEAL_HEADER_LEN
        (hkey, hl), = learnt.items()
        learnt[hkey] = hl - env._SEAL_SLACK - 1
        calls.clear()
        m = env.seal(pt, kek, ctx)
        assert env.open(m, keys) == pt and len(m) == len(msgs[0])
        assert calls == [int(aios.Status.E_BUFFER_TOO_SMALL)] and learnt[hkey] == hl
        # Too long: sealed into it and cut.
        learnt[hkey] = hl + 1000
        calls.clear()
        m = env.seal(pt, kek, ctx)
        assert env.open(m, keys) == pt and len(m) == len(msgs[0]) and calls == [0]
    # A failing seal through the fast path still raises (a bad context).
    with pytest.raises(aios.InvalidInputError):
        env.seal(pt, kek, {"aios.reserved": "x"})
    keys.close()


@pytest.mark.parametrize("n", [0, 1, 64, CS + 1, 20_000, 200_003])
def test_open_into_caller_memory(kek: Key, n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """open() with a key set and default options opens straight into a
    bytes object (aios_envelope_open_into, a bare call on CPython), cuts
    it to the plaintext and wipes the object it cut from."""
    import ctypes
    import platform

    cpython = platform.python_implementation() == "CPython"
    calls: List[int] = []
    wiped: List[bytes] = []
    real_open, real_wipe = env._into_open, env._fast_wipe

    def counted_open(*args: object) -> int:
        calls.append(int(args[2]))  # type: ignore[call-overload]
        return real_open(*args)  # type: ignore[no-any-return]

    def counted_wipe(buf: bytes, n_: ctypes.c_size_t) -> None:
        real_wipe(buf, n_)
        wiped.append(buf[: n_.value])

    monkeypatch.setattr(env, "_into_open", counted_open)
    monkeypatch.setattr(env, "_fast_wipe", counted_wipe)
    keys = env.Keys([kek])
    pt = payload(n, 5)
    msg = env.seal(pt, kek, CONTEXT, chunk_size=CS)
    out = env.open(msg, keys)
    assert type(out) is bytes and out == pt
    assert env.open(msg, keys, expected_context=CONTEXT) == pt
    assert calls == ([len(msg), len(msg)] if cpython else [])
    # The object the plaintext was cut from holds zeros now.
    assert wiped == ([bytes(n), bytes(n)] if cpython and n else [])
    with pytest.raises(env.ContextMismatchError):
        env.open(msg, keys, expected_context={"tenant": "other"})
    bad = bytearray(msg)
    bad[-1] ^= 1
    with pytest.raises(aios.AuthenticationError):
        env.open(bytes(bad), keys)
    with pytest.raises(aios.AuthenticationError):
        env.open(msg[:-1], keys)
    keys.close()
    with pytest.raises(aios.StateError):
        env.open(msg, keys)


def test_one_shot_through_a_callback_provider(keyring: Keyring, kek: Key) -> None:
    """A host KMS's failures come back from one-shot seal/open as the
    host's exception, on that call (not later, not lost)."""

    class Host:
        fail = False

        def describe(self, key_id: str, version: int, deadline_ms: int) -> aios.KeyInfo:
            return aios.KeyInfo(kek.version, kek.type, kek.purposes, kek.state, kek.created_at)

        def wrap(self, key_id: str, version: int, data_key: bytes, ad: bytes, deadline_ms: int) -> bytes:
            if self.fail:
                raise ConnectionError("kms down")
            return kek.wrap(data_key, ad)

        def unwrap(self, key_id: str, version: int, wrapped: bytes, ad: bytes, deadline_ms: int) -> bytes:
            if self.fail:
                raise ConnectionError("kms down")
            with kek.unwrap(wrapped, ad) as dk:
                return bytes(dk)

    host = Host()
    with aios.Provider.callback("kms", host) as p:
        remote = p.get_key("kek")
        keys = env.Keys().add_provider(p)
        msg = env.seal(b"payload", remote, CONTEXT)
        assert env.open(msg, keys) == b"payload"
        host.fail = True
        with pytest.raises(aios.CallbackError) as info:
            env.seal(b"payload", remote, CONTEXT)
        assert isinstance(info.value.host_exception, ConnectionError)
        with pytest.raises(aios.AiosError) as info2:
            env.open(msg, keys)
        assert isinstance(info2.value.host_exception, ConnectionError)
        host.fail = False
        # Nothing left parked: the next calls succeed.
        assert env.open(env.seal(b"again", remote), keys) == b"again"
        keys.close()


def test_tampered_byte_fails_authentication(kek: Key) -> None:
    pt = payload(3 * CS + 5)
    msg = env.seal(pt, kek, chunk_size=CS)
    hl = env.header_len(msg)
    for pos in (hl, hl + 100, hl + CS + 16 + 7, len(msg) - 1):
        bad = bytearray(msg)
        bad[pos] ^= 0x01
        with pytest.raises(aios.AuthenticationError) as info:
            env.open(bytes(bad), kek)
        assert info.value.status == Status.E_AUTH
    # The header's tag (its last 32 bytes).
    bad = bytearray(msg)
    bad[hl - 1] ^= 0x80
    with pytest.raises(aios.AuthenticationError):
        env.open(bytes(bad), kek)


def test_truncated_and_trailing(kek: Key) -> None:
    pt = payload(3 * CS + 5)
    msg = env.seal(pt, kek, chunk_size=CS)
    hl = env.header_len(msg)
    with pytest.raises(aios.TruncatedError) as info:
        env.open(msg[: hl + 3 * (CS + 16)], kek)  # the final chunk dropped
    assert isinstance(info.value, aios.AuthenticationError)
    with pytest.raises(aios.TruncatedError):
        env.open(msg[:hl], kek)
    # 16 bytes after full chunks: an empty tail, no final chunk.
    with pytest.raises(aios.TruncatedError):
        env.open(msg[: hl + 3 * (CS + 16) + 16], kek)
    # A byte appended after a full final chunk (FORMAT.md 8.4 step 4).
    whole = env.seal(payload(3 * CS), kek, chunk_size=CS)
    with pytest.raises(aios.TrailingDataError) as trailing:
        env.open(whole + b"\0", kek)
    assert isinstance(trailing.value, aios.InvalidInputError)
    # Cut inside a chunk: looks like a changed byte.
    with pytest.raises(aios.AuthenticationError):
        env.open(msg[:-3], kek)
    with pytest.raises(aios.InvalidInputError):
        env.open(b"not an envelope at all, just text", kek)


def test_seal_arguments(kek: Key, keyring: Keyring) -> None:
    with pytest.raises(aios.InvalidInputError):
        env.seal(b"x", [])
    with pytest.raises(TypeError):
        env.seal(b"x", ["kek"])  # type: ignore[list-item]
    with pytest.raises(aios.InvalidInputError):
        env.seal(b"x", kek, chunk_size=100)
    with pytest.raises(aios.InvalidInputError):
        env.seal(b"x", kek, suite="aes256siv")  # deterministic records only
    with pytest.raises(TypeError):
        env.seal("text", kek)  # type: ignore[arg-type]
    signer = keyring.add("signer", KeyType.ED25519)
    with pytest.raises(aios.AiosError):
        env.seal(b"x", signer)
    # An older (decrypt-only) version does not wrap: its own error passes through.
    keyring.rotate("kek")
    with pytest.raises(aios.KeyDecryptOnlyError):
        env.seal(b"x", kek)


# ------------------------------------------------------------ peek, header_len


def test_peek(kek: Key) -> None:
    msg = env.seal(b"hello", kek, CONTEXT, chunk_size=CS, suite="portable")
    info = env.peek(msg)
    assert info["type"] == "message"
    assert info["suite"] == "xchacha20poly1305" and info["suite_id"] == 2
    assert info["context"] == CONTEXT
    assert info["chunk_size"] == CS
    assert info["header_len"] == env.header_len(msg)
    assert info["authenticated"] is False
    assert info["deterministic"] is False
    assert len(bytes.fromhex(info["message_id"])) == 32
    assert info["recipients"] == [{"kind": "kek", "provider": "local", "key_id": "kek", "version": 1}]
    # The header alone is enough; less is not.
    assert env.peek(msg[: info["header_len"]]) == info
    with pytest.raises(aios.InvalidInputError):
        env.peek(msg[:10])


def test_header_len_and_read_header(kek: Key) -> None:
    msg = env.seal(payload(5000), kek, CONTEXT)
    hl = env.header_len(msg)
    assert 18 < hl < len(msg)
    with pytest.raises(aios.InvalidInputError) as info:
        env.header_len(msg[:5])
    assert info.value.status == Status.E_BUFFER_TOO_SMALL
    assert info.value.needed == 14  # type: ignore[attr-defined]  # prefix + Lc (FORMAT.md 3.3)
    needed = 18
    seen = []
    while True:
        try:
            assert env.header_len(msg[:needed]) == hl
            break
        except aios.InvalidInputError as exc:
            assert exc.status == Status.E_BUFFER_TOO_SMALL
            assert exc.needed > needed  # type: ignore[attr-defined]
            needed = exc.needed  # type: ignore[attr-defined]
            seen.append(needed)
    assert seen and all(n <= hl for n in seen)  # never asks for more than the header
    with pytest.raises(aios.InvalidInputError) as info:
        env.header_len(b"X" * 32)
    assert info.value.status != Status.E_BUFFER_TOO_SMALL
    src = io.BytesIO(msg)
    assert env.read_header(src) == msg[:hl]
    assert src.tell() == hl
    with pytest.raises(aios.TruncatedError):
        env.read_header(io.BytesIO(msg[: hl - 1]))


# ------------------------------------------------------------ suites, threads


@pytest.mark.parametrize("suite", ["auto", "portable", "xchacha20poly1305", "aes256gcm"])
def test_suites(kek: Key, suite: str) -> None:
    pt = payload(20_000)
    try:
        msg = env.seal(pt, kek, suite=suite, chunk_size=CS)
    except aios.InvalidInputError as exc:
        # AES-GCM is refused for writing on a CPU without AES-NI.
        assert suite == "aes256gcm" and exc.status == Status.E_UNSUPPORTED
        return
    name = env.peek(msg)["suite"]
    if suite in ("portable", "xchacha20poly1305"):
        assert name == "xchacha20poly1305"
    elif suite == "aes256gcm":
        assert name == "aes256gcm"
    else:
        assert name in ("aes256gcm", "xchacha20poly1305")
    assert env.open(msg, kek) == pt
    if name == "xchacha20poly1305":
        assert env.open(msg, kek, no_soft_gcm=True) == pt


def test_worker_threads(kek: Key) -> None:
    pt = os.urandom(1 << 20)
    msg = env.seal(pt, kek, chunk_size=CS, threads=4)
    assert env.open(msg, kek, threads=4) == pt
    assert env.open(msg, kek) == pt
    assert env.open(env.seal(pt, kek, chunk_size=CS), kek, threads=3) == pt


def test_one_key_set_many_threads(kek: Key, x25519: Key, x25519_public: Key) -> None:
    ks = env.Keys([kek, x25519])
    messages = [env.seal(payload(1000 + i, seed=i), [kek, x25519_public][i % 2], {"i": str(i)}) for i in range(8)]
    failures: List[BaseException] = []

    def worker(t: int) -> None:
        try:
            for _ in range(10):
                for i, m in enumerate(messages):
                    assert env.open(m, ks, expected_context={"i": str(i)}) == payload(1000 + i, seed=i)
                    with pytest.raises(aios.ContextMismatchError):
                        env.open(m, ks, expected_context={"i": "x"})
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    ks.close()


def test_bytes_like_inputs(kek: Key) -> None:
    pt = bytearray(payload(9000))
    msg = env.seal(memoryview(pt), kek)
    assert env.open(bytearray(msg), kek) == bytes(pt)
    with aios.Buffer.from_bytes(pt, secure=True) as buf:
        assert env.open(env.seal(buf, kek), kek) == bytes(pt)
