"""libaios core (``include/aios/core.h``): initialisation, versions, status
codes and error details, allocator hooks, library-owned buffers, constant-
time comparison and wiping.

Thread safety follows the C header: every function here may be called from
any thread; error details are per thread; a :class:`Buffer` has no lock
(do not use one buffer from two threads at once when either writes or
closes it), but it may move between threads.
"""

from __future__ import annotations

import ctypes
import enum
import json
import threading
import weakref
from typing import (
    Any,
    Callable,
    Dict,
    List,
    NamedTuple,
    Optional,
    Protocol,
    Tuple,
    Union,
)

from . import _ffi
from ._ffi import lib
from ._handle import _Handle
from .errors import AiosError, ErrorKind, Status

__all__ = [
    "init",
    "selftest",
    "SelftestResult",
    "version_string",
    "version_number",
    "abi_version",
    "library_version",
    "library_version_info",
    "library_path",
    "build_info",
    "last_error_message",
    "last_error_status",
    "error_clear",
    "status_name",
    "status_str",
    "status_kind",
    "error_kind_name",
    "error_for_status",
    "ct_equal",
    "wipe",
    "Buffer",
    "BufferFlags",
    "Protection",
    "BUFFER_MAX_LEN",
    "BUFFER_SECURE_MAX_LEN",
    "Allocator",
    "set_allocator",
]

#: Bytes-like input: bytes, bytearray, memoryview, array.array, mmap, or a Buffer.
BytesLike = Union[bytes, bytearray, memoryview, "Buffer", Any]

# ------------------------------------------------------------------ status


def status_name(status: int) -> str:
    """``"AIOS_E_AUTH"`` for ``Status.E_AUTH``; ``"AIOS_E_UNKNOWN"`` for unknown codes."""
    return lib.aios_status_name(int(status))  # type: ignore[no-any-return]


def status_str(status: int) -> str:
    """A short description: ``"authentication failed"``; ``"unknown status"`` if unknown."""
    return lib.aios_status_str(int(status))  # type: ignore[no-any-return]


def status_kind(status: int) -> ErrorKind:
    """The coarse kind of ``status`` (``ErrorKind.INTERNAL`` for unknown codes)."""
    kind = int(lib.aios_status_kind(int(status)))
    try:
        return ErrorKind(kind)
    except ValueError:  # a kind newer than this binding
        return kind  # type: ignore[return-value]


def error_kind_name(kind: int) -> str:
    """The stable token of a kind: ``"invalid"``, ``"auth"``, ``"not_found"``, ..."""
    return lib.aios_error_kind_name(int(kind))  # type: ignore[no-any-return]


def error_for_status(status: int, message: Optional[str] = None) -> AiosError:
    """The exception (not raised) that ``status`` maps to.

    Useful to raise a libaios-style error from Python code, e.g. in a
    callback.  ``message`` defaults to :func:`status_str`.  ``status`` must
    be negative.
    """
    return _ffi.error_for_status(status, message)


# ---------------------------------------------------------- error details


def last_error_message() -> str:
    """The message of the last failure on this thread; ``""`` if none.

    The binding already puts it in every exception's ``message``; this is
    for callers that drive :mod:`aios._ffi` directly.
    """
    return lib.aios_last_error_message()  # type: ignore[no-any-return]


def last_error_status() -> int:
    """The status of the last failure on this thread; ``0`` (``Status.OK``) if none."""
    status = int(lib.aios_last_error_status())
    try:
        return Status(status)
    except ValueError:
        return status


def error_clear() -> None:
    """Forget the last failure on this thread."""
    lib.aios_error_clear()


# -------------------------------------------------------- initialisation


def init() -> None:
    """Initialise libaios (idempotent, thread-safe) and raise if that failed.

    Every function that needs initialisation does it implicitly; call this
    to fix the moment it happens or to check its result.  After it,
    :func:`set_allocator` raises :class:`aios.StateError`.
    """
    lib.aios_init()


class SelftestResult(NamedTuple):
    """One known-answer test run by :func:`selftest`."""

    name: str
    ok: bool
    status_name: str


