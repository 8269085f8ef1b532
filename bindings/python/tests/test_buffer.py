"""aios.Buffer over aios_buffer: plain and secure, views, protection, lifetime."""

from __future__ import annotations

import array
import copy
import ctypes
import gc
import pickle
import re

import pytest

import aios
from aios import Buffer, BufferFlags, Protection, Status, _ffi

from conftest import header_text

BOTH = pytest.mark.parametrize("secure", [False, True], ids=["plain", "secure"])


def c_sees(buf: Buffer, expected: bytes) -> bool:
    """Ask C (aios_ct_equal on aios_buffer_data) whether buf holds expected."""
    handle = buf._handle()
    n = _ffi.lib.aios_buffer_len(handle)
    if n != len(expected):
        return False
    data = ctypes.c_void_p(_ffi.lib.aios_buffer_data(handle))
    return bool(_ffi.lib.aios_ct_equal(data, expected, n))


def test_constants_mirror_header() -> None:
    text = header_text("core.h")
    assert int(re.search(r"#define AIOS_BUFFER_SECURE (0x[0-9a-f]+)u", text).group(1), 16) == BufferFlags.SECURE
    for name, secure in (("BUFFER_MAX_LEN", False), ("BUFFER_SECURE_MAX_LEN", True)):
        shift = re.search(r"#define AIOS_%s\s+\(\(uint64_t\)1 << (\d+)\)" % name, text)
        assert shift, name
        assert getattr(aios, name) == Buffer.max_len(secure=secure) == 1 << int(shift.group(1))
    for name, value in re.findall(r"AIOS_PROTECT_(READWRITE|READONLY|NOACCESS)\s*=\s*(\d+)", text):
        assert Protection[name] == int(value)


@BOTH
@pytest.mark.parametrize("length", [0, 1, 31, 4096 + 3])
def test_new_is_zero_filled(secure: bool, length: int) -> None:
    with Buffer.new(length, secure=secure) as buf:
        assert len(buf) == length
        assert bytes(buf) == bytes(length)
        assert buf.secure is secure
        assert buf.flags == (BufferFlags.SECURE if secure else BufferFlags.NONE)
        assert c_sees(buf, bytes(length))


@BOTH
@pytest.mark.parametrize(
    "source",
    [
        b"",
        b"hello world",
        bytearray(b"\x00\xff" * 100),
        memoryview(b"0123456789")[2:7],
        array.array("H", [1, 2, 0xFFFF]),
    ],
    ids=["empty", "bytes", "bytearray", "memoryview-slice", "array"],
)
def test_from_bytes_round_trip(secure: bool, source: object) -> None:
    expected = bytes(memoryview(source).cast("B"))  # type: ignore[arg-type]
    with Buffer.from_bytes(source, secure=secure) as buf:
        assert len(buf) == len(expected)
        assert bytes(buf) == expected
        assert c_sees(buf, expected)
        with buf.view() as view:
            assert view.tobytes() == expected and view.format == "B"
        with Buffer.from_bytes(buf) as clone:  # Buffer in, copied by C
            assert bytes(clone) == expected and not clone.secure


def test_from_bytes_copies() -> None:
    data = bytearray(b"abc")
    with Buffer.from_bytes(data) as buf:
        data[0] = ord("x")
        assert bytes(buf) == b"abc"


