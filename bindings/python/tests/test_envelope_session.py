"""aios.envelope sessions (one wrapped data key, many records) and
field-level encryption of JSON documents."""

from __future__ import annotations

import copy
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


def test_session_references(writer: env.Session) -> None:
    twin = copy.copy(writer)
    rec = writer.seal(b"shared")
    writer.close()
    with pytest.raises(aios.StateError):
        writer.seal(b"x")
    assert twin.open_record(rec) == b"shared"
    twin.close()
    with pytest.raises(TypeError):
        env.Session()


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