def selftest(progress: Optional[Callable[[SelftestResult], Optional[bool]]] = None) -> List[SelftestResult]:
    """Run every known-answer test of the cryptography libaios links.

    Returns one :class:`SelftestResult` per test, in the order run.  When a
    test fails, raises :class:`aios.InternalError` (``AIOS_E_SELFTEST``)
    whose ``results`` attribute holds the full list.

    ``progress``, if given, is called with each result as it arrives (from
    inside the C call, on the calling thread).  It can stop the run:

    * returning ``False`` (or raising :class:`aios.CancelledError`) stops it
      cleanly: ``selftest()`` raises :class:`aios.CancelledError`
      (``AIOS_E_CANCELLED``);
    * raising any other exception stops it too: ``selftest()`` raises
      :class:`aios.CallbackError` (``AIOS_E_CALLBACK``) chained from it.

    Any other return value (``None`` included) goes on.  Every error raised
    here carries ``results``: the results seen so far.
    """
    results: List[SelftestResult] = []

    def on_result(name: Optional[bytes], status: int, payload: Optional[int]) -> Optional[bool]:
        result = SelftestResult(
            name.decode("utf-8", "replace") if name is not None else "",
            status == 0,
            status_name(status),
        )
        results.append(result)
        return progress(result) if progress is not None else None

    # The CFUNCTYPE object must outlive the C call: `callback` is a local
    # that stays referenced until the call has returned.
    callback = _ffi.aios_selftest_cb(_ffi.status_callback(on_result))
    try:
        lib.aios_selftest(callback, None)
    except AiosError as exc:
        exc.results = results  # type: ignore[attr-defined]
        raise
    finally:
        del callback
    return results


# -------------------------------------------------------------- versions


def version_string() -> str:
    """The library's version, e.g. ``"0.1.0"`` (``aios_version_string()``)."""
    return lib.aios_version_string()  # type: ignore[no-any-return]


def version_number() -> int:
    """The library's version as ``0xMMmmpp`` (``aios_version_number()``)."""
    return int(lib.aios_version_number())


def abi_version() -> int:
    """The loaded library's ABI major (``aios_abi_version()``): 1 for ``libaios.so.1``.

    Checked when ``aios`` is imported (a library of another ABI is refused).
    Does not initialise libaios, like the other version functions.
    """
    return int(lib.aios_abi_version())


def library_version() -> str:
    """The version of the loaded libaios (the binding's own is ``aios.__version__``)."""
    return version_string()


def library_version_info() -> Tuple[int, int, int]:
    """The version of the loaded libaios as ``(major, minor, patch)``."""
    return _ffi.library_version_info


def library_path() -> str:
    """The file the loaded libaios was mapped from."""
    return _ffi.library_path


def build_info() -> Dict[str, Any]:
    """The build description: version, ABI, dependency versions, CPU features used.

    Parsed from the JSON of ``aios_build_info()``.  Initialises libaios.
    """
    info: Dict[str, Any] = json.loads(lib.aios_build_info())
    return info


# ---------------------------------------------------------- secret helpers


def ct_equal(a: BytesLike, b: BytesLike) -> bool:
    """Whether ``a`` and ``b`` hold the same bytes, in constant time.

    The time depends only on the length.  Objects of different lengths
    compare unequal at once (the length is not secret).  Accepts any
    bytes-like object or a :class:`Buffer`.
    """
    pa, na = _ffi.bytes_in(a)
    pb, nb = _ffi.bytes_in(b)
    if na != nb:
        return False
    return lib.aios_ct_equal(pa, pb, na)  # type: ignore[no-any-return]


def wipe(buf: BytesLike) -> None:
    """Overwrite a writable bytes-like object (or a :class:`Buffer`) with zeros, in place.

    ``bytes`` are immutable and cannot be wiped: keep secrets in a
    ``bytearray`` or a secure :class:`Buffer`.
    """
    p, n = _ffi.bytes_out(buf)
    lib.aios_wipe(p, n)


# ---------------------------------------------------------------- buffers


class BufferFlags(enum.IntFlag):
    """``aios_buffer_flags()`` bits."""

    NONE = 0
    SECURE = 0x1  #: AIOS_BUFFER_SECURE: libsodium guarded, locked memory


class Protection(enum.IntEnum):
    """``aios_protection``: page protection of a secure buffer."""

    READWRITE = 0
    READONLY = 1
    NOACCESS = 2


