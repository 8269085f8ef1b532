"""set_allocator(): each case in a fresh interpreter, since libaios accepts an
allocator only before it initialises, once per process."""

from __future__ import annotations

import ctypes
import json
import re

import pytest

import aios

from conftest import header_text, run_python, strip_c_comments

COUNTING_ALLOCATOR = r"""
import ctypes, ctypes.util, json, threading
import aios

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = (ctypes.c_void_p,)
libc.free.restype = None

class CountingAllocator:
    def __init__(self):
        self.lock = threading.Lock()
        self.mallocs = self.frees = 0
        self.sizes = []          # every size malloc was asked for
        self.freed = []          # every pointer free was given
        self.live = set()
        self.fail_with = None

    def malloc(self, size):
        if self.fail_with is not None:
            raise self.fail_with
        p = libc.malloc(size)
        with self.lock:
            self.mallocs += 1
            self.sizes.append(size)
            self.live.add(p)
        return p

    def free(self, ptr):
        with self.lock:
            self.frees += 1
            self.freed.append(ptr)
            self.live.remove(ptr)
        libc.free(ptr)

def data_address(buf):
    with buf.view() as v:
        return ctypes.addressof(ctypes.c_char.from_buffer(v)) if len(v) else None
"""


def run_case(body: str) -> dict:
    proc = run_python(COUNTING_ALLOCATOR + body)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_counting_allocator_sees_libaios_allocations() -> None:
    out = run_case(
        r"""
alloc = CountingAllocator()
aios.set_allocator(alloc)
aios.init()
after_init = (alloc.mallocs, alloc.frees)

plain = aios.Buffer.from_bytes(b"x" * 1000)
plain_addr = data_address(plain)
after_plain = (alloc.mallocs, alloc.frees)
plain_data_hooked = plain_addr in alloc.live
ok_plain = bytes(plain) == b"x" * 1000
plain.close()
after_plain_close = (alloc.mallocs, alloc.frees)

secure = aios.Buffer.new(64, secure=True)
secure_addr = data_address(secure)
after_secure = (alloc.mallocs, alloc.frees)
secure_data_hooked = secure_addr in alloc.live
secure.close()
after_secure_close = (alloc.mallocs, alloc.frees)

try:
    aios.set_allocator(None)
    late = "no error"
except aios.StateError as exc:
    late = [type(exc).__name__, exc.name, exc.message]
try:
    aios.set_allocator(CountingAllocator())
    late2 = "no error"
except aios.StateError as exc:
    late2 = exc.name

print(json.dumps(dict(after_init=after_init, after_plain=after_plain,
    plain_data_hooked=plain_data_hooked, ok_plain=ok_plain,
    after_plain_close=after_plain_close, after_secure=after_secure,
    secure_data_hooked=secure_data_hooked, after_secure_close=after_secure_close,
    late=late, late2=late2, live=len(alloc.live))))
"""
    )
    m0, f0 = out["after_init"]
    m1, f1 = out["after_plain"]
    m2, f2 = out["after_plain_close"]
    m3, f3 = out["after_secure"]
    m4, f4 = out["after_secure_close"]
    # A plain buffer: its bytes come from the host allocator ...
    assert m1 > m0 and f1 == f0
    assert out["plain_data_hooked"] is True and out["ok_plain"] is True
    # ... and closing it gives back everything it took.
    assert m2 == m1 and f2 - f1 == m1 - m0
    # A secure buffer: the bytes are libsodium's guarded memory, not ours;
    # whatever it did take from the host allocator is given back.
    assert out["secure_data_hooked"] is False
    assert m4 == m3 and f4 - f3 == m3 - m2
    assert out["live"] == m4 - f4 and f4 >= f0
    # Too late once initialised.
    assert out["late"][:2] == ["StateError", "AIOS_E_STATE"]
    assert "before aios_init" in out["late"][2]
    assert out["late2"] == "AIOS_E_STATE"


