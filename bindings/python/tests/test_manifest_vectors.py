"""The manifest writer's known-answer bundles, tests/vectors/manifest-v1
(the C side is tests/unit/test_manifest_vectors.c; the README there
describes every file): every committed bundle verifies with its public key,
names the root digest the README lists, and the committed model verifies
against it; signing the model again through the binding, with the
committed keys imported into a temporary keyring, gives the same bytes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Dict, List

import pytest

import aios
from aios import manifest as am
from aios.manifest import Change

from conftest import repo_root

VEC = repo_root() / "tests" / "vectors" / "manifest-v1"
MODEL = VEC / "model"
KEY_TYPES = {"p256": "ecdsa-p256", "p384": "ecdsa-p384", "ed25519": "ed25519"}


def _cases() -> List[Dict[str, Any]]:
    cases: List[Dict[str, Any]] = json.loads((VEC / "vectors.json").read_text("utf-8"))["cases"]
    return cases


CASES = _cases()


def _ids() -> List[str]:
    return [c["name"] for c in CASES]


def test_cases_present() -> None:
    assert _ids() == ["files-ms1-p256", "files-ms1-p384", "files-ms1-ed25519", "files-oms-p256",
                      "shards-ms1-p256"]


@pytest.mark.parametrize("case", CASES, ids=_ids())
def test_verify_committed(case: Dict[str, Any]) -> None:
    bundle = (VEC / case["bundle"]).read_bytes()
    pub = aios.Key.from_public_pem((VEC / case["public_key"]).read_bytes(), case["key_id"])
    m = am.verify_key(bundle, pub, profile=case["profile"])
    assert m.verified
    assert m.root_digest.hex() == case["root_digest"]
    assert m.statement_digest.hex() == case["statement_digest"]
    # The README lists the root digest in the case's row.
    rows = [line for line in (VEC / "README.md").read_text("utf-8").splitlines()
            if line.startswith(f"| `{case['name']}` |")]
    assert len(rows) == 1 and case["root_digest"] in rows[0]
    assert m.subject_name == case["subject_name"] == "manifest-v1"
    assert m.method.token == case["method"]
    assert m.profile.token == case["profile"]
    assert m.shard_size == case["shard_size"]
    names = [r.name for r in m.resources]
    assert names == case["resources"]
    # The empty file: a resource with files, none with shards.
    if case["method"] == "files":
        assert "empty" in names
    else:
        assert not any(n.startswith("empty:") or n == "empty" for n in names)
    diff = m.verify_dir(MODEL, profile=case["profile"])
    assert diff.missing == diff.extra == diff.modified == []
    assert diff.extra_empty == ([] if case["method"] == "files" else ["empty"])
    # Another key of the set does not verify it.
    other = next(c for c in CASES if c["key_id"] != case["key_id"])
    other_pub = aios.Key.from_public_pem((VEC / other["public_key"]).read_bytes(), other["key_id"])
    with pytest.raises(aios.AiosError):
        am.verify_key(bundle, other_pub, profile=case["profile"])


def test_tampered_copy(tmp_path: Path) -> None:
    case = CASES[0]
    pub = aios.Key.from_public_pem((VEC / case["public_key"]).read_bytes(), case["key_id"])
    m = am.verify_key((VEC / case["bundle"]).read_bytes(), pub)
    copy = tmp_path / "model"
    shutil.copytree(MODEL, copy)
    assert m.verify_dir(copy).ok
    data = bytearray((copy / "tok.json").read_bytes())
    data[len(data) // 2] ^= 1
    (copy / "tok.json").write_bytes(bytes(data))
    with pytest.raises(aios.ManifestMismatchError) as exc:
        m.verify_dir(copy)
    assert [(i.kind, i.path) for i in exc.value.diff] == [(Change.MODIFIED, "tok.json")]


def test_resign(keyring: aios.Keyring) -> None:
    keys = {}
    for key_id, key_type in KEY_TYPES.items():
        keys[key_id] = keyring.import_key(key_id, key_type, (VEC / "keys" / f"{key_id}.pem").read_bytes())
    for case in CASES:
        opts: Dict[str, Any] = dict(profile=case["profile"], method=case["method"],
                                    subject_name=case["subject_name"])
        if case["method"] == "shards":
            opts["shard_size"] = case["shard_size"]
        bundle, m = am.sign(MODEL, keys[case["key_id"]], **opts)
        assert m.root_digest.hex() == case["root_digest"], case["name"]
        assert bundle == (VEC / case["bundle"]).read_bytes(), case["name"]
