"""aios.envelope sessions (one wrapped data key, many records) and
field-level encryption of JSON documents."""

from __future__ import annotations

import copy
import ctypes
import json
import threading
from typing import Any, Dict, List

import pytest

import aios
from aios import Key, Keyring, KeyType, Status
from aios import envelope as env


@pytest.fixture
def kek(keyring: Keyring) -> Key:
    return keyring.add("kek", KeyType.AES256)


@pytest.fixture
def writer(kek: Key) -> env.Session:
    return env.Session.new(kek, {"table": "patients"})


@pytest.fixture
def det_writer(kek: Key) -> env.Session:
    return env.Session.new(kek, {"table": "patients"}, deterministic=True)


# ------------------------------------------------------------ sessions


def test_session_header_id_info(writer: env.Session, kek: Key) -> None:
    header = writer.header
    assert len(writer.id) == env.SESSION_ID_LEN
    info = env.peek(header)
    assert info["type"] == "session" and info["context"] == {"table": "patients"}
    assert bytes.fromhex(info["session_id"]) == writer.id
    assert env.header_len(header) == len(header)
    assert writer.info["authenticated"] is True
    with env.Session.open(header, kek, expected_context={"table": "patients"}) as reader:
        assert reader.id == writer.id and reader.header == header


@pytest.mark.parametrize("n", [0, 1, 1000, 70_000])
def test_records_round_trip(writer: env.Session, kek: Key, n: int) -> None:
    pt = bytes(range(256)) * (n // 256) + bytes(n % 256)
    rec = writer.seal(pt, ad=b"row-17")
    assert len(rec) == n + env.RECORD_OVERHEAD
    assert env.record_session_id(rec) == writer.id
    assert writer.open_record(rec, ad=b"row-17") == pt
    reader = env.Session.open(writer.header, [kek])
    assert reader.open_record(rec, b"row-17") == pt
    # Randomised: the same record twice gives different bytes.
    assert writer.seal(pt, ad=b"row-17") != rec
    reader.close()


def test_record_failures(writer: env.Session, kek: Key) -> None:
    rec = writer.seal(b"diagnosis", b"ad")
    with pytest.raises(aios.AuthenticationError):
        writer.open_record(rec, b"other ad")
    with pytest.raises(aios.AuthenticationError):
        writer.open_record(rec)  # ad is not stored: it must be given again
    bad = bytearray(rec)
    bad[-1] ^= 1
    with pytest.raises(aios.AuthenticationError):
        writer.open_record(bytes(bad), b"ad")
    other = env.Session.new(kek)
    with pytest.raises(aios.UnknownSessionError) as info:
        other.open_record(rec, b"ad")
    assert isinstance(info.value, aios.NotFoundError)
    with pytest.raises(aios.InvalidInputError):
        env.record_session_id(b"not a record")
    with pytest.raises(aios.InvalidInputError):
        writer.open_record(rec[:10], b"ad")


@pytest.mark.parametrize("n", [0, 1, 63, 4096, 16_309, 16_310, 16_384, 70_000])
def test_records_written_into_new_bytes(writer: env.Session, n: int, monkeypatch: Any) -> None:
    """On CPython records and plaintexts are written straight into the
    bytes objects returned: each call gives its own new object, exactly
    as long as it should be, and equal inputs never share one."""
    import platform

    from aios import _ffi

    # On CPython the exact-size bare calls do the work (counted here).
    calls = {"seal": 0, "open": 0}
    real_seal, real_open = env._exact_seal, env._exact_open

    def counted_seal(*args: Any) -> int:
        calls["seal"] += 1
        return real_seal(*args)  # type: ignore[no-any-return]

    def counted_open(*args: Any) -> int:
        calls["open"] += 1
        return real_open(*args)  # type: ignore[no-any-return]

    monkeypatch.setattr(env, "_exact_seal", counted_seal)
    monkeypatch.setattr(env, "_exact_open", counted_open)
    pt = bytes((i * 7) & 0xFF for i in range(n))
    recs = [writer.seal(pt, b"ad") for _ in range(3)]
    assert all(type(r) is bytes and len(r) == n + env.RECORD_OVERHEAD for r in recs)
    assert len({id(r) for r in recs}) == 3 and len(set(recs)) == 3
    outs = [writer.open_record(r, b"ad") for r in recs]
    assert all(type(o) is bytes and o == pt for o in outs)
    cpython = platform.python_implementation() == "CPython"
    assert calls["seal"] == (3 if cpython else 0)
    assert calls["open"] == (3 if cpython and n > 0 else 0)   # an empty record: the general path
    if n > 1:
        assert len({id(o) for o in outs}) == 3
    # A failed open raises and returns nothing (C wiped what it wrote).
    bad = bytearray(recs[0])
    bad[-1] ^= 0x80
    with pytest.raises(aios.AuthenticationError):
        writer.open_record(bytes(bad), b"ad")
    assert writer.open_record(recs[0], b"ad") == pt
    # A failed seal returns nothing either, and the filled objects are not
    # shared with later bytes(n) of the same length.
    with pytest.raises(aios.LimitExceededError):
        writer.seal(pt, bytes(65537))
    if n > 0:
        assert bytes(n + env.RECORD_OVERHEAD) == b"\0" * (n + env.RECORD_OVERHEAD)
        assert bytes(n) == b"\0" * n


def test_bare_exact_calls(writer: env.Session, kek: Key) -> None:
    """The hot paths call the exact-size entry points with bare ctypes
    calls (32-bit ints, no argtypes): records at the limits go through
    them and match what the size_t entry points make."""
    from aios import _ffi

    ad_max = bytes(range(256)) * (env.RECORD_AD_MAX // 256)
    reader = env.Session.open(writer.header, kek)
    for pt, ad in [(b"x", ad_max), (bytes(env.RECORD_MAX), b"a"), (b"", b"")]:
        rec = writer.seal(pt, ad)
        assert len(rec) == len(pt) + env.RECORD_OVERHEAD
        assert reader.open_record(rec, ad) == pt
        # The same record through the general path (a bytearray argument).
        assert reader.open_record(bytearray(rec), bytearray(ad)) == pt
        rec2 = writer.seal(bytearray(pt), bytearray(ad))
        assert reader.open_record(rec2, ad) == pt
    with pytest.raises(aios.LimitExceededError):
        writer.seal(bytes(env.RECORD_MAX + 1))
    with pytest.raises(aios.LimitExceededError):
        reader.open_record(rec, bytes(env.RECORD_AD_MAX + 1))
    # Only functions of pointers and 32-bit ints may be bound bare.
    with pytest.raises(AssertionError):
        _ffi.bare_function("aios_envelope_session_seal", ctypes.c_int)
    with pytest.raises(AssertionError):
        _ffi.bare_function("aios_no_such_function", ctypes.c_int)
    reader.close()


def test_reader_sessions_do_not_write(writer: env.Session, kek: Key) -> None:
    reader = env.Session.open(writer.header, kek)
    with pytest.raises(aios.StateError):
        reader.seal(b"x")
    with pytest.raises(aios.NoRecipientError):
        env.Session.open(writer.header, Key.from_public_pem(
            kek_keyring_x25519_pem(writer)))


def kek_keyring_x25519_pem(_: env.Session) -> str:
    """A public key that is no recipient of anything."""
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        with aios.Keyring.create(os.path.join(d, "k.akr"), master_key=os.urandom(32)) as kr:
            return kr.add("x", KeyType.X25519).public_pem()


def test_session_limits_and_context(kek: Key) -> None:
    s = env.Session.new(kek, max_records=2)
    s.seal(b"1")
    s.seal(b"2")
    with pytest.raises(aios.LimitExceededError):
        s.seal(b"3")
    with pytest.raises(aios.ContextMismatchError):
        env.Session.open(env.Session.new(kek, {"a": "1"}).header, kek, expected_context={"a": "2"})
    with pytest.raises(aios.InvalidInputError):
        env.open(s.header, kek)  # a session header is not a message


# ------------------------------------------------------------ batches


def test_seal_many_round_trip(writer: env.Session, kek: Key) -> None:
    pts = [b"", b"a", bytes(range(256)) * 4, b"", bytes(70_000)]
    ads = [b"", b"ad1", b"x" * 5000, b"z", b""]
    recs = writer.seal_many(pts, ads)
    assert [len(r) for r in recs] == [len(p) + env.RECORD_OVERHEAD for p in pts]
    assert len(set(recs)) == len(recs)   # fresh record ids
    reader = env.Session.open(writer.header, kek)
    # Each record is an ordinary record, and open_many opens single ones.
    assert [reader.open_record(r, a) for r, a in zip(recs, ads)] == pts
    assert reader.open_many(recs, ads) == pts
    singles = [writer.seal(p, a) for p, a in zip(pts, ads)]
    assert reader.open_many(singles, ads) == pts
    # No associated data; bytes-like inputs and iterators are accepted.
    recs = writer.seal_many(iter([bytearray(b"one"), memoryview(b"two"), b"three"]))
    assert reader.open_many(iter(recs)) == [b"one", b"two", b"three"]
    assert reader.open_many([bytearray(r) for r in recs], [b"", b"", b""]) == [b"one", b"two", b"three"]
    with pytest.raises(aios.AuthenticationError):
        reader.open_many(recs, [b"", b"x", b""])
    # A buffer whose len() is not its size in bytes.
    import array as _array
    wide = _array.array("I", [1, 2, 3])
    (rec,) = writer.seal_many([wide])
    assert reader.open_many([rec]) == [wide.tobytes()]
    assert writer.seal_many([]) == [] and reader.open_many([]) == []
    reader.close()


def test_open_many_failures(writer: env.Session, kek: Key) -> None:
    pts = [f"record {i}".encode() for i in range(6)]
    recs = writer.seal_many(pts)
    for k in (0, 3, 5):
        bad = list(recs)
        flipped = bytearray(bad[k])
        flipped[env.RECORD_OVERHEAD - 16 - 1] ^= 1   # the last byte of the head
        bad[k] = bytes(flipped)
        with pytest.raises(aios.AuthenticationError) as info:
            writer.open_many(bad)
        assert info.value.index == k
        assert f"record {k}" in str(info.value)
    other = env.Session.new(kek).seal(b"elsewhere")
    with pytest.raises(aios.UnknownSessionError) as uinfo:
        writer.open_many(recs[:2] + [other] + recs[2:])
    assert uinfo.value.index == 2
    with pytest.raises(aios.InvalidInputError) as finfo:
        writer.open_many([recs[0], b"short"])
    assert finfo.value.index == 1
    with pytest.raises(aios.InvalidInputError) as ainfo:
        writer.open_many(recs, [b""])   # one ad for six records
    assert getattr(ainfo.value, "index", None) is None
    with pytest.raises(TypeError):
        writer.seal_many(["text"])  # type: ignore[list-item]


def test_seal_many_limits(kek: Key) -> None:
    s = env.Session.new(kek, max_records=5)
    assert len(s.seal_many([b"1", b"2", b"3"])) == 3
    with pytest.raises(aios.LimitExceededError) as info:
        s.seal_many([b"4", b"5", b"6"])   # refused whole ...
    assert info.value.index is None
    assert len(s.seal_many([b"4", b"5"])) == 2   # ... nothing was counted
    with pytest.raises(aios.LimitExceededError):
        s.seal(b"6")
    big = env.Session.new(kek)
    with pytest.raises(aios.LimitExceededError) as binfo:
        big.seal_many([b"ok", b"ok"], [b"", bytes(env.RECORD_AD_MAX + 1)])
    assert binfo.value.index == 1
    reader = env.Session.open(s.header, kek)
    with pytest.raises(aios.StateError):
        reader.seal_many([b"x"])
    reader.close()
    s.close()
    with pytest.raises(aios.StateError):
        s.seal_many([b"x"])


def test_many_in_several_calls(writer: env.Session, kek: Key) -> None:
    # 40 records of 8 KiB: over 128 KiB, so sealed and opened in pieces.
    pts = [bytes([i]) * 8192 for i in range(40)]
    ads = [i.to_bytes(2, "big") for i in range(40)]
    assert len(env._batch_groups([len(p) for p in pts])) > 1
    recs = writer.seal_many(pts, ads)
    reader = env.Session.open(writer.header, kek)
    assert reader.open_many(recs, ads) == pts
    assert reader.open_record(recs[39], ads[39]) == pts[39]
    bad = list(recs)
    bad[35] = bad[35][:-1] + bytes([bad[35][-1] ^ 1])
    with pytest.raises(aios.AuthenticationError) as info:
        reader.open_many(bad, ads)
    assert info.value.index == 35
    # One record over the piece size is a call of its own.
    assert env._batch_groups([10, 200_000, 10]) == [(0, 1), (1, 2), (2, 3)]
    assert env._batch_groups([10] * 5) == [(0, 5)]
    # Several calls count against max_records one call at a time.
    s = env.Session.new(kek, max_records=10)
    with pytest.raises(aios.LimitExceededError):
        s.seal_many([bytes(65536)] * 12)
    reader.close()


def test_session_references(writer: env.Session) -> None:
    twin = copy.copy(writer)
    rec = writer.seal(b"shared")
    writer.close()
    with pytest.raises(aios.StateError):
        writer.seal(b"x")
    with pytest.raises(aios.StateError):
        writer.open_record(rec)
    assert writer.closed and not twin.closed
    assert twin.open_record(rec) == b"shared"
    twin.close()
    with pytest.raises(TypeError):
        env.Session()


def test_released_by_its_finalizer(kek: Key) -> None:
    """A session whose finalizer ran while it is still referenced (as at
    interpreter exit, for a daemon thread or a late atexit handler) is
    closed: using it raises StateError, never reaching C with the freed
    handle."""
    s = env.Session.new(kek)
    rec = s.seal(b"x" * 100)
    s._finalizer()  # type: ignore[misc]   # what atexit runs
    assert s.closed
    with pytest.raises(aios.StateError):
        s.seal(b"x" * 100)
    with pytest.raises(aios.StateError):
        s.open_record(rec)
    with pytest.raises(aios.StateError):
        s.header
    s.close()   # idempotent


def test_session_many_threads(writer: env.Session, kek: Key) -> None:
    reader = env.Session.open(writer.header, kek)
    failures: List[BaseException] = []

    def worker(t: int) -> None:
        try:
            for i in range(300):
                pt = f"thread {t} record {i}".encode()
                ad = i.to_bytes(4, "big")
                rec = writer.seal(pt, ad)
                assert reader.open_record(rec, ad) == pt
                assert writer.open_record(rec, ad) == pt
        except BaseException as exc:  # pragma: no cover
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# ------------------------------------------------------------ JSON fields

DOC: Dict[str, Any] = {
    "id": 17,
    "name": "Ada Lovelace",
    "ssn": "078-05-1120",
    "age": 36,
    "vip": True,
    "notes": None,
    "score": 9.5,
    "address": {"city": "London", "zip": "W1"},
    "tags": ["a", "b"],
}
POINTERS = ["/name", "/ssn", "/age", "/vip", "/notes", "/score", "/address", "/tags/1"]


def test_fields_random_round_trip(writer: env.Session, kek: Key) -> None:
    text = env.encrypt_fields(json.dumps(DOC), writer, POINTERS, record_id="17")
    assert isinstance(text, str)
    out = json.loads(text)
    assert out["id"] == 17 and out["tags"][0] == "a"  # the rest stays readable
    assert list(out) == list(DOC)  # key order kept
    for ptr in POINTERS:
        node: Any = out
        for part in ptr.strip("/").split("/"):
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert isinstance(node, str) and node.startswith(env.FIELD_PREFIX), ptr
    assert "Ada" not in text and "078-05" not in text
    reader = env.Session.open(writer.header, kek)
    assert json.loads(env.decrypt_fields(text, reader, record_id="17")) == DOC
    assert json.loads(env.decrypt_fields(text.encode(), [writer], record_id=b"17")) == DOC
    # The record id is bound: a field cannot move to another document.
    with pytest.raises(aios.AuthenticationError):
        env.decrypt_fields(text, reader, record_id="18")
    # Random mode: equal values give unrelated strings.
    again = json.loads(env.encrypt_fields(DOC, writer, ["/name"], record_id="17"))
    assert again["name"] != out["name"]


def test_fields_deterministic(det_writer: env.Session, writer: env.Session) -> None:
    a = json.loads(env.encrypt_fields({"email": "a@x.org", "other": "a@x.org"}, det_writer,
                                      ["/email", "/other"], deterministic=True))
    b = json.loads(env.encrypt_fields({"email": "a@x.org"}, det_writer, ["/email"], deterministic=True))
    c = json.loads(env.encrypt_fields({"email": "b@x.org"}, det_writer, ["/email"], deterministic=True))
    assert a["email"] == b["email"]  # equal values at one pointer: equal strings (joinable)
    assert a["email"] != c["email"]
    assert a["email"] != a["other"]  # the pointer is bound
    d = json.loads(env.encrypt_fields({"email": "a@x.org"}, det_writer, ["/email"], deterministic=True,
                                      record_id="r1"))
    assert d["email"] != a["email"]  # and so is the record id
    assert json.loads(env.decrypt_fields(json.dumps(a), det_writer)) == {"email": "a@x.org", "other": "a@x.org"}
    # Random mode under the same session still differs each time.
    r1 = json.loads(env.encrypt_fields({"email": "a@x.org"}, det_writer, ["/email"]))
    r2 = json.loads(env.encrypt_fields({"email": "a@x.org"}, det_writer, ["/email"]))
    assert r1["email"] != r2["email"]
    # A session not made for deterministic fields refuses them.
    with pytest.raises(aios.EnvelopeModeError) as info:
        env.encrypt_fields({"email": "a@x.org"}, writer, ["/email"], deterministic=True)
    assert info.value.status == Status.E_ENVELOPE_MODE


def test_fields_missing_and_unknown_session(writer: env.Session, kek: Key) -> None:
    with pytest.raises(aios.NotFoundError) as info:
        env.encrypt_fields(DOC, writer, ["/nope"])
    assert "/nope" in info.value.message
    text = env.encrypt_fields(DOC, writer, ["/nope", "/ssn"], skip_missing=True)
    assert json.loads(text)["ssn"].startswith(env.FIELD_PREFIX)
    # Already encrypted fields are left as they are.
    assert json.loads(env.encrypt_fields(text, writer, "/ssn"))["ssn"] == json.loads(text)["ssn"]
    stranger = env.Session.new(kek)
    with pytest.raises(aios.UnknownSessionError) as unknown:
        env.decrypt_fields(text, stranger)
    assert "/ssn" in unknown.value.message
    with pytest.raises(aios.InvalidInputError):
        env.encrypt_fields("{not json", writer, ["/a"])
    with pytest.raises(TypeError):
        env.encrypt_fields(42, writer, ["/a"])  # type: ignore[arg-type]
