"""The committed keyring vector (tests/vectors/keyring-v1.aioskr, format of
docs/KEYRING.md) opens through the binding and lists exactly the expected
keys: the C, Python and Go tests all pin the same bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import aios

REPO = Path(__file__).resolve().parents[3]
VECTORS = REPO / "tests" / "vectors"
PASSPHRASE = b"correct horse battery staple"


def test_keyring_vector_lists_expected_keys() -> None:
    expected = json.loads((VECTORS / "keyring-v1.json").read_text(encoding="utf-8"))
    with aios.Keyring.open(str(VECTORS / "keyring-v1.aioskr"), passphrase=PASSPHRASE,
                           read_only=True) as kr:
        assert kr.list() == expected


def test_keyring_vector_keys_work() -> None:
    with aios.Keyring.open(str(VECTORS / "keyring-v1.aioskr"), passphrase=PASSPHRASE,
                           read_only=True) as kr:
        with kr.get("wrap-key") as kek:
            assert kek.version == 3
            wrapped = kek.wrap(b"\x01" * 32, b"ad")
            with kek.unwrap(wrapped, b"ad") as dk:
                assert bytes(dk) == b"\x01" * 32
        with kr.get("wrap-key", 1) as gone:
            assert gone.state == aios.KeyState.DESTROYED
            with pytest.raises(aios.KeyDestroyedError):
                gone.unwrap(wrapped, b"ad")
        with kr.get("clé-ü") as k:
            assert k.type == aios.KeyType.AES256


def test_keyring_vector_wrong_passphrase() -> None:
    with pytest.raises(aios.KeyringPassphraseError):
        aios.Keyring.open(str(VECTORS / "keyring-v1.aioskr"), passphrase=b"wrong",
                          read_only=True)
