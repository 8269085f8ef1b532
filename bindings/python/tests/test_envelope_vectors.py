"""The envelope known-answer vectors (tests/vectors/envelope-v1, FORMAT.md
section 15), as the C and Go tests check them: every file matches its
SHA-256, peek agrees with the JSON, every case opens (one-shot, stream,
random access) to exactly the plaintext the JSON describes or fails with
exactly the status it names, session records and field documents decrypt.

A key of a later version (``wrap-key-v2`` of the ``rewrap`` vector) is
imported as that version of its key with Keyring.import_version, after the
versions below it, so every case of every vector runs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

import aios
from aios import Key, Keyring, KeyType, Status
from aios import envelope as env

VEC = Path(__file__).resolve().parents[3] / "tests" / "vectors" / "envelope-v1"
NAMES = sorted(p.stem for p in VEC.glob("*.json"))


def load(name: str) -> Dict[str, Any]:
    v: Dict[str, Any] = json.loads((VEC / f"{name}.json").read_text())
    return v


def plaintext(v: Dict[str, Any]) -> Optional[bytes]:
    p = v.get("plaintext")
    if p is None:
        return None
    if p.get("hex") or p["len"] == 0:
        pt = bytes.fromhex(p.get("hex", ""))
    else:
        assert p["generator"] == "mod251"
        pt = bytes(i % 251 for i in range(p["len"]))
    assert len(pt) == p["len"] and hashlib.sha256(pt).hexdigest() == p["sha256"]
    return pt


def import_keys(kr: Keyring, v: Dict[str, Any]) -> Dict[str, Key]:
    out: Dict[str, Key] = {}
    # Versions of one key in order: version 1 is a new key, each later one
    # its next version (made primary, as a rotation would).
    for name, k in sorted(v["keys"].items(), key=lambda kv: (kv[1].get("key_id", ""), kv[1].get("version", 1))):
        if k["kind"] == "kek":
            assert k["type"] == "aes256" and k["provider"] == "local"
            material = bytes.fromhex(k["material_hex"])
            if k["version"] == 1:
                key = kr.import_key(k["key_id"], KeyType.AES256, material)
            else:
                key = kr.import_version(k["key_id"], material)
            assert (key.id, key.version) == (k["key_id"], k["version"]), name
            out[name] = key
        else:
            assert k["kind"] == "x25519"
            key = kr.import_key(k["key_id"], KeyType.X25519, k["private_pkcs8_pem"])
            assert key.public_raw().hex() == k["public_hex"]
            out[name] = key
    return out


def status_of(exc: BaseException) -> str:
    assert isinstance(exc, aios.AiosError), exc
    return Status(exc.status).name and "AIOS_" + Status(exc.status).name


def run_shape(shape: str, data: bytes, keys: env.Keys, kw: Dict[str, Any]) -> bytes:
    if shape == "open":
        return env.open(data, keys, **kw)
    if shape == "stream":
        with env.Opener(keys, **kw) as o:
            out = bytearray()
            for i in range(0, len(data), 1000):
                out += o.update(data[i:i + 1000])
            out += o.final()
            return bytes(out)
    assert shape == "reader"
    with env.Reader(data, keys, **kw) as r:
        return r.read(0, r.size)


@pytest.mark.parametrize("name", NAMES)
def test_vector(name: str, keyring: Keyring) -> None:
    v = load(name)
    data = (VEC / v["file"]).read_bytes()
    assert len(data) == v["file_len"] and hashlib.sha256(data).hexdigest() == v["file_sha256"]
    pt = plaintext(v)
    keys = import_keys(keyring, v)

    if v["type"] != "negative":
        info = env.peek(data)
        assert info["header_len"] == v["intermediates"]["header_len"]
        assert info["session_id"] == v["intermediates"]["C"]
        assert info["context"] == v.get("context", {})
        kinds = [r["kind"] for r in v["intermediates"]["records"]]
        assert [r["kind"] for r in info["recipients"]] == [
            {1: "kek", 2: "x25519"}.get(k, k) for k in kinds]

    ran = 0
    for case in v.get("cases", []):
        ks = env.Keys([keys[k] for k in case["keys"]])
        kw: Dict[str, Any] = {}
        if case.get("expected_context") is not None:
            kw["expected_context"] = case["expected_context"]
            kw["context_mode"] = case.get("context_mode", "exact")
        for shape, want in case["expect"].items():
            if v["type"] in ("session", "fle"):
                if shape != "open":   # a session header has no payload to stream
                    continue
                try:
                    s = env.Session.open(data, ks, **kw)
                except aios.AiosError as exc:
                    assert status_of(exc) == want, (name, shape)
                else:
                    assert want == "AIOS_OK", (name, shape)
                    check_session(v, s)
                    s.close()
                ran += 1
                continue
            try:
                got = run_shape(shape, data, ks, kw)
            except aios.AiosError as exc:
                assert status_of(exc) == want, (name, shape, case["keys"])
            else:
                assert want == "AIOS_OK", (name, shape, case["keys"])
                assert got == pt, (name, shape)
            ran += 1
        ks.close()
    assert ran > 0


def check_session(v: Dict[str, Any], s: env.Session) -> None:
    for rec in v.get("session_records", []):
        record = bytes.fromhex(rec["record"])
        ad = bytes.fromhex(rec["ad"])
        assert s.open_record(record, ad) == bytes.fromhex(rec["plaintext_hex"])
        bad = bytearray(record)
        bad[-1] ^= 1
        with pytest.raises(aios.AuthenticationError):
            s.open_record(bytes(bad), ad)
    for doc in v.get("documents", []):
        rids = {st.get("record_id") for st in doc["steps"]} - {None, ""}
        rid: Optional[str] = rids.pop() if rids else None
        out = env.decrypt_fields(doc["output"], s, record_id=rid)
        assert json.loads(out) == json.loads(doc["input"])
