"""aios.envelope streaming: Sealer/Opener, seal_stream/open_stream over
file objects, seal_fd/open_fd over descriptors (files and pipes)."""

from __future__ import annotations

import io
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


def payload(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


@pytest.fixture
def kek(keyring: Keyring) -> Key:
    return keyring.add("kek", KeyType.AES256)


@pytest.fixture
def x25519(keyring: Keyring) -> Key:
    return keyring.add("svc", KeyType.X25519)


def pieces(data: bytes, seed: int) -> List[bytes]:
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(data):
        n = rng.choice([1, 7, 100, CS - 1, CS, CS + 1, 3 * CS + 2])
        out.append(data[i:i + n])
        i += n
    return out


@pytest.mark.parametrize("n", [0, 1, CS, CS + 1, 5 * CS + 17, 100_000])
def test_sealer_opener_round_trip(kek: Key, n: int) -> None:
    pt = payload(n, seed=n)
    with env.Sealer(kek, {"stream": "yes"}, chunk_size=CS) as s:
        parts = [s.update(p) for p in pieces(pt, 1)]
        parts.append(s.final())
    msg = b"".join(parts)
    # A streamed message is an ordinary message.
    assert env.open(msg, kek, expected_context={"stream": "yes"}) == pt
    hl = env.header_len(msg)
    assert len(msg) - hl == n + 16 * max(1, -(-n // CS))
    with env.Opener(kek, expected_context={"stream": "yes"}) as o:
        out = [o.update(p) for p in pieces(msg, 2)]
        out.append(o.final())
    assert b"".join(out) == pt


def test_opener_releases_verified_chunks_as_they_arrive(kek: Key) -> None:
    pt = payload(4 * CS)
    msg = env.seal(pt, kek, chunk_size=CS)
    hl = env.header_len(msg)
    with env.Opener(kek) as o:
        assert o.update(msg[:hl]) == b""
        assert o.update(msg[hl:hl + CS + 16]) == b""  # needs one byte of look-ahead
        got = o.update(msg[hl + CS + 16:hl + 2 * (CS + 16)])
        assert got == pt[:CS]
        got += o.update(msg[hl + 2 * (CS + 16):])
        got += o.final()
    assert got == pt


def test_sealer_bound_and_sizes(kek: Key) -> None:
    with env.Sealer(kek, chunk_size=CS) as s:
        assert s.bound(0) >= CS + 16
        assert s.bound(10 * CS) >= 10 * (CS + 16)
        first = s.update(b"a" * 10)
        assert first == b"" or len(first) >= 18  # the header comes first (maybe at once)
        rest = s.update(b"b" * (3 * CS)) + s.final()
    msg = first + rest
    assert env.open(msg, kek) == b"a" * 10 + b"b" * (3 * CS)


def test_opener_info(kek: Key, x25519: Key) -> None:
    pub = Key.from_public_pem(x25519.public_pem())
    msg = env.seal(b"routed", [kek, pub], {"k": "v"})
    hl = env.header_len(msg)
    with env.Opener([x25519]) as o:
        with pytest.raises(aios.StateError):
            o.info
        o.update(msg[:hl])
        info = o.info
        assert info["authenticated"] is True and info["opened_by"] == 1
        assert info["context"] == {"k": "v"}
        assert o.update(msg[hl:]) + o.final() == b"routed"


def test_stream_state_errors(kek: Key) -> None:
    s = env.Sealer(kek)
    s.update(b"x")
    s.final()
    with pytest.raises(aios.StateError):
        s.update(b"more")
    with pytest.raises(aios.StateError):
        s.final()
    s.close()
    s.close()
    with pytest.raises(aios.StateError) as info:
        s.update(b"x")
    assert "closed" in info.value.message


def test_opener_truncated_output_is_provisional(kek: Key) -> None:
    pt = payload(3 * CS + 5)
    msg = env.seal(pt, kek, chunk_size=CS)
    hl = env.header_len(msg)
    cut = msg[: hl + 3 * (CS + 16)]  # the final chunk is missing
    with env.Opener(kek) as o:
        released = o.update(cut)
        assert pt.startswith(released)  # earlier chunks were released ...
        with pytest.raises(aios.TruncatedError):
            o.final()  # ... but the stream is not whole
        with pytest.raises(aios.TruncatedError):
            o.final()  # errors are sticky


def test_opener_tampered_chunk(kek: Key) -> None:
    msg = bytearray(env.seal(payload(3 * CS), kek, chunk_size=CS))
    msg[-5] ^= 0x10
    with env.Opener(kek) as o:
        with pytest.raises(aios.AuthenticationError):
            o.update(bytes(msg))
            o.final()


def test_opener_trailing_data_and_wrong_key(kek: Key, keyring: Keyring) -> None:
    msg = env.seal(b"a" * CS, kek, chunk_size=CS)  # a full final chunk ...
    with env.Opener(kek) as o:
        with pytest.raises(aios.TrailingDataError):
            o.update(msg + b"junk")  # ... followed by more (FORMAT.md 8.4 step 4)
            o.final()
    other = keyring.add("other", KeyType.AES256)
    with env.Opener(other) as o:
        with pytest.raises(aios.NoRecipientError):
            o.update(msg)


def test_seal_stream_open_stream_file_objects(kek: Key, tmp_path: Path) -> None:
    pt = payload(300_001, seed=5)
    sealed = io.BytesIO()
    written = env.seal_stream(io.BytesIO(pt), sealed, kek, {"f": "1"}, chunk_size=CS, threads=2, read_size=1000)
    msg = sealed.getvalue()
    assert written == len(msg)
    assert env.open(msg, kek) == pt
    src_path, dst_path = tmp_path / "m.aios", tmp_path / "m.out"
    src_path.write_bytes(msg)
    with open(src_path, "rb") as src, open(dst_path, "wb") as dst:
        assert env.open_stream(src, dst, [kek], expected_context={"f": "1"}, threads=2) == len(pt)
    assert dst_path.read_bytes() == pt
    with pytest.raises(aios.ContextMismatchError):
        env.open_stream(io.BytesIO(msg), io.BytesIO(), kek, expected_context={"f": "2"})
    final_len = len(pt) % CS + 16
    with pytest.raises(aios.TruncatedError):  # the final chunk dropped
        env.open_stream(io.BytesIO(msg[:-final_len]), io.BytesIO(), kek)
    with pytest.raises(aios.AuthenticationError):  # cut inside a chunk
        env.open_stream(io.BytesIO(msg[:-40]), io.BytesIO(), kek)


def test_seal_fd_open_fd_files(kek: Key, tmp_path: Path) -> None:
    pt = payload(123_457, seed=9)
    (tmp_path / "plain").write_bytes(pt)
    with open(tmp_path / "plain", "rb", buffering=0) as src, open(tmp_path / "sealed", "wb") as dst:
        env.seal_fd(src, dst, kek, {"fd": "yes"}, chunk_size=CS)
    msg = (tmp_path / "sealed").read_bytes()
    assert env.open(msg, kek, expected_context={"fd": "yes"}) == pt
    src_fd = os.open(tmp_path / "sealed", os.O_RDONLY)
    dst_fd = os.open(tmp_path / "opened", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        env.open_fd(src_fd, dst_fd, kek, threads=2)
    finally:
        os.close(src_fd)
        os.close(dst_fd)
    assert (tmp_path / "opened").read_bytes() == pt
    # A changed byte: the output is not to be used, and the call raises.
    bad = bytearray(msg)
    bad[len(bad) // 2] ^= 1
    (tmp_path / "bad").write_bytes(bytes(bad))
    with open(tmp_path / "bad", "rb", buffering=0) as src, open(tmp_path / "out2", "wb") as dst:
        with pytest.raises(aios.AuthenticationError):
            env.open_fd(src, dst, kek)


def test_seal_fd_through_pipes(kek: Key) -> None:
    pt = payload(200_000, seed=11)
    r_in, w_in = os.pipe()
    r_out, w_out = os.pipe()
    chunks: List[bytes] = []

    def feed() -> None:
        with os.fdopen(w_in, "wb") as f:
            f.write(pt)

    def drain() -> None:
        with os.fdopen(r_out, "rb") as f:
            chunks.append(f.read())

    threads = [threading.Thread(target=feed), threading.Thread(target=drain)]
    for t in threads:
        t.start()
    try:
        env.seal_fd(r_in, w_out, kek, chunk_size=CS)
    finally:
        os.close(r_in)
        os.close(w_out)
    for t in threads:
        t.join()
    assert env.open(chunks[0], kek) == pt


def test_fd_arguments(kek: Key) -> None:
    with pytest.raises(TypeError):
        env.seal_fd("in", "out", kek)  # type: ignore[arg-type]
    with pytest.raises(aios.AiosIOError):
        env.seal_fd(987654, 987655, kek)  # descriptors that are not open
