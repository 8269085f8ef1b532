"""aios.envelope random access (Reader) and rewrap."""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path
from typing import List

import pytest

import aios
from aios import Key, Keyring, KeyType
from aios import envelope as env

CS = 4096


@pytest.fixture
def kek(keyring: Keyring) -> Key:
    return keyring.add("kek", KeyType.AES256)


@pytest.fixture
def plaintext() -> bytes:
    return random.Random(42).randbytes(10 * CS + 123)


@pytest.fixture
def message(kek: Key, plaintext: bytes) -> bytes:
    return env.seal(plaintext, kek, {"doc": "big"}, chunk_size=CS)


def check_random_reads(r: env.Reader, pt: bytes, seed: int = 0) -> None:
    rng = random.Random(seed)
    assert r.size == len(r) == len(pt)
    assert r.chunk_size == CS
    for _ in range(60):
        off = rng.randrange(0, len(pt) + 10)
        n = rng.choice([0, 1, 15, CS - 1, CS, CS + 1, 3 * CS, len(pt)])
        assert r.read(off, n) == pt[off:off + n], (off, n)
    assert r.read(0, len(pt)) == pt
    assert r.read(len(pt), 100) == b""
    assert r.read(len(pt) - 1, 100) == pt[-1:]


def test_reader_from_bytes(kek: Key, message: bytes, plaintext: bytes) -> None:
    with env.Reader(message, kek, expected_context={"doc": "big"}) as r:
        check_random_reads(r, plaintext)
        info = r.info
        assert info["authenticated"] is True and info["context"] == {"doc": "big"}
    with pytest.raises(aios.StateError):
        r.read(0, 1)


def test_reader_from_bytearray_keeps_the_memory(kek: Key, message: bytes, plaintext: bytes) -> None:
    data = bytearray(message)
    r = env.Reader(data, [kek])
    with pytest.raises(BufferError):
        data.extend(b"x")  # the reader borrows the memory
    del data
    check_random_reads(r, plaintext, seed=1)
    r.close()


def test_reader_from_path_fd_and_file(kek: Key, message: bytes, plaintext: bytes, tmp_path: Path) -> None:
    path = tmp_path / "m.aios"
    path.write_bytes(message)
    with env.Reader(path, kek) as r:
        check_random_reads(r, plaintext, seed=2)
    with env.Reader(str(path), kek) as r:
        assert r.read(5, 10) == plaintext[5:15]
    fd = os.open(path, os.O_RDONLY)
    try:
        r = env.Reader(fd, kek)
    finally:
        os.close(fd)  # the reader has its own dup()
    with r:
        check_random_reads(r, plaintext, seed=3)
    with open(path, "rb") as f:
        r = env.Reader(f, kek)
    with r:
        assert r.read(CS - 3, 6) == plaintext[CS - 3:CS + 3]


def test_reader_checks_on_creation(kek: Key, keyring: Keyring, message: bytes) -> None:
    hl = env.header_len(message)
    with pytest.raises(aios.TruncatedError):
        env.Reader(message[: hl + 10 * (CS + 16)], kek)  # the final chunk dropped
    bad_final = bytearray(message)
    bad_final[-1] ^= 1
    with pytest.raises(aios.AuthenticationError):
        env.Reader(bytes(bad_final), kek)  # the final chunk is verified at once
    with pytest.raises(aios.NoRecipientError):
        env.Reader(message, keyring.add("other", KeyType.AES256))
    with pytest.raises(aios.ContextMismatchError):
        env.Reader(message, kek, expected_context={"doc": "small"})


def test_reader_tampered_chunk(kek: Key, message: bytes, plaintext: bytes) -> None:
    hl = env.header_len(message)
    bad = bytearray(message)
    bad[hl + 2 * (CS + 16) + 5] ^= 0x04  # inside chunk 2
    with env.Reader(bytes(bad), kek) as r:
        assert r.read(0, 2 * CS) == plaintext[: 2 * CS]  # chunks 0 and 1 are fine
        with pytest.raises(aios.AuthenticationError):
            r.read(2 * CS + 1, 10)
        with pytest.raises(aios.AuthenticationError):
            r.read(CS, 2 * CS)  # touches chunk 2
        assert r.read(3 * CS, 10) == plaintext[3 * CS: 3 * CS + 10]