def test_from_bytes_rejects_non_bytes() -> None:
    with pytest.raises(TypeError):
        Buffer.from_bytes("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Buffer.from_bytes(12)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Buffer.from_bytes(memoryview(b"abcdef")[::2])


@BOTH
def test_view_writes_reach_c(secure: bool) -> None:
    with Buffer.new(16, secure=secure) as buf:
        with buf.view() as view:
            assert not view.readonly and len(view) == 16
            view[:5] = b"hello"
            view[15] = 0x7F
        expected = b"hello" + bytes(10) + b"\x7f"
        assert c_sees(buf, expected)
        assert bytes(buf) == expected
        # And C writes (aios_wipe through the data pointer) show in a view.
        with buf.view() as view:
            _ffi.lib.aios_wipe(ctypes.c_void_p(_ffi.lib.aios_buffer_data_mut(buf._handle())), 16)
            assert view.tobytes() == bytes(16)


def test_view_readonly() -> None:
    with Buffer.from_bytes(b"abc") as buf:
        with buf.view(readonly=True) as view:
            assert view.readonly
            with pytest.raises(TypeError):
                view[0] = 1
            assert view.tobytes() == b"abc"


def test_empty_view() -> None:
    with Buffer.new(0, secure=True) as buf:
        with buf.view() as view:
            assert len(view) == 0 and view.tobytes() == b""


@BOTH
def test_close_is_idempotent_and_use_after_close_raises(secure: bool) -> None:
    buf = Buffer.from_bytes(b"secret", secure=secure)
    assert not buf.closed
    buf.close()
    assert buf.closed
    buf.close()  # again: no-op
    assert repr(buf) == "<aios.Buffer closed>"
    for use in (
        lambda: len(buf),
        lambda: bytes(buf),
        lambda: buf.view(),
        lambda: buf.flags,
        lambda: buf.secure,
        lambda: buf.protection,
        lambda: buf.protect("readwrite"),
        lambda: aios.ct_equal(buf, b"secret"),
        lambda: aios.wipe(buf),
        lambda: Buffer.from_bytes(buf),
        lambda: buf.__enter__(),
    ):
        with pytest.raises(aios.StateError) as info:
            use()
        assert info.value.status == Status.E_STATE
        assert "closed" in info.value.message


def test_context_manager_closes() -> None:
    with Buffer.new(4) as buf:
        assert not buf.closed
    assert buf.closed


def test_close_refuses_while_a_view_is_alive() -> None:
    buf = Buffer.from_bytes(b"abcd")
    view = buf.view()
    part = view[1:3]  # a slice is one more reference to the same memory
    view.release()
    with pytest.raises(BufferError):
        buf.close()
    assert not buf.closed
    assert part.tobytes() == b"bc"
    part.release()
    buf.close()
    assert buf.closed


def test_exit_with_live_view_does_not_mask_the_exception() -> None:
    with pytest.raises(KeyError):
        with Buffer.new(4) as buf:
            view = buf.view()
            raise KeyError("original")
    # Still open (the finalizer frees it when the view goes away).
    assert not buf.closed
    view.release()
    buf.close()


def test_exit_with_live_view_raises_buffer_error() -> None:
    with pytest.raises(BufferError):
        with Buffer.new(4) as buf:
            view = buf.view()
    view.release()
    buf.close()


def test_finalizer_frees_a_forgotten_buffer() -> None:
    buf = Buffer.new(32, secure=True)
    finalizer = buf._finalizer
    assert finalizer.alive
    del buf
    gc.collect()
    assert not finalizer.alive


def test_view_keeps_the_buffer_alive() -> None:
    buf = Buffer.from_bytes(b"xyz", secure=True)
    finalizer = buf._finalizer
    view = buf.view()
    del buf
    gc.collect()
    assert finalizer.alive  # memory still valid under the view
    view[0] = ord("X")
    assert view.tobytes() == b"Xyz"
    view.release()
    del view
    gc.collect()
    assert not finalizer.alive


def test_protect_plain_buffer_is_unsupported() -> None:
    with Buffer.new(8) as buf:
        for prot in ("readonly", Protection.NOACCESS, "readwrite"):
            with pytest.raises(aios.InvalidInputError) as info:
                buf.protect(prot)
            assert info.value.status == Status.E_UNSUPPORTED
            assert info.value.kind == "invalid"
        assert buf.protection is Protection.READWRITE
        assert bytes(buf) == bytes(8)


def test_protect_secure_buffer() -> None:
    with Buffer.from_bytes(b"top secret", secure=True) as buf:
        buf.protect("readonly")
        assert buf.protection is Protection.READONLY
        assert bytes(buf) == b"top secret"
        assert aios.ct_equal(buf, b"top secret")
        with buf.view() as view:
            assert view.readonly  # the pages are read-only: so is the view
        with pytest.raises(aios.StateError):
            aios.wipe(buf)
        buf.protect(Protection.NOACCESS)
        assert repr(buf) == "<aios.Buffer secure len=10 protection=noaccess>"
        for use in (lambda: bytes(buf), lambda: buf.view(), lambda: aios.ct_equal(buf, b"x")):
            with pytest.raises(aios.StateError) as info:
                use()
            assert "NOACCESS" in info.value.message
        assert len(buf) == 10  # metadata is still readable
        buf.protect("read-write")
        assert bytes(buf) == b"top secret"
        buf.protect("noaccess")
    # Closing a NOACCESS buffer works (libaios unprotects before wiping).
    assert buf.closed


def test_protection_is_read_from_c() -> None:
    # Change the protection behind the binding's back: it must notice.
    def current(buf: Buffer) -> Protection:  # (a call, so mypy does not narrow the property)
        return buf.protection

    with Buffer.from_bytes(b"hidden", secure=True) as buf:
        handle = buf._handle()
        assert _ffi.lib.aios_buffer_protection(handle) == Protection.READWRITE
        _ffi.lib.aios_buffer_protect(handle, Protection.READONLY)
        assert current(buf) is Protection.READONLY
        with buf.view() as view:
            assert view.readonly
        with pytest.raises(aios.StateError):
            aios.wipe(buf)
        assert bytes(buf) == b"hidden"
        _ffi.lib.aios_buffer_protect(handle, Protection.NOACCESS)
        assert current(buf) is Protection.NOACCESS
        for use in (lambda: bytes(buf), lambda: buf.view(), lambda: aios.ct_equal(buf, b"hidden")):
            with pytest.raises(aios.StateError) as info:
                use()
            assert "NOACCESS" in info.value.message
        assert "protection=noaccess" in repr(buf)
        _ffi.lib.aios_buffer_protect(handle, Protection.READWRITE)
        assert current(buf) is Protection.READWRITE
        with buf.view() as view:
            assert not view.readonly
            view[0:1] = b"H"
        assert bytes(buf) == b"Hidden"
        # And protect() leaves it in C, where the binding reads it back.
        buf.protect("readonly")
        assert _ffi.lib.aios_buffer_protection(handle) == Protection.READONLY


def test_failed_protect_leaves_protection_unchanged() -> None:
    with Buffer.new(4) as plain:
        with pytest.raises(aios.InvalidInputError):
            plain.protect("noaccess")
        assert plain.protection is Protection.READWRITE
        assert _ffi.lib.aios_buffer_protection(plain._handle()) == Protection.READWRITE
    with Buffer.new(4, secure=True) as buf:
        buf.protect("readonly")
        with pytest.raises(aios.InvalidInputError):
            _ffi.lib.aios_buffer_protect(buf._handle(), 9)
        assert buf.protection is Protection.READONLY
        buf.protect("readwrite")


def test_protect_refuses_with_live_views() -> None:
    with Buffer.new(8, secure=True) as buf:
        view = buf.view()
        with pytest.raises(BufferError):
            buf.protect("noaccess")
        with pytest.raises(BufferError):
            buf.protect("readonly")
        view.release()
        ro = buf.view(readonly=True)
        buf.protect("readonly")  # a read-only view stays valid
        assert ro.tobytes() == bytes(8)
        with pytest.raises(BufferError):
            buf.protect("noaccess")
        ro.release()
        buf.protect("readwrite")


def test_protect_rejects_unknown_values() -> None:
    with Buffer.new(8, secure=True) as buf:
        with pytest.raises(aios.InvalidInputError):
            buf.protect("sideways")
        with pytest.raises(aios.InvalidInputError):
            buf.protect(7)
        # And C itself rejects an out-of-range protection.
        with pytest.raises(aios.InvalidInputError) as info:
            _ffi.lib.aios_buffer_protect(buf._handle(), 7)
        assert "unknown protection 7" in info.value.message


def test_max_len_comes_from_c() -> None:
    assert Buffer.max_len() == Buffer.max_len(secure=False) == _ffi.lib.aios_buffer_max_len(0) == 1 << 40
    assert Buffer.max_len(secure=True) == _ffi.lib.aios_buffer_max_len(BufferFlags.SECURE) == 1 << 28
    # Only the SECURE bit matters; the full uint64_t comes back.
    assert _ffi.lib.aios_buffer_max_len(0xFFFFFFFF) == Buffer.max_len(secure=True)
    assert _ffi.lib.aios_buffer_max_len(0xFFFFFFFE) == Buffer.max_len()
    assert isinstance(Buffer.max_len(), int)
    # And it is the limit Buffer.new enforces (in C, before allocating).
    for secure in (False, True):
        with pytest.raises(aios.LimitExceededError) as info:
            Buffer.new(Buffer.max_len(secure=secure) + 1, secure=secure)
        assert str(Buffer.max_len(secure=secure) + 1) in info.value.message


def test_new_rejects_bad_lengths() -> None:
    with pytest.raises(aios.InvalidInputError) as info:
        Buffer.new(-1)
    assert isinstance(info.value, ValueError)
    with pytest.raises(aios.LimitExceededError):
        Buffer.new(1 << 64)
    with pytest.raises(aios.LimitExceededError) as info:
        Buffer.new(aios.BUFFER_SECURE_MAX_LEN + 1, secure=True)
    assert str(aios.BUFFER_SECURE_MAX_LEN + 1) in info.value.message
    with pytest.raises(TypeError):
        Buffer.new("3")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Buffer.new(3.0)  # type: ignore[arg-type]


def test_buffers_are_not_constructed_pickled_or_copied() -> None:
    with pytest.raises(TypeError):
        Buffer()
    with Buffer.from_bytes(b"k", secure=True) as buf:
        with pytest.raises(TypeError):
            pickle.dumps(buf)
        with pytest.raises(TypeError):
            copy.copy(buf)


def test_many_buffers() -> None:
    bufs = [Buffer.from_bytes(bytes([i]) * i, secure=bool(i % 2)) for i in range(64)]
    for i, buf in enumerate(bufs):
        assert bytes(buf) == bytes([i]) * i
        buf.close()