def _protection(value: Union[Protection, int, str]) -> Protection:
    if isinstance(value, str):
        try:
            return Protection[value.strip().upper().replace("-", "").replace("_", "")]
        except KeyError:
            raise _ffi.error_for_status(
                Status.E_INVALID_ARGUMENT,
                f"unknown protection {value!r}: use 'readwrite', 'readonly' or 'noaccess'",
            ) from None
    try:
        return Protection(int(value))
    except ValueError:
        raise _ffi.error_for_status(Status.E_INVALID_ARGUMENT, f"unknown protection {value!r}") from None


def _free_buffer(handle: Any) -> None:
    lib.aios_buffer_free(handle)


def _max_len(secure: bool) -> int:
    return int(lib.aios_buffer_max_len(BufferFlags.SECURE if secure else BufferFlags.NONE))


#: The largest buffer libaios allocates (``AIOS_BUFFER_MAX_LEN``, 2**40
#: bytes), as the loaded library reports it (``aios_buffer_max_len(0)``).
BUFFER_MAX_LEN: int = _max_len(False)
#: The largest *secure* buffer (``AIOS_BUFFER_SECURE_MAX_LEN``, 2**28 bytes
#: of locked RAM, meant for keys and other small secrets), as the loaded
#: library reports it.
BUFFER_SECURE_MAX_LEN: int = _max_len(True)


