"""aios.manifest: signed model manifests through the binding (the C side is
tests/unit/test_manifest_api.c): sign and verify, the diff, shards,
incremental checks and streams, the stat cache, provenance, progress and
cancellation, bad input, and the golden bundles of ../shared/vectors/oms."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import pickle
import signal
import ssl
import threading
import time
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest

import aios
from aios import _ffi
from aios import manifest as am
from aios.manifest import Change, Method

from conftest import repo_root

OMS = repo_root().parent / "shared" / "vectors" / "oms"
MT = OMS / "model-transparency"
#: The root digest of signme-1 + signme-2 (every golden elliptic-key folder).
ROOT_S1N_S2 = "92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4"
CAFE = "weights/part 2 caf\u00e9.bin"
BIG = 3 << 20


def _big() -> bytes:
    return bytes((i * 131 + (i >> 13)) & 0xFF for i in range(BIG))


_BIG = _big()


def make_model(d: Path) -> Path:
    (d / "weights").mkdir(parents=True, exist_ok=True)
    (d / "a" / "b" / "c").mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text('{"layers": 2}')
    (d / "weights" / "part-1.bin").write_bytes(_BIG)
    (d / CAFE).write_text("second part")
    (d / "empty").write_bytes(b"")
    (d / "a" / "b" / "c" / "deep.txt").write_text("deep")
    return d


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return make_model(tmp_path / "model")


@pytest.fixture
def keys(keyring: aios.Keyring) -> Iterator[Tuple[aios.Key, aios.Key, aios.Key, aios.Key]]:
    p256 = keyring.add("p256", "ecdsa-p256")
    p384 = keyring.add("p384", "ecdsa-p384")
    ed = keyring.add("ed", "ed25519")
    pub = aios.Key.from_public_pem(p256.public_pem())
    yield p256, p384, ed, pub
    for k in (p256, p384, ed, pub):
        k.close()


def sign_verify(model: Path, signer: aios.Key, verifier: aios.Key, **opts: Any) -> am.Manifest:
    bundle, signed = am.sign(model, signer, **opts)
    with signed:
        assert am.Flags.SIGNED in signed.flags
        assert not signed.verified
        m = am.verify_key(bundle, verifier)
        assert m.verified and am.Flags.VERIFIED in m.flags
        assert m.root_digest == signed.root_digest
        assert m.statement_digest == signed.statement_digest
    return m


# ------------------------------------------------------------- constants


def test_constants_match_the_library() -> None:
    assert am.BUNDLE_MAX == _ffi.lib.aios_manifest_bundle_max()
    assert am.RESOURCES_MAX == _ffi.lib.aios_manifest_resources_max()


def test_exceptions_are_exported_and_classified() -> None:
    assert issubclass(aios.ManifestMismatchError, aios.AuthenticationError)
    assert am.ManifestMismatchError is aios.ManifestMismatchError
    assert issubclass(am.ManifestNotSignedError, aios.NotFoundError)
    assert issubclass(am.ManifestUnverifiedError, aios.StateError)
    assert issubclass(am.ManifestChangedError, aios.AiosIOError)
    assert issubclass(am.ManifestPathError, aios.InvalidInputError)
    for name in am.__all__:
        assert hasattr(am, name), name


def test_enums_parse() -> None:
    assert am.Profile.parse("oms-1.0") is am.Profile.OMS_1_0
    assert am.Profile.parse("model-signing-1") is am.Profile.MODEL_SIGNING_1
    assert Method.parse("shards") is Method.SHARDS and Method.parse(0) is Method.FILES
    assert am.TimePolicy.parse("leaf-not-before") is am.TimePolicy.LEAF_NOT_BEFORE
    with pytest.raises(aios.InvalidInputError):
        Method.parse("chunks")
    with pytest.raises(aios.InvalidInputError):
        am.Profile.parse(9)
    with pytest.raises(TypeError):
        Method.parse(1.5)  # type: ignore[arg-type]


# ------------------------------------------------------------- sign / verify


def test_sign_verify_dir_every_key_type(model: Path, keys: Any) -> None:
    p256, p384, ed, _ = keys
    for k in (p256, p384, ed):
        with sign_verify(model, k, k) as m:
            assert m.method is Method.FILES
            assert len(m) == 5 and len(m.resources) == 5
            assert m.hash_type == "sha256"
            assert m.shard_size == 0
            assert m.subject_name == model.name
            assert m.profile is am.Profile.MODEL_SIGNING_1
            names = [r.name for r in m.resources]
            assert sorted(names) == sorted(["config.json", "weights/part-1.bin", CAFE, "empty", "a/b/c/deep.txt"])
            by_name = {r.name: r for r in m.resources}
            assert by_name["weights/part-1.bin"].digest == hashlib.sha256(_BIG).digest()
            assert by_name["empty"].digest == hashlib.sha256(b"").digest()
            assert by_name["config.json"].start == 0 and by_name["config.json"].end == 2**64 - 1
            diff = m.verify_dir(model)
            assert len(diff) == 0 and diff.ok and not diff
            assert diff.to_json() == '{"missing":[],"extra":[],"modified":[],"extra_empty":[]}'
            assert m.signer["method"] == "key"
            assert m.provenance is None
            doc = m.as_dict()
            assert doc["verified"] is True
            assert json.loads(m.to_json()) == doc


def test_verify_with_public_key_and_wrong_key(model: Path, keys: Any) -> None:
    p256, p384, _, pub = keys
    bundle, signed = am.sign(model, p256)
    signed.close()
    assert isinstance(bundle, bytes) and json.loads(bundle)["mediaType"].startswith("application/vnd.dev.sigstore")
    with am.verify_key(bundle, pub) as m:
        assert m.verified
    with pytest.raises(am.ManifestKeyMismatchError):
        am.verify_key(bundle, p384)
    # a tampered signature
    doc = json.loads(bundle)
    sig = doc["dsseEnvelope"]["signatures"][0]
    raw = bytearray(__import__("base64").b64decode(sig["sig"]))
    raw[-1] ^= 1
    sig["sig"] = __import__("base64").b64encode(bytes(raw)).decode()
    with pytest.raises(aios.AuthenticationError):
        am.verify_key(json.dumps(doc).encode(), pub)
    # a key bundle is not a certificate bundle
    with pytest.raises(aios.AiosError):
        am.verify_certificate(bundle, [(MT / "keys" / "certificate" / "ca-cert.pem").read_bytes()])


def test_open_bundle_is_unverified(model: Path, keys: Any) -> None:
    p256, _, _, _ = keys
    bundle, signed = am.sign(model, p256)
    with signed, am.open_bundle(bundle) as m:
        assert not m.verified and am.Flags.VERIFIED not in m.flags
        assert m.root_digest == signed.root_digest
        with pytest.raises(am.ManifestUnverifiedError):
            m.verify_dir(model)
        with pytest.raises(am.ManifestUnverifiedError):
            m.stream(model, "config.json")
        assert m.compare_dir(model).ok


def test_manifest_lifetime(model: Path, keys: Any) -> None:
    p256, _, _, pub = keys
    m = sign_verify(model, p256, pub)
    other = copy.copy(m)
    m.close()
    m.close()
    assert m.closed
    with pytest.raises(aios.StateError):
        m.root_digest
    assert other.verified  # its own reference
    other.close()
    with pytest.raises(TypeError):
        am.Manifest()
    with pytest.raises(TypeError):
        pickle.dumps(sign_verify(model, p256, pub))


# ------------------------------------------------------------- the diff


def test_diff_kinds(model: Path, keys: Any, tmp_path: Path) -> None:
    p256, _, _, pub = keys
    m = sign_verify(model, p256, pub)
    (model / "config.json").write_text('{"layers": 3}')
    (model / "new file").write_text("x")
    (model / CAFE).rename(tmp_path / "moved-away")
    with pytest.raises(am.ManifestMismatchError) as info:
        m.verify_dir(model)
    diff = info.value.diff
    assert isinstance(diff, am.Diff)
    assert [(i.kind, i.path) for i in diff] == [
        (Change.MODIFIED, "config.json"), (Change.EXTRA, "new file"), (Change.MISSING, CAFE)]
    assert diff.missing == [CAFE] and diff.extra == ["new file"] and diff.modified == ["config.json"]
    assert diff.extra_empty == [] and not diff.ok
    assert diff.as_dict() == {"missing": [CAFE], "extra": ["new file"],
                              "modified": [{"path": "config.json", "first_bad_offset": 0}], "extra_empty": []}
    assert am.Diff(diff.items).to_json() == diff.to_json()  # the same JSON built in Python
    assert "1 missing, 1 extra, 1 modified" in info.value.message
    # the exception (and its diff) pickles
    again = pickle.loads(pickle.dumps(info.value))
    assert again.diff == diff
    # compare_dir returns the same diff without raising
    assert m.compare_dir(model) == diff
    # ignore_unsigned: the extra file is not reported
    with pytest.raises(am.ManifestMismatchError) as info:
        m.verify_dir(model, ignore_unsigned=True)
    assert [(i.kind, i.path) for i in info.value.diff] == [(Change.MODIFIED, "config.json"), (Change.MISSING, CAFE)]
    # put it all back
    (tmp_path / "moved-away").rename(model / CAFE)
    (model / "new file").unlink()
    (model / "config.json").write_text('{"layers": 2}')
    assert m.verify_dir(model).ok
    m.close()


def test_ignore_paths_and_git(model: Path, keys: Any) -> None:
    p256, _, _, pub = keys
    (model / ".git").mkdir()
    (model / ".git" / "HEAD").write_text("ref")
    (model / "scratch.txt").write_text("not signed")
    with sign_verify(model, p256, pub, ignore_paths=["scratch.txt"]) as m:
        names = {r.name for r in m.resources}
        assert "scratch.txt" not in names and ".git/HEAD" not in names
        assert m.verify_dir(model, ignore_paths=["scratch.txt"]).ok
        assert m.verify_dir(model).ok  # the ignore paths are signed, and apply
        assert "scratch.txt" in m.to_json()
        (model / "other.txt").write_text("neither")
        with pytest.raises(am.ManifestMismatchError) as info:
            m.verify_dir(model)
        assert info.value.diff.extra == ["other.txt"]
        (model / "other.txt").unlink()
    with sign_verify(model, p256, pub, include_git=True) as m:
        assert ".git/HEAD" in {r.name for r in m.resources}


# ------------------------------------------------------------- shards


def test_shards(model: Path, keys: Any) -> None:
    p256, _, _, pub = keys
    m = sign_verify(model, p256, pub, method="shards", shard_size=1 << 20)
    assert m.method is Method.SHARDS and m.shard_size == 1 << 20
    assert len(m) == 6  # 3 shards of the 3 MiB file, 3 small files, none for the empty one
    shards = [r for r in m.resources if r.name.startswith("weights/part-1.bin:")]
    assert [(r.start, r.end) for r in shards] == [(0, 1 << 20), (1 << 20, 2 << 20), (2 << 20, 3 << 20)]
    assert shards[1].digest == hashlib.sha256(_BIG[1 << 20:2 << 20]).digest()
    diff = m.verify_dir(model)
    assert diff.extra_empty == ["empty"] and diff.ok
    with pytest.raises(am.ManifestMismatchError):
        m.verify_dir(model, strict_empty=True)
    # one byte changed in the third MiB
    with open(model / "weights" / "part-1.bin", "r+b") as f:
        f.seek((2 << 20) + 5)
        f.write(b"X")
    with pytest.raises(am.ManifestMismatchError) as info:
        m.verify_dir(model)
    modified = [i for i in info.value.diff if i.kind is Change.MODIFIED]
    assert modified == [am.DiffItem(Change.MODIFIED, "weights/part-1.bin", 2 << 20)]
    # incremental checks: by path and by descriptor
    m.verify_range(model, "weights/part-1.bin", 0, 2 << 20)
    fd = os.open(model, os.O_RDONLY)
    try:
        m.verify_range(fd, "weights/part-1.bin", 100, 1000)
        with pytest.raises(am.ManifestMismatchError):
            m.verify_range(fd, "weights/part-1.bin", (2 << 20) - 1, 2)
        with pytest.raises(am.ManifestNotSignedError):
            m.verify_range(fd, "weights/part-1.bin", 0, 4 << 20)
        with pytest.raises(am.ManifestMismatchError):
            m.verify_file(fd, "weights/part-1.bin")
        m.verify_file(fd, "config.json")
        with pytest.raises(am.ManifestNotSignedError):
            m.verify_file(fd, "empty")
    finally:
        os.close(fd)
    with pytest.raises(ValueError):
        m.verify_range(model, "config.json", -1, 1)
    m.close()


def test_blake2b_and_subject(model: Path, keys: Any) -> None:
    p256, _, _, pub = keys
    with sign_verify(model, p256, pub, hash_type="blake2b", subject_name="my-model") as m:
        assert m.hash_type == "blake2b" and m.subject_name == "my-model"
        assert m.verify_dir(model).ok


# ------------------------------------------------------------- streams


def test_streams(model: Path, keys: Any) -> None:
    p256, _, _, pub = keys
    mf = sign_verify(model, p256, pub)
    ms = sign_verify(model, p256, pub, method=Method.SHARDS, shard_size=1 << 20)
    # files method: read everything, then finish
    with mf.stream(model, "weights/part-1.bin") as s:
        assert s.size == BIG and s.readable()
        assert s.fileno() >= 0
        data = b""
        while True:
            chunk = s.read(100000)
            if not chunk:
                break
            data += chunk
        assert data == _BIG
        s.finish()
    assert s.closed and not s.readable()
    # finish reads what the caller did not
    with mf.stream(model, "weights/part-1.bin") as s:
        assert len(s.read(10)) == 10
        s.finish()
    # readinto
    with mf.stream(model, "config.json") as s:
        buf = bytearray(100)
        n = s.readinto(buf)
        assert bytes(buf[:n]) == b'{"layers": 2}'
        s.finish()
    # read_verified: whole shards, into a buffer that must hold one
    with ms.stream(model, "weights/part-1.bin") as s:
        assert s.unit_size == 1 << 20
        with pytest.raises(aios.InvalidInputError):
            s.read_verified(bytearray(1000))
        buf = bytearray((1 << 20) + 10)
        assert s.read_verified(buf) == 1 << 20 and bytes(buf[: 1 << 20]) == _BIG[: 1 << 20]
        with pytest.raises(aios.StateError):  # no mixing of the two ways
            s.read(10)
        assert s.read_verified() == _BIG[1 << 20: 2 << 20]
        assert b"".join(s.iter_verified()) == _BIG[2 << 20:]
    # streams that hash on threads of their own: the same bytes
    for threads in (2, 3, None):
        with mf.stream(model, "weights/part-1.bin", threads=threads) as s:
            parts = []
            while True:
                chunk = s.read(1 << 20)
                if not chunk:
                    break
                parts.append(chunk)
            s.finish()
            assert b"".join(parts) == _BIG
        with ms.stream(model, "weights/part-1.bin", threads=threads) as s:
            buf = bytearray(3 << 20)
            assert s.read_verified(buf) == 3 << 20 and bytes(buf) == _BIG
            assert s.read_verified(buf) == 0
            s.finish()
    # a changed byte in the second shard: the first is handed out, the second never is
    with open(model / "weights" / "part-1.bin", "r+b") as f:
        f.seek((1 << 20) + 7)
        f.write(b"X")
    with ms.stream(model, "weights/part-1.bin") as s:
        assert s.read_verified() == _BIG[: 1 << 20]
        buf = bytearray(b"\xaa" * (1 << 20))
        with pytest.raises(am.ManifestMismatchError):
            s.read_verified(buf)
        assert buf[::4096] == bytes(256)
        with pytest.raises(am.ManifestMismatchError):  # failed for good
            s.read_verified()
    # files method: read hands out bytes, the end of the file says no, finish too
    with mf.stream(model, "weights/part-1.bin") as s:
        with pytest.raises(am.ManifestMismatchError):
            s.read()
        with pytest.raises(am.ManifestMismatchError):
            s.finish()
    # the same through streams that hash on threads of their own
    for threads in (2, 3, None):
        with mf.stream(model, "weights/part-1.bin", threads=threads) as s:
            with pytest.raises(am.ManifestMismatchError):
                while s.read(1 << 20):  # a later read, or finish, says so
                    pass
                s.finish()
        with ms.stream(model, "weights/part-1.bin", threads=threads) as s:
            buf = bytearray(b"\xaa" * (3 << 20))
            with pytest.raises(am.ManifestMismatchError) as e:
                s.read_verified(buf)  # three shards at once: none handed out
            assert "bytes 1048576..2097152" in str(e.value)
            assert buf[::4096] == bytes(768)
    # names the manifest does not hold, traversal, symlinks
    with pytest.raises(am.ManifestNotSignedError):
        mf.stream(model, "nope")
    with pytest.raises(am.ManifestPathError):
        mf.stream(model, "../x")
    with pytest.raises(am.ManifestPathError):
        mf.stream(model, "/etc/passwd")
    (model / "config.json").unlink()
    (model / "config.json").symlink_to("a/b/c/deep.txt")
    with pytest.raises(am.ManifestSymlinkError):
        mf.stream(model, "config.json")
    with pytest.raises(aios.InvalidInputError):
        ms.stream(model, CAFE, threads=1000)
    with pytest.raises(ValueError):
        ms.stream(model, CAFE, threads=-1)
    # a closed stream
    s = ms.stream(model, CAFE)
    s.close()
    with pytest.raises(aios.StateError):
        s.read(1)
    mf.close()
    ms.close()


def test_single_file_model(tmp_path: Path, keys: Any) -> None:
    p256, _, _, pub = keys
    f = tmp_path / "model.bin"
    f.write_bytes(b"weights" * 1000)
    bundle, signed = am.sign(f, p256)
    signed.close()
    with am.verify_key(bundle, pub) as m:
        assert am.Flags.SINGLE_FILE in m.flags and len(m) == 1
        assert m.verify_dir(f).ok
        m.verify_file(f, ".")
        with m.stream(f, ".") as s:
            assert s.read() == b"weights" * 1000
            s.finish()
        f.write_bytes(b"weightz" * 1000)
        with pytest.raises(am.ManifestMismatchError):
            m.verify_file(f, ".")


# ------------------------------------------------------------- hash, stat cache, progress


def test_hash_matches_sign(model: Path, keys: Any) -> None:
    p256, _, _, pub = keys
    with am.hash(model) as h, sign_verify(model, p256, pub) as m:
        assert not h.verified and int(h.flags) & int(am.Flags.SIGNED | am.Flags.VERIFIED) == 0
        assert h.root_digest == m.root_digest
        assert h.resources == m.resources
        with pytest.raises(am.ManifestUnverifiedError):
            h.verify_dir(model)
        assert h.compare_dir(model).ok


def test_hash_leaves_the_bundle_out(model: Path, keys: Any) -> None:
    """hash(bundle_path=) gives the root sign() gives with a bundle inside
    the model (``aios manifest digest``); without it model.sig is a file."""
    p256, _, _, _ = keys
    sig = model / "model.sig"
    bundle, signed = am.sign(model, p256, bundle_path=sig)
    with signed:
        assert sig.read_bytes() == bundle
        with am.hash(model, bundle_path=sig) as h:
            assert h.root_digest == signed.root_digest
            assert h.resources == signed.resources
            assert "model.sig" not in [r.name for r in h.resources]
        assert sig.read_bytes() == bundle  # hash writes nothing
        with am.hash(model, bundle_path=str(sig), method="shards", shard_size=1 << 20) as h2:
            assert h2.method is Method.SHARDS
        with am.hash(model) as included:
            assert "model.sig" in [r.name for r in included.resources]
            assert included.root_digest != signed.root_digest


def test_stat_cache(model: Path, keys: Any, tmp_path: Path) -> None:
    p256, _, _, _ = keys
    cache = tmp_path / "cache" / "stat.json"
    cache.parent.mkdir()
    hashed: List[int] = [0]

    def progress(done: int, total: int, path: str) -> None:
        hashed[0] = max(hashed[0], done)

    # A file changed within ~100 ms before a walk is never cached (it could
    # still change unseen in the same timestamp tick): let the model age.
    time.sleep(0.3)
    b1, m1 = am.sign(model, p256, stat_cache_path=cache, progress=progress)
    assert hashed[0] >= BIG and cache.exists()
    # nothing changed: nothing hashed, the same bundle (deterministic ECDSA)
    hashed[0] = 0
    b2, m2 = am.sign(model, p256, stat_cache_path=str(cache), progress=progress)
    assert hashed[0] == 0 and b2 == b1
    # one small file changed: only it is hashed, and the result equals a full hash
    (model / "config.json").write_text('{"layers": 4}')
    hashed[0] = 0
    b3, m3 = am.sign(model, p256, stat_cache_path=cache, progress=progress)
    assert hashed[0] == len('{"layers": 4}')
    assert m3.root_digest != m1.root_digest
    with am.hash(model) as full:
        assert full.root_digest == m3.root_digest
    for m in (m1, m2, m3):
        m.close()


def test_progress_sees_every_file(model: Path, keys: Any) -> None:
    p256, _, _, _ = keys
    seen = set()
    lock = threading.Lock()
    calls: List[Tuple[int, int]] = []

    def progress(done: int, total: int, path: str) -> bool:
        with lock:
            seen.add(path)
            calls.append((done, total))
        return True

    _, m = am.sign(model, p256, progress=progress, threads=2, read_size=64 * 1024)
    m.close()
    assert "weights/part-1.bin" in seen
    assert calls and all(0 <= d <= t for d, t in calls)
    assert max(d for d, _ in calls) == calls[-1][1] == BIG + len('{"layers": 2}') + len("second part") + 4


def test_progress_cancel_and_raise(model: Path, keys: Any) -> None:
    p256, _, _, pub = keys
    # returning False cancels
    with pytest.raises(aios.CancelledError):
        am.sign(model, p256, progress=lambda d, t, p: False, read_size=64 * 1024)

    # raising aios.CancelledError cancels, and is kept
    def stop(done: int, total: int, path: str) -> None:
        raise aios.CancelledError("enough")

    with pytest.raises(aios.CancelledError) as info:
        am.sign(model, p256, progress=stop)
    assert "enough" in info.value.message and isinstance(info.value.host_exception, aios.CancelledError)

    # any other exception: a CallbackError chained from it, on whatever thread it ran
    class Boom(RuntimeError):
        pass

    def boom(done: int, total: int, path: str) -> None:
        raise Boom("from the callback")

    for threads in (1, 4):
        with pytest.raises(aios.CallbackError) as info:
            am.sign(model, p256, progress=boom, threads=threads, read_size=64 * 1024)
        assert isinstance(info.value.host_exception, Boom)
        assert isinstance(info.value.__cause__, Boom)
        assert "Boom" in info.value.message
    # verify_dir and verify_file take a progress callback too
    m = sign_verify(model, p256, pub)
    with pytest.raises(aios.CallbackError) as info:
        m.verify_dir(model, progress=boom)
    assert isinstance(info.value.host_exception, Boom)
    with pytest.raises(aios.CancelledError):
        m.verify_file(model, "weights/part-1.bin", progress=lambda d, t, p: False, read_size=64 * 1024)
    m.verify_file(model, "weights/part-1.bin", progress=lambda d, t, p: None)
    m.close()
    with pytest.raises(TypeError):
        am.sign(model, p256, progress=42)  # type: ignore[arg-type]


def test_close_from_the_progress_callback(model: Path, keys: Any) -> None:
    """A call holds its own reference: closing the Manifest (or sign's Key)
    from the progress callback cannot free it under the running call."""
    p256, _, _, pub = keys
    bundle, signed = am.sign(model, p256)
    signed.close()

    def closing(m: am.Manifest) -> Any:
        def progress(done: int, total: int, path: str) -> None:
            m.close()
        return progress

    calls = [
        lambda m, p: m.verify_dir(model, threads=1, progress=p),
        lambda m, p: m.verify_dir(model, threads=2, read_size=64 * 1024, progress=p),
        lambda m, p: m.compare_dir(model, threads=1, progress=p),
        lambda m, p: m.verify_file(model, "weights/part-1.bin", read_size=64 * 1024, progress=p),
        lambda m, p: m.verify_range(model, "weights/part-1.bin", 5, 100, progress=p),
    ]
    for call in calls:
        m = am.verify_key(bundle, pub)
        result = call(m, closing(m))
        assert result is None or result.ok
        assert m.closed
        with pytest.raises(aios.StateError):
            m.verify_dir(model)
        with pytest.raises(aios.StateError):
            m.stream(model, "config.json")
        with pytest.raises(aios.StateError):
            copy.copy(m)

    # sign hashes, then signs with the key the callback closed meanwhile
    key = copy.copy(p256)

    def close_key(done: int, total: int, path: str) -> None:
        key.close()

    bundle2, signed2 = am.sign(model, key, threads=1, progress=close_key)
    assert key.closed
    with signed2, am.verify_key(bundle2, pub) as again:
        assert again.root_digest == signed2.root_digest
    with pytest.raises(aios.StateError):
        am.sign(model, key)
    with pytest.raises(aios.StateError):
        am.verify_key(bundle2, key)
    assert not p256.closed  # its own reference


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # ctypes' report
def test_ctrl_c_during_verify_dir_is_keyboard_interrupt(model: Path, keys: Any) -> None:
    """SIGINT while C hashes with a progress callback: Python raises it as
    the callback is entered, where the callback cannot catch it; the call
    must still raise KeyboardInterrupt, not an aios error."""
    p256, _, _, pub = keys
    m = sign_verify(model, p256, pub)
    # the signed file becomes 4 GiB (sparse): seconds to hash, on one thread
    with open(model / "weights" / "part-1.bin", "r+b") as f:
        f.truncate(4 << 30)
    calls = [0]

    def progress(done: int, total: int, path: str) -> None:
        calls[0] += 1

    in_call = threading.Event()

    def interrupt() -> None:
        if in_call.is_set():
            os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(0.3, interrupt)
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            in_call.set()
            timer.start()
            try:
                m.verify_dir(model, threads=1, read_size=1 << 20, progress=progress)
            finally:
                in_call.clear()
    finally:
        timer.cancel()
        timer.join()
        m.close()
    assert calls[0] > 0 and time.monotonic() - started < 30


def test_exception_escaping_the_callback_entry(model: Path, keys: Any, monkeypatch: Any) -> None:
    """What C sees when an exception escapes before the callback's first
    line (ctypes drops it and returns an undefined value, here non-zero):
    KeyboardInterrupt on the main thread, a CallbackError elsewhere; a
    callback that asked to stop still gives CancelledError."""
    p256, _, _, pub = keys
    m = sign_verify(model, p256, pub)

    def escaped(self: Any, done: int, total: int, path: Any, payload: Any) -> int:
        return 1  # as after "Exception ignored on calling ctypes callback function"

    with m:
        with monkeypatch.context() as mp:
            mp.setattr(am._Progress, "_call", escaped)
            with pytest.raises(KeyboardInterrupt):
                m.verify_dir(model, threads=1, progress=lambda d, t, p: None)
            with pytest.raises(KeyboardInterrupt):
                am.sign(model, p256, progress=lambda d, t, p: None)
            caught: List[BaseException] = []

            def worker() -> None:
                try:
                    m.verify_file(model, "config.json", progress=lambda d, t, p: None)
                except BaseException as exc:  # noqa: BLE001
                    caught.append(exc)

            t = threading.Thread(target=worker)
            t.start()
            t.join()
            assert len(caught) == 1 and isinstance(caught[0], aios.CallbackError), caught
        with pytest.raises(aios.CancelledError):
            m.verify_dir(model, threads=1, progress=lambda d, t, p: False)
        # an interrupt raised inside the callback's body is kept and re-raised
        def interrupted(done: int, total: int, path: str) -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            m.verify_dir(model, threads=2, progress=interrupted)


# ------------------------------------------------------------- bundle file, provenance


def test_bundle_path_and_provenance(model: Path, keys: Any) -> None:
    p256, _, _, pub = keys
    sig = model / "model.sig"
    prov = {"v": 1, "model": "m", "version": "2.0", "approver": "alice", "labels": {"team": "ml"}}
    bundle, signed = am.sign(model, p256, bundle_path=sig, subject_name="my-model", provenance=prov)
    signed.close()
    assert am.read_bundle(sig) == bundle
    with am.verify_key(am.read_bundle(str(sig)), pub) as m:
        assert m.subject_name == "my-model"
        assert m.provenance == prov
        assert m.verify_dir(model).ok  # the bundle inside the model is excluded and recorded
        doc = m.as_dict()
        assert doc["verified"] is True and "model.sig" in json.dumps(doc)
    with pytest.raises(aios.LimitExceededError):
        am.read_bundle(sig, bundle_max=len(bundle) - 1)
    with pytest.raises(aios.LimitExceededError):
        am.verify_key(bundle, pub, bundle_max=len(bundle) - 1)
    with pytest.raises(aios.NotFoundError):
        am.read_bundle(model / "nope.sig")
    # provenance as JSON text; a non-object is refused
    _, m2 = am.sign(model, p256, provenance='{"v":1,"model":"text"}', ignore_paths=["model.sig"])
    assert m2.provenance == {"v": 1, "model": "text"}
    m2.close()
    with pytest.raises(aios.InvalidInputError):
        am.sign(model, p256, provenance="[1,2]")


# ------------------------------------------------------------- golden data


def _golden_key() -> aios.Key:
    pem = (MT / "keys" / "certificate" / "signing-key-pub.pem").read_bytes()
    return aios.Key.from_public_pem(pem[pem.index(b"-----BEGIN"):])  # the file starts with a text dump


def _root_of(d: Path) -> bytes:
    """The root digest of a golden folder's model files, hashed here."""
    with am.hash(d, ignore_paths=["ignore-me", "model.sig"]) as h:
        return h.root_digest


@pytest.mark.parametrize("folder", ["v1.0.1-elliptic-key", "v1.1.0-elliptic-key"])
def test_golden_elliptic_key(folder: str) -> None:
    d = MT / folder
    with _golden_key() as k, am.verify_key(am.read_bundle(d / "model.sig"), k) as m:
        assert m.root_digest.hex() == ROOT_S1N_S2 == _root_of(d).hex()
        # 1.0.1 did not record its own bundle in the ignore paths; 1.1.0 does
        if folder.startswith("v1.0.1"):
            with pytest.raises(am.ManifestMismatchError) as info:
                m.verify_dir(d, ignore_paths=["ignore-me"])
            assert info.value.diff.extra == ["model.sig"]
        else:
            assert m.verify_dir(d, ignore_paths=["ignore-me"]).ok
        assert m.verify_dir(d, ignore_paths=["ignore-me"], bundle_path=d / "model.sig").ok
        m.verify_file(d, "signme-1")


@pytest.mark.parametrize("folder", ["v1.0.1-certificate", "v1.1.0-certificate"])
def test_golden_certificate(folder: str) -> None:
    d = MT / folder
    anchor = (MT / "keys" / "certificate" / "ca-cert.pem").read_bytes()
    bundle = am.read_bundle(d / "model.sig")
    with am.verify_certificate(bundle, [anchor]) as m:
        assert m.verified and m.root_digest == _root_of(d)
        assert m.signer["method"] == "certificate"
        assert m.verify_dir(d, ignore_paths=["ignore-me"], bundle_path=d / "model.sig").ok
    # the chain does not reach another (unrelated) root
    other = (repo_root() / "tests" / "vectors" / "manifest-certs" / "other-root.pem").read_bytes()
    with pytest.raises(am.ManifestChainError):
        am.verify_certificate(bundle, [other])
    # a certificate bundle is not a key bundle
    with _golden_key() as k, pytest.raises(am.ManifestMethodError):
        am.verify_key(bundle, k)


def _cert_der(path: Path) -> bytes:
    text = path.read_text()
    text = text[text.index("-----BEGIN CERTIFICATE-----"):]
    return ssl.PEM_cert_to_DER_cert(text[:text.index("-----END CERTIFICATE-----") + 25])


def test_signer_trust_and_checked_at(model: Path, keys: Any, keyring: aios.Keyring) -> None:
    """signer's "trust" (verified, signed-here, unverified) and "checked_at"
    (only once a certificate chain was verified: the policy time)."""
    p256, _, _, pub = keys
    bundle, signed = am.sign(model, p256)
    with signed, am.verify_key(bundle, pub) as verified, am.open_bundle(bundle) as opened:
        hint = verified.signer["hint"]
        assert len(hint) == 64
        assert verified.signer == {"trust": "verified", "method": "key", "hint": hint}
        assert signed.signer == {"trust": "signed-here", "method": "key", "hint": hint}
        assert opened.signer == {"trust": "unverified", "method": "key", "hint": hint}
    with am.hash(model) as h, pytest.raises(aios.NotFoundError):
        h.signer

    # the certificate method: signed here with a chain, verified, opened
    certs = MT / "keys" / "certificate"
    pem = (certs / "signing-key.pem").read_bytes()
    leaf_key = keyring.import_key("leaf", "ecdsa-p384", pem[pem.index(b"-----BEGIN"):])
    chain = [_cert_der(certs / "signing-key-cert.pem"), _cert_der(certs / "int-ca-cert.pem")]
    anchor = (certs / "ca-cert.pem").read_bytes()
    bundle, signed = am.sign(model, leaf_key, chain=chain)
    leaf_key.close()
    fixed = 1800000000
    with signed, am.verify_certificate(bundle, [anchor]) as verified, \
            am.verify_certificate(bundle, [anchor], fixed_time=fixed) as at_fixed, \
            am.open_bundle(bundle) as opened:
        claims = {k: v for k, v in opened.signer.items() if k != "trust"}
        assert claims["method"] == "certificate" and claims["chain"] == 2
        assert set(claims) == {"method", "subject", "issuer", "not_before", "not_after", "chain"}
        assert opened.signer["trust"] == "unverified"
        assert signed.signer == {"trust": "signed-here", **claims}
        # model-signing-1: the chain is checked at the leaf's notBefore
        assert verified.signer == {"trust": "verified", **claims, "checked_at": claims["not_before"]}
        assert at_fixed.signer == {"trust": "verified", **claims, "checked_at": fixed}
        assert list(verified.signer)[0] == "trust"
    # a fixed time the chosen policy would ignore is refused, not dropped
    for policy in ("now", "leaf-not-before"):
        with pytest.raises(aios.InvalidInputError, match="does not use it"):
            am.verify_certificate(bundle, [anchor], time_policy=policy, fixed_time=fixed)
    with pytest.raises(aios.InvalidInputError, match="needs fixed_time"):
        am.verify_certificate(bundle, [anchor], time_policy="fixed")


def test_golden_sigstore_parses_unverified() -> None:
    d = MT / "v1.1.0-sigstore"
    with am.open_bundle(am.read_bundle(d / "model.sig")) as m:
        assert not m.verified and am.Flags.KEYLESS in m.flags
        assert m.root_digest == _root_of(d)
        assert m.compare_dir(d, ignore_paths=["ignore-me"], bundle_path=d / "model.sig").ok
    # verify_sigstore refuses without a Sigstore trusted root (tests/interop
    # verifies these bundles with the real one), and key methods refuse it
    bundle = (d / "model.sig").read_bytes()
    ident = dict(identity="stefanb@us.ibm.com", oidc_issuer="https://sigstore.verify.ibm.com/oauth2")
    for root in (b"{}", "not json", b'{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;'
                 b'version=0.1", "tlogs": [], "certificateAuthorities": []}'):
        with pytest.raises(aios.InvalidInputError):
            am.verify_sigstore(bundle, root, **ident)
    with pytest.raises(aios.InvalidInputError):
        am.verify_sigstore(bundle, b"{}", identity="", oidc_issuer="x")
    with pytest.raises(ValueError):
        am.verify_sigstore(bundle, b"{}", identity="a\0b", oidc_issuer="x")
    with _golden_key() as k, pytest.raises(am.ManifestMethodError):
        am.verify_key(bundle, k)
    key_bundle = (MT / "v1.1.0-elliptic-key" / "model.sig").read_bytes()
    with pytest.raises(am.ManifestMethodError):
        am.verify_sigstore(key_bundle, b"{}", **ident)


# ------------------------------------------------------------- bad input


def test_bad_input(model: Path, keys: Any, tmp_path: Path) -> None:
    p256, _, _, pub = keys
    with pytest.raises(aios.InvalidInputError):
        am.verify_key(b"{}", pub)
    with pytest.raises(aios.InvalidInputError):
        am.verify_key(b"", pub)
    with pytest.raises(TypeError):
        am.verify_key("{}", pub)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        am.verify_key(b"{}", "not a key")  # type: ignore[arg-type]
    empty = tmp_path / "empty-model"
    empty.mkdir()
    with pytest.raises(am.ManifestEmptyError):
        am.sign(empty, p256)
    with pytest.raises(aios.NotFoundError):
        am.sign(empty / "nope", p256)
    with pytest.raises(aios.InvalidInputError):  # a public key cannot sign
        am.sign(model, pub)
    with pytest.raises(aios.InvalidInputError):
        am.sign(model, p256, method=7)
    with pytest.raises(aios.InvalidInputError):
        am.sign(model, p256, method="shards", shard_size=1000)
    with pytest.raises(aios.InvalidInputError):
        am.sign(model, p256, hash_type="md5")
    with pytest.raises(aios.InvalidInputError):
        am.sign(model, p256, subject_name="a\0b")
    # text with no UTF-8 form (a lone surrogate), through every text argument
    lone = "a\udcff"
    for call in (
        lambda: am.sign(model, p256, subject_name=lone),
        lambda: am.hash(model, subject_name=lone),
        lambda: am.hash(model, hash_type=lone),
        lambda: am.sign(model, p256, provenance={"who": lone}),
        lambda: am.sign(model, p256, provenance='{"who": "' + lone + '"}'),
        lambda: am.sign(model, p256, provenance=b'{"who": "\xff"}'),
        lambda: am.verify_sigstore(b"{}", "{}", identity=lone, oidc_issuer="https://issuer"),
        lambda: am.verify_sigstore(b"{}", "{}", identity="me", oidc_issuer=lone),
    ):
        with pytest.raises(aios.InvalidInputError) as info:
            call()
        assert not isinstance(info.value, UnicodeError)
    # shard_size belongs to the shards method (0, a files manifest's shard_size, is "not given")
    for call in (
        lambda: am.sign(model, p256, shard_size=1 << 20),
        lambda: am.hash(model, method="files", shard_size=1 << 20),
    ):
        with pytest.raises(aios.InvalidInputError, match="shard_size"):
            call()
    with am.hash(model, method="files", shard_size=0) as files:
        assert files.method is Method.FILES and files.shard_size == 0
    with pytest.raises(TypeError):
        am.sign(model, p256, chain=b"one certificate")
    with pytest.raises(aios.InvalidInputError):
        am.verify_certificate(b"{}", [])
    with pytest.raises(aios.InvalidInputError):
        am.verify_certificate(b"{}", [b"x"], time_policy="fixed")
    with pytest.raises(am.ManifestPathError):
        am.sign(model, p256, ignore_paths=["../escape"])
    os.mkfifo(empty / "fifo")
    (empty / "x").write_text("x")
    with pytest.raises(am.ManifestSpecialFileError):
        am.sign(empty, p256)
    with pytest.raises(TypeError):
        am.sign(model, p256, threads=True)  # type: ignore[arg-type]