def test_reader_many_threads(kek: Key, message: bytes, plaintext: bytes) -> None:
    failures: List[BaseException] = []
    with env.Reader(message, kek) as r:
        def worker(seed: int) -> None:
            try:
                check_random_reads(r, plaintext, seed=seed)
            except BaseException as exc:  # pragma: no cover
                failures.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert failures == []


# ------------------------------------------------------------ rewrap


def test_rewrap_to_rotated_version(keyring: Keyring, kek: Key, message: bytes, plaintext: bytes) -> None:
    v2 = keyring.rotate("kek")
    assert (kek.version, v2.version) == (1, 2)
    new_header, old_len = env.rewrap(message, kek, add=[v2])
    assert old_len == env.header_len(message)
    rewrapped = new_header + message[old_len:]
    info = env.peek(rewrapped)
    assert info["recipients"] == [{"kind": "kek", "provider": "local", "key_id": "kek", "version": 2}]
    old = env.peek(message)
    assert info["message_id"] == old["message_id"] and info["session_id"] == old["session_id"]
    assert info["context"] == old["context"]
    # Opens with only the new version; the old version no longer matches.
    assert env.open(rewrapped, v2, expected_context={"doc": "big"}) == plaintext
    with pytest.raises(aios.NoRecipientError):
        env.open(rewrapped, kek)
    # The old version can now be destroyed.
    keyring.destroy("kek", 1)
    with env.Keys(providers=[keyring.provider]) as ks:
        assert env.open(rewrapped, ks) == plaintext


def test_rewrap_add_remove_replace(keyring: Keyring, kek: Key, message: bytes, plaintext: bytes) -> None:
    x = keyring.add("svc", KeyType.X25519)
    pub = Key.from_public_pem(x.public_pem())
    other = keyring.add("other", KeyType.AES256)
    header, n = env.rewrap(message, kek, add=pub)
    both = header + message[n:]
    assert [r["kind"] for r in env.peek(both)["recipients"]] == ["kek", "x25519"]
    assert env.open(both, x) == plaintext and env.open(both, kek) == plaintext
    header, n = env.rewrap(both, x, remove=[kek])
    only_x = header + message[env.header_len(message):]
    assert [r["kind"] for r in env.peek(only_x)["recipients"]] == ["x25519"]
    with pytest.raises(aios.NoRecipientError):
        env.open(only_x, kek)
    header, n = env.rewrap(both, kek, add=[other], replace_all=True)
    only_other = header + both[n:]
    assert env.peek(only_other)["recipients"] == [
        {"kind": "kek", "provider": "local", "key_id": "other", "version": 1}
    ]
    assert env.open(only_other, other) == plaintext
    with pytest.raises(aios.InvalidInputError):
        env.rewrap(message, kek, remove=[kek])  # nothing left
    with pytest.raises(aios.NoRecipientError):
        env.rewrap(message, other, add=[x])  # the header must be opened first
    tampered = bytearray(message)
    tampered[env.header_len(message) - 1] ^= 1
    with pytest.raises(aios.AuthenticationError):
        env.rewrap(bytes(tampered), kek, add=[other])


def test_rewrap_fd(keyring: Keyring, kek: Key, message: bytes, plaintext: bytes, tmp_path: Path) -> None:
    v2 = keyring.rotate("kek")
    (tmp_path / "in").write_bytes(message)
    with open(tmp_path / "in", "rb", buffering=0) as src, open(tmp_path / "out", "wb") as dst:
        env.rewrap_fd(src, dst, [kek], add=[v2])
    out = (tmp_path / "out").read_bytes()
    hl = env.header_len(message)
    assert out[env.header_len(out):] == message[hl:]  # payload copied unread
    assert env.open(out, v2) == plaintext