class Buffer(_Handle):
    """Bytes that libaios allocated (``aios_buffer``); plain or secure.

    A *secure* buffer lives in libsodium's guarded memory: guard pages,
    a canary, locked into RAM and left out of core dumps.  Functions that
    return secrets return secure buffers.

    Create one with :meth:`new` or :meth:`from_bytes` (other modules return
    them too).  Close it with :meth:`close` or a ``with`` block: closing
    wipes the bytes and frees them.  A finalizer closes a forgotten buffer
    when it is garbage collected, but do not rely on it for secrets.

    ``len(buf)`` is its size, ``bytes(buf)`` a copy of its bytes and
    :meth:`view` a zero-copy ``memoryview`` of the C memory.  Any use after
    :meth:`close` raises :class:`aios.StateError`.  Buffers cannot be
    pickled or copied implicitly (they may hold secrets).
    """

    __slots__ = ("_exports",)

    _closed_message = "aios.Buffer: the buffer is closed"
    _exports: List[Tuple["weakref.ReferenceType[Any]", bool]]

    def __init__(self) -> None:
        raise TypeError("use aios.Buffer.new() or aios.Buffer.from_bytes()")

    @classmethod
    def _adopt(cls, handle: Any) -> "Buffer":
        """Take ownership of an ``aios_buffer *`` that C returned through ``**out``."""
        if not handle:
            raise _ffi.error_for_status(Status.E_INTERNAL, "libaios returned a NULL buffer")
        self = object.__new__(cls)
        self._own(handle, _free_buffer)
        self._exports = []
        return self

    @staticmethod
    def max_len(secure: bool = False) -> int:
        """The largest length :meth:`new` accepts (``aios_buffer_max_len()``).

        2**40 bytes, or 2**28 for a secure buffer; longer requests raise
        :class:`aios.LimitExceededError` before anything is allocated.
        Also :data:`aios.BUFFER_MAX_LEN` and :data:`aios.BUFFER_SECURE_MAX_LEN`.
        """
        return _max_len(secure)

    @classmethod
    def new(cls, length: int, secure: bool = False) -> "Buffer":
        """A zero-filled buffer of ``length`` bytes (0 is allowed)."""
        n = _ffi.size_arg(length, "aios.Buffer.new: length")
        out = _ffi.aios_buffer_p()
        lib.aios_buffer_new(ctypes.byref(out), n, BufferFlags.SECURE if secure else 0)
        return cls._adopt(out)

    @classmethod
    def from_bytes(cls, data: BytesLike, secure: bool = False) -> "Buffer":
        """A buffer holding a copy of ``data`` (any bytes-like object or Buffer)."""
        p, n = _ffi.bytes_in(data)
        out = _ffi.aios_buffer_p()
        lib.aios_buffer_from_bytes(ctypes.byref(out), p, n, BufferFlags.SECURE if secure else 0)
        return cls._adopt(out)

    # ---- state

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran (or the buffer was handed over)."""
        return super().closed

    def _live_exports(self) -> List[bool]:
        """The read-only flag of every view still alive (pruning dead ones)."""
        alive = [(ref, ro) for ref, ro in self._exports if ref() is not None]
        self._exports = alive
        return [ro for _, ro in alive]

    def _check_close(self) -> None:
        if self._live_exports():
            raise BufferError(
                "aios.Buffer.close: memoryviews from view() still refer to the buffer; "
                "release them first (use `with buf.view() as v:` or v.release())"
            )

    def close(self) -> None:
        """Wipe and free the bytes.  Idempotent.

        Raises ``BufferError`` (and stays open) while a memoryview from
        :meth:`view` is alive: release views first (``with buf.view() as v:``).
        """
        super().close()

    # ---- contents

    def __len__(self) -> int:
        return int(lib.aios_buffer_len(self._handle()))

    @property
    def flags(self) -> BufferFlags:
        """The ``AIOS_BUFFER_*`` flags the buffer was created with."""
        return BufferFlags(int(lib.aios_buffer_flags(self._handle())))

    @property
    def secure(self) -> bool:
        """Whether the bytes live in libsodium's guarded memory."""
        return bool(self.flags & BufferFlags.SECURE)

    @property
    def protection(self) -> Protection:
        """The current page protection, as libaios reports it (plain buffers: READWRITE)."""
        prot = int(lib.aios_buffer_protection(self._handle()))
        try:
            return Protection(prot)
        except ValueError:  # a protection newer than this binding
            return prot  # type: ignore[return-value]

    def _readable(self) -> Tuple[Any, int, int]:
        """``(handle, length, protection)``; StateError unless the pages can be read."""
        handle = self._handle()
        prot = int(lib.aios_buffer_protection(handle))
        if prot not in (Protection.READWRITE, Protection.READONLY):
            # NOACCESS (or a protection this binding does not know): reading
            # the pages would kill the process.
            try:
                label = Protection(prot).name
            except ValueError:
                label = f"with unknown protection {prot}"
            raise _ffi.error_for_status(
                Status.E_STATE, f"aios.Buffer: the buffer is protected {label}; protect('readwrite') first"
            )
        return handle, int(lib.aios_buffer_len(handle)), prot

    def __bytes__(self) -> bytes:
        handle, n, _ = self._readable()
        if n == 0:
            return b""
        return ctypes.string_at(lib.aios_buffer_data(handle), n)

    def view(self, readonly: bool = False) -> memoryview:
        """A ``memoryview`` of the buffer's C memory, without copying.

        Writes through the view change the bytes libaios sees.  The view is
        valid while the buffer is open: :meth:`close` refuses (``BufferError``)
        while a view is alive, and a view keeps the buffer from being
        garbage collected.  Release views when done (``with buf.view() as
        v:``) so the buffer can be closed.  The view is read-only when
        ``readonly`` is true or the buffer is protected READONLY.  Views of
        secure buffers point into guarded memory; copying from them
        (``bytes(v)``) puts the secret on the Python heap.
        """
        handle, n, prot = self._readable()
        readonly = readonly or prot != Protection.READWRITE
        addr = lib.aios_buffer_data_mut(handle)
        array = (ctypes.c_ubyte * n).from_address(addr)
        # The array is the exporter: every memoryview derived from it keeps
        # it alive, and it keeps this Buffer (so the finalizer cannot free
        # the memory under a live view).
        array._aios_owner = self  # type: ignore[attr-defined]
        self._exports.append((weakref.ref(array), readonly))
        mv = memoryview(array).cast("B")
        return mv.toreadonly() if readonly else mv

    def protect(self, protection: Union[Protection, int, str]) -> None:
        """Change the page protection of a *secure* buffer.

        ``protection`` is a :class:`Protection` or ``"readwrite"``,
        ``"readonly"``, ``"noaccess"``.  While NOACCESS the binding refuses
        to read the bytes (the process would be killed).  Raises
        :class:`aios.InvalidInputError` (``AIOS_E_UNSUPPORTED``) for a plain
        buffer and ``BufferError`` when live views would be invalidated
        (any view for NOACCESS, a writable view for READONLY).  The
        protection lives in libaios (:attr:`protection` reads it back).
        """
        prot = _protection(protection)
        handle = self._handle()
        if prot != Protection.READWRITE and int(lib.aios_buffer_flags(handle)) & BufferFlags.SECURE:
            live = self._live_exports()
            if prot == Protection.NOACCESS and live:
                raise BufferError("aios.Buffer.protect: release the views from view() before NOACCESS")
            if prot == Protection.READONLY and not all(live):
                raise BufferError("aios.Buffer.protect: release the writable views from view() before READONLY")
        lib.aios_buffer_protect(handle, prot)

    # ---- hooks for aios._ffi.bytes_in / bytes_out

    def _aios_bytes_in(self) -> Tuple[Any, int]:
        handle, n, _ = self._readable()
        return ctypes.c_void_p(lib.aios_buffer_data(handle)), n

    def _aios_bytes_out(self) -> Tuple[Any, int]:
        handle, n, prot = self._readable()
        if prot != Protection.READWRITE:
            raise _ffi.error_for_status(Status.E_STATE, "aios.Buffer: the buffer is protected READONLY")
        return ctypes.c_void_p(lib.aios_buffer_data_mut(handle)), n

    # ---- Python protocol

    def __repr__(self) -> str:
        if self.closed:
            return "<aios.Buffer closed>"
        kind = "secure" if self.secure else "plain"
        prot = self.protection
        label = prot.name.lower() if isinstance(prot, Protection) else str(prot)
        return f"<aios.Buffer {kind} len={len(self)} protection={label}>"

    def __reduce__(self) -> Any:
        raise TypeError("aios.Buffer cannot be pickled or copied (it may hold secrets); use bytes(buf)")


