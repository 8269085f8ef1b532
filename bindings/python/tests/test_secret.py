"""ct_equal() and wipe()."""

from __future__ import annotations

import array
import mmap
from typing import Any, List

import pytest

import aios
from aios import _ffi


@pytest.mark.parametrize(
    "a, b, equal",
    [
        (b"", b"", True),
        (b"a", b"a", True),
        (b"secret key bytes", b"secret key bytes", True),
        (b"secret key bytes", b"secret key bytez", False),
        (b"Xecret key bytes", b"secret key bytes", False),
        (bytes(64), bytes(64), True),
        (bytes(63) + b"\x01", bytes(64), False),
    ],
)
def test_ct_equal(a: bytes, b: bytes, equal: bool) -> None:
    assert aios.ct_equal(a, b) is equal
    assert aios.ct_equal(bytearray(a), memoryview(b)) is equal
    with aios.Buffer.from_bytes(a, secure=True) as buf:
        assert aios.ct_equal(buf, b) is equal
        assert aios.ct_equal(b, buf) is equal


def test_ct_equal_mixed_types() -> None:
    data = array.array("I", [1, 2, 3])
    assert aios.ct_equal(data, data.tobytes())
    assert aios.ct_equal(memoryview(b"xxabcxx")[2:5], b"abc")


def test_ct_equal_different_lengths_never_calls_c(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: List[Any] = []
    real = _ffi.lib.aios_ct_equal

    def spy(*args: Any) -> Any:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(_ffi.lib, "aios_ct_equal", spy)
    assert aios.ct_equal(b"abc", b"abcd") is False
    assert aios.ct_equal(b"", b"\x00") is False
    assert calls == []
    assert aios.ct_equal(b"abc", b"abc") is True
    assert len(calls) == 1 and calls[0][2] == 3


def test_ct_equal_rejects_non_bytes() -> None:
    with pytest.raises(TypeError):
        aios.ct_equal("abc", b"abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        aios.ct_equal(b"abc", 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        aios.ct_equal(memoryview(b"abcdef")[::2], b"ace")


def test_wipe_bytearray() -> None:
    secret = bytearray(b"correct horse battery staple")
    aios.wipe(secret)
    assert secret == bytearray(len(b"correct horse battery staple"))


def test_wipe_only_the_given_view() -> None:
    data = bytearray(b"AAAABBBBCCCC")
    aios.wipe(memoryview(data)[4:8])
    assert data == bytearray(b"AAAA\x00\x00\x00\x00CCCC")


def test_wipe_other_writable_buffers() -> None:
    arr = array.array("Q", [0xFFFFFFFFFFFFFFFF] * 4)
    aios.wipe(arr)
    assert list(arr) == [0, 0, 0, 0]
    with mmap.mmap(-1, 4096) as mm:
        mm.write(b"\xAA" * 4096)
        aios.wipe(mm)
        assert mm[:] == bytes(4096)
    aios.wipe(bytearray())  # empty: fine


def test_wipe_buffer_object() -> None:
    with aios.Buffer.from_bytes(b"key material", secure=True) as buf:
        aios.wipe(buf)
        assert bytes(buf) == bytes(12)


def test_wipe_rejects_immutable() -> None:
    with pytest.raises(TypeError, match="immutable"):
        aios.wipe(b"abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="read-only"):
        aios.wipe(memoryview(b"abc"))
    with pytest.raises(TypeError):
        aios.wipe("abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        aios.wipe(None)  # type: ignore[arg-type]


def test_raw_declarations_refuse_unprepared_arguments() -> None:
    # The argtypes fence: no raw ints or None where C reads bytes.
    with pytest.raises(Exception):
        _ffi.lib.aios_ct_equal(12345, 12345, 1)
    with pytest.raises(Exception):
        _ffi.lib.aios_wipe(None, 4)
    with pytest.raises(Exception):
        _ffi.lib.aios_wipe(b"immutable", 9)