def test_allocator_exception_becomes_the_cause() -> None:
    out = run_case(
        r"""
alloc = CountingAllocator()
aios.set_allocator(alloc)
aios.init()
alloc.fail_with = RuntimeError("host allocator refused")
try:
    aios.Buffer.new(16)
    result = "no error"
except aios.AiosError as exc:
    result = dict(cls=type(exc).__name__, is_memory_error=isinstance(exc, MemoryError),
                  status=int(exc.status), cause=repr(exc.__cause__),
                  host=exc.host_exception is exc.__cause__, message=exc.message)
alloc.fail_with = None
with aios.Buffer.new(16) as buf:
    after = bytes(buf) == bytes(16)
print(json.dumps(dict(result=result, after=after, live=len(alloc.live))))
"""
    )
    result = out["result"]
    assert result["cls"] == "ResourceError" and result["is_memory_error"] is True
    assert result["status"] == aios.Status.E_NOMEM
    assert result["cause"] == "RuntimeError('host allocator refused')"
    assert result["host"] is True
    assert "out of memory" in result["message"] or "cannot allocate" in result["message"]
    assert out["after"] is True  # no stale exception left for the next call


def test_allocator_returning_null_is_out_of_memory() -> None:
    out = run_case(
        r"""
class Null(CountingAllocator):
    armed = False
    def malloc(self, size):
        return 0 if self.armed else super().malloc(size)
alloc = Null()
aios.set_allocator(alloc)
aios.init()
alloc.armed = True
try:
    aios.Buffer.from_bytes(b"abc")
    result = "no error"
except aios.ResourceError as exc:
    result = [exc.name, exc.__cause__ is None]
print(json.dumps(dict(result=result)))
"""
    )
    assert out["result"] == ["AIOS_E_NOMEM", True]


def test_set_allocator_none_before_init_restores_malloc() -> None:
    out = run_case(
        r"""
alloc = CountingAllocator()
aios.set_allocator(alloc)
aios.set_allocator(None)
with aios.Buffer.from_bytes(b"abc") as buf:
    ok = bytes(buf) == b"abc"
print(json.dumps(dict(ok=ok, mallocs=alloc.mallocs)))
"""
    )
    assert out == {"ok": True, "mallocs": 0}


def test_malloc_never_sees_zero_and_free_never_sees_null() -> None:
    out = run_case(
        r"""
alloc = CountingAllocator()
aios.set_allocator(alloc)
aios.init()
for secure in (False, True):
    for make in (lambda: aios.Buffer.new(0, secure=secure),
                 lambda: aios.Buffer.from_bytes(b"", secure=secure),
                 lambda: aios.Buffer.from_bytes(b"abc" * 500, secure=secure)):
        with make() as buf:
            aios.ct_equal(buf, bytes(len(buf)))
aios.selftest()          # encodes and decodes through the allocator, too
print(json.dumps(dict(sizes=sorted(set(alloc.sizes)), freed_null=sum(1 for p in alloc.freed if not p),
                      mallocs=alloc.mallocs, frees=alloc.frees, live=len(alloc.live))))
"""
    )
    assert out["mallocs"] > 0 and out["sizes"][0] > 0, out["sizes"]
    assert out["freed_null"] == 0
    assert out["live"] == out["mallocs"] - out["frees"]


def test_set_allocator_needs_malloc_and_free_only() -> None:
    class NoFree:
        def malloc(self, size: int) -> int:
            return 0

    class NoMalloc:
        def free(self, ptr: int) -> None:
            pass

    class NotCallable:
        malloc = None

        def free(self, ptr: int) -> None:
            pass

    with pytest.raises(TypeError, match=r"free\(\)"):
        aios.set_allocator(NoFree())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"malloc\(\)"):
        aios.set_allocator(NoMalloc())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"malloc\(\)"):
        aios.set_allocator(NotCallable())  # type: ignore[arg-type]


def test_allocator_struct_mirrors_header() -> None:
    from aios import _ffi

    assert [field[0] for field in _ffi.aios_allocator._fields_] == ["size", "malloc_fn", "free_fn", "payload"]
    assert ctypes.sizeof(_ffi.aios_allocator) == 4 * ctypes.sizeof(ctypes.c_void_p)
    assert not hasattr(_ffi, "aios_realloc_cb")
    text = strip_c_comments(header_text("core.h"))
    body = re.search(r"typedef struct aios_allocator \{(.*?)\}", text, flags=re.S)
    assert body
    fields = re.findall(r"(\w+)\s*;", body.group(1))
    assert fields == [field[0] for field in _ffi.aios_allocator._fields_]