# -------------------------------------------------------------- allocator


class Allocator(Protocol):
    """What :func:`set_allocator` expects: two thread-safe methods.

    Addresses are ints (0 or None for NULL).  ``malloc`` is never asked for
    0 bytes and must return memory aligned for any C type (as ``malloc``
    does); ``free`` is never called with NULL.  There is no ``realloc``:
    libaios grows memory by copying, so it can wipe the old bytes.
    """

    def malloc(self, size: int) -> Optional[int]: ...

    def free(self, ptr: int) -> None: ...


# CFUNCTYPE objects handed to C.  libaios keeps the function pointers for
# the life of the process, so the objects are never released.
_allocator_keepalive: List[Tuple[Any, Any]] = []
_allocator_lock = threading.Lock()


def _address(value: Any) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, ctypes.c_void_p):
        return value.value
    return int(value.__index__())


def set_allocator(allocator: Optional[Allocator]) -> None:
    """Route libaios' own allocations (and protobuf-c's) through ``allocator``.

    ``allocator`` has ``malloc(size) -> int`` (an address as an int, 0 or
    None for failure; ``size`` is never 0) and ``free(ptr)`` (``ptr`` is
    never NULL); they may run on any thread.  ``None`` restores malloc.  Must be called
    before libaios initialises (before :func:`init` and any call that
    initialises implicitly): afterwards it raises :class:`aios.StateError`.
    Secure buffers (libsodium) and mbedTLS keep their own allocators.

    If a method raises, libaios sees an allocation failure and the C call
    that allocated raises its error (e.g. :class:`aios.ResourceError`)
    chained from the Python exception.
    """
    if allocator is None:
        with _allocator_lock:
            lib.aios_set_allocator(None)
        return
    methods = {}
    for name in ("malloc", "free"):
        method = getattr(allocator, name, None)
        if not callable(method):
            raise TypeError(f"set_allocator: the allocator needs a callable {name}()")
        methods[name] = method
    py_malloc, py_free = methods["malloc"], methods["free"]

    def c_malloc(size: int, payload: Optional[int]) -> Optional[int]:
        return _address(py_malloc(size))

    def c_free(ptr: Optional[int], payload: Optional[int]) -> None:
        if ptr:
            py_free(ptr)

    callbacks = (
        _ffi.aios_malloc_cb(_ffi.guard_callback(c_malloc, None)),
        _ffi.aios_free_cb(_ffi.guard_callback(c_free, None)),
    )
    table = _ffi.aios_allocator(ctypes.sizeof(_ffi.aios_allocator), *callbacks, None)
    with _allocator_lock:
        # Keep them before C can see them; never drop them afterwards.
        _allocator_keepalive.append(callbacks)
        lib.aios_set_allocator(ctypes.byref(table))
