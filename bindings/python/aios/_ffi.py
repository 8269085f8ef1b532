"""The ctypes layer: find and load libaios.so.1, declare every C function once.

Nothing here is public API; :mod:`aios.core` (and later one module per C
header) builds the Pythonic API on top of it.  What lives here:

* **Discovery and loading** of ``libaios.so.1`` (ABI major 1, never
  another), in this order: ``$AIOS_LIBRARY`` (exclusive when set), the
  install prefixes, then the ``build/`` directory of a source checkout.
  A candidate must have the SONAME ``libaios.so.1`` (read from the ELF
  file before it is loaded) and its ``aios_abi_version()`` must say 1
  (asked after loading; it does not initialise libaios).  Failure raises
  :class:`aios.LibraryNotFoundError` listing every place tried.
* **Opaque handle types** (``aios_buffer_p`` = ``POINTER(aios_buffer)``) so
  ctypes refuses to pass one kind of handle where another is expected.
* **The declaration table** :data:`FUNCTIONS`: one :class:`Fn` row per
  exported C function with its restype, argtypes and errcheck.  Every row
  has an errcheck; a function that returns a status raises the matching
  :class:`aios.AiosError` subclass, with the per-thread message read in
  the errcheck itself (same thread, before any other libaios call).
  tests/test_symbols.py fails when ``lib/libaios.map`` exports a symbol
  that is missing here.
* **Callback exceptions**: :func:`guard_callback` wraps a Python callback
  handed to C so an exception never unwinds through C frames; it is parked
  in a per-thread slot and re-raised by the errcheck of the C call that
  ran the callback (a :class:`aios.CallbackError` chained from it, or the
  mapped error when C reported another status).  :func:`status_callback`
  does the same for callbacks that return a status to C and can stop the
  operation (``AIOS_E_CALLBACK`` when Python raised, ``AIOS_E_CANCELLED``
  when it asked to stop).

To add a C function: write its row in :data:`FUNCTIONS` (in the section of
its header) and use it as ``lib.<name>`` from the Python module of that
header.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform
import struct
import sys
import sysconfig
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_int,
    c_size_t,
    c_ubyte,
    c_uint32,
    c_uint64,
    c_void_p,
)
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    List,
    NamedTuple,
    NoReturn,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

from . import errors
from ._version import MIN_LIBRARY_VERSION
from .errors import AiosError, LibraryNotFoundError, LibraryVersionError, Status

#: The ABI major this binding speaks; the SONAME it loads.
ABI_MAJOR = 1
SONAME = f"libaios.so.{ABI_MAJOR}"
#: Environment variable naming the library file to load (exclusive when set).
ENV_VAR = "AIOS_LIBRARY"

# =====================================================================
# Discovery
# =====================================================================

_SHT_DYNAMIC = 6
_DT_NULL = 0
_DT_SONAME = 14


def elf_soname(path: str) -> Optional[str]:
    """The DT_SONAME of the ELF shared object at ``path``.

    Returns ``""`` for an ELF file without a SONAME and None when the file
    is not ELF or cannot be read (then the loader decides).
    """
    try:
        with open(path, "rb") as f:
            ident = f.read(16)
            if len(ident) < 16 or ident[:4] != b"\x7fELF":
                return None
            elf_class, data = ident[4], ident[5]
            if elf_class not in (1, 2) or data not in (1, 2):
                return None
            end = "<" if data == 1 else ">"
            is64 = elf_class == 2
            header = struct.Struct(end + ("HHIQQQIHHHHHH" if is64 else "HHIIIIIHHHHHH"))
            fields = header.unpack(f.read(header.size))
            shoff, shentsize, shnum = fields[5], fields[10], fields[11]
            # name, type, flags, addr, offset, size, link, info, align, entsize
            section = struct.Struct(end + ("IIQQQQIIQQ" if is64 else "IIIIIIIIII"))
            if shoff == 0 or shnum == 0 or shentsize < section.size:
                return ""
            sections = []
            for i in range(shnum):
                f.seek(shoff + i * shentsize)
                sections.append(section.unpack(f.read(section.size)))
            dyn = struct.Struct(end + ("qQ" if is64 else "iI"))
            for sh in sections:
                if sh[1] != _SHT_DYNAMIC:
                    continue
                strtab = sections[sh[6]]
                f.seek(sh[4])
                raw = f.read(sh[5])
                for off in range(0, len(raw) - dyn.size + 1, dyn.size):
                    tag, val = dyn.unpack_from(raw, off)
                    if tag == _DT_NULL:
                        break
                    if tag == _DT_SONAME:
                        f.seek(strtab[4] + val)
                        return f.read(256).split(b"\0", 1)[0].decode("utf-8", "replace")
                return ""
            return ""
    except (OSError, struct.error, IndexError):
        return None


def _multiarch() -> str:
    arch = sysconfig.get_config_var("MULTIARCH")
    if isinstance(arch, str) and arch:
        return arch
    return f"{platform.machine()}-linux-gnu"


def _prefix_dirs() -> List[str]:
    """Library directories of the places libaios is usually installed."""
    dirs: List[str] = []
    prefixes = [sys.prefix, getattr(sys, "base_prefix", sys.prefix), "/usr/local"]
    for prefix in prefixes:
        for sub in ("lib", "lib64", os.path.join("lib", _multiarch())):
            dirs.append(os.path.join(prefix, sub))
    dirs += [os.path.join("/usr/lib", _multiarch()), "/usr/lib64", "/usr/lib"]
    seen: List[str] = []
    for d in dirs:
        d = os.path.normpath(d)
        if d not in seen:
            seen.append(d)
    return seen


def source_root(start: Optional[str] = None) -> Optional[str]:
    """The libaios source checkout this package runs from, if any.

    Walks up from ``start`` (default: this package's directory) to the
    first directory holding both ``CMakeLists.txt`` and ``lib/libaios.map``.
    """
    here = os.path.abspath(start or os.path.dirname(__file__))
    while True:
        if os.path.isfile(os.path.join(here, "CMakeLists.txt")) and os.path.isfile(
            os.path.join(here, "lib", "libaios.map")
        ):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


class Candidate(NamedTuple):
    """One place to look: a human label and what to hand to dlopen."""

    where: str
    target: Optional[str]  # a path, a bare SONAME for the loader, or None (nothing there)


def search_plan(environ: Optional[Dict[str, str]] = None) -> List[Candidate]:
    """Every place the loader will try, in order (see the module docstring)."""
    env = os.environ if environ is None else environ
    explicit = env.get(ENV_VAR, "")
    if explicit:
        return [Candidate(f"${ENV_VAR}", explicit)]
    plan: List[Candidate] = []
    plan.append(Candidate("ctypes.util.find_library('aios')", ctypes.util.find_library("aios")))
    for d in _prefix_dirs():
        plan.append(Candidate("install prefix", os.path.join(d, SONAME)))
    plan.append(
        Candidate("the dynamic loader's search path (LD_LIBRARY_PATH, /etc/ld.so.cache)", SONAME)
    )
    root = source_root()
    if root is not None:
        for sub in (os.path.join("build", "lib"), "build"):
            plan.append(Candidate("source checkout", os.path.join(root, sub, SONAME)))
    else:
        plan.append(Candidate("a source checkout's build/ (none found above the package)", None))
    return plan


class _Rejected(Exception):
    """A candidate that exists but cannot be used (message says why)."""

    def __init__(self, reason: str, version_problem: bool = False) -> None:
        super().__init__(reason)
        self.version_problem = version_problem


class _DlInfo(Structure):
    _fields_ = [
        ("dli_fname", c_char_p),
        ("dli_fbase", c_void_p),
        ("dli_sname", c_char_p),
        ("dli_saddr", c_void_p),
    ]


def _loaded_path(cdll: ctypes.CDLL, fallback: str) -> str:
    """The file the loader actually mapped (dladdr), else ``fallback``."""
    try:
        libc = ctypes.CDLL(None)
        dladdr = libc.dladdr
    except (OSError, AttributeError):
        return fallback
    dladdr.argtypes = (c_void_p, POINTER(_DlInfo))
    dladdr.restype = c_int
    info = _DlInfo()
    addr = ctypes.cast(cdll["aios_version_number"], c_void_p)
    if dladdr(addr, ctypes.byref(info)) and info.dli_fname:
        return os.fsdecode(info.dli_fname)
    return fallback


def _decode_version(number: int) -> Tuple[int, int, int]:
    return ((number >> 16) & 0xFF, (number >> 8) & 0xFF, number & 0xFF)


def _abi_of(cdll: ctypes.CDLL) -> Optional[int]:
    """What the library's ``aios_abi_version()`` returns; None if it has none.

    Called before the table is bound (with a private function object), so
    the ABI verdict comes first even for a library that lacks other
    symbols.  ``aios_abi_version()`` does not initialise libaios.
    """
    try:
        fn = cdll["aios_abi_version"]
    except AttributeError:
        return None
    fn.restype = c_uint32
    fn.argtypes = ()
    return int(fn())


def _open(target: str) -> Tuple[ctypes.CDLL, str, "Lib"]:
    """dlopen one candidate, check it is a usable libaios.so.1 and bind the table."""
    is_path = os.sep in target
    if is_path:
        target = os.path.abspath(target)
        if not os.path.exists(target):
            raise FileNotFoundError("no such file")
        soname = elf_soname(target)
        if soname == "":
            raise _Rejected(f"{target} has no SONAME; expected {SONAME}")
        if soname is not None and soname != SONAME:
            raise _Rejected(f"SONAME is {soname}, not {SONAME} (ABI major {ABI_MAJOR})")
    elif target != SONAME:
        raise _Rejected(f"{target} is not {SONAME} (ABI major {ABI_MAJOR})")
    try:
        cdll = ctypes.CDLL(target, mode=ctypes.RTLD_LOCAL)
    except OSError as exc:
        if not is_path and "No such file" in str(exc):
            raise FileNotFoundError(str(exc)) from None
        raise _Rejected(f"cannot load: {exc}") from exc
    try:
        cdll["aios_version_number"]
    except AttributeError:
        raise _Rejected("not libaios: it has no aios_version_number symbol") from None
    path = _loaded_path(cdll, target)
    if not is_path:
        soname = elf_soname(path)
        if soname and soname != SONAME:
            raise _Rejected(f"{path}: SONAME is {soname}, not {SONAME}")
    abi = _abi_of(cdll)
    if abi is not None and abi != ABI_MAJOR:
        raise _Rejected(f"{path}: aios_abi_version() is {abi}, not {ABI_MAJOR} (this binding speaks {SONAME})")
    # A library without aios_abi_version() predates it: Lib() rejects it as too old.
    bound = Lib(cdll, FUNCTIONS)
    have = _decode_version(int(bound.aios_version_number()))
    need = ".".join(map(str, MIN_LIBRARY_VERSION))
    if have < MIN_LIBRARY_VERSION:
        raise _Rejected(
            f"{path} is libaios {'.'.join(map(str, have))}; this binding needs {need} or newer",
            version_problem=True,
        )
    return cdll, path, bound


def _has_symbol(cdll: ctypes.CDLL, name: str) -> bool:
    try:
        cdll[name]
    except AttributeError:
        return False
    return True


def _load(plan: Sequence[Candidate]) -> Tuple[ctypes.CDLL, str, "Lib"]:
    tried: List[Tuple[str, str]] = []
    only_version_problems = True
    for cand in plan:
        if cand.target is None:
            tried.append((cand.where, "not found"))
            continue
        try:
            return _open(cand.target)
        except FileNotFoundError:
            tried.append((f"{cand.where}: {cand.target}", "not found"))
        except _Rejected as exc:
            tried.append((f"{cand.where}: {cand.target}", str(exc)))
            only_version_problems = only_version_problems and exc.version_problem
            if cand.where.startswith("$"):
                break
    lines = "\n".join(f"  - {where}: {outcome}" for where, outcome in tried)
    explicit = bool(plan) and plan[0].where.startswith("$")
    if explicit:
        hint = (
            f"{ENV_VAR} must be the full path of {SONAME} (e.g. build/lib/{SONAME}); "
            f"unset it to search the install prefixes and the source checkout instead."
        )
    else:
        hint = (
            f"Install libaios, or set {ENV_VAR} to the full path of {SONAME} "
            f"(e.g. {ENV_VAR}=/path/to/libaios/build/lib/{SONAME})."
        )
    found_any = any(outcome != "not found" for _, outcome in tried)
    cls = LibraryVersionError if (found_any and only_version_problems) else LibraryNotFoundError
    raise cls(f"cannot load {SONAME} (libaios, ABI major {ABI_MAJOR}). Tried:\n{lines}\n{hint}", tuple(tried))


# =====================================================================
# Opaque handles, callback and struct types
# =====================================================================


def _opaque(name: str) -> Tuple[Any, Any]:
    """An incomplete struct ``name`` and ``POINTER`` to it (a typed handle)."""
    struct_type = type(name, (Structure,), {})
    return struct_type, POINTER(struct_type)


aios_buffer, aios_buffer_p = _opaque("aios_buffer")

# typedef int (*aios_selftest_cb)(const char *name, int status, void *payload);
aios_selftest_cb = CFUNCTYPE(c_int, c_char_p, c_int, c_void_p)
# typedef void *(*aios_malloc_cb)(size_t size, void *payload);
aios_malloc_cb = CFUNCTYPE(c_void_p, c_size_t, c_void_p)
# typedef void (*aios_free_cb)(void *ptr, void *payload);
aios_free_cb = CFUNCTYPE(None, c_void_p, c_void_p)


class aios_allocator(Structure):
    """``struct aios_allocator``: a plug-in table that starts with its size."""

    _fields_ = [
        ("size", c_size_t),
        ("malloc_fn", aios_malloc_cb),
        ("free_fn", aios_free_cb),
        ("payload", c_void_p),
    ]


# ---- byte arguments --------------------------------------------------


class ConstBytes:
    """argtype for ``const uint8_t *``: what :func:`bytes_in` produces.

    Accepts ``bytes`` (passed without a copy), ctypes ``c_ubyte`` arrays and
    ``c_void_p`` addresses prepared by this module; never a bare int or None.
    """

    @classmethod
    def from_param(cls, obj: Any) -> Any:
        if isinstance(obj, (bytes, ctypes.Array, c_void_p)):
            return obj
        raise TypeError(f"expected bytes prepared by aios._ffi.bytes_in, got {type(obj).__name__}")


class MutBytes:
    """argtype for ``uint8_t *`` / ``void *`` written by C: what :func:`bytes_out` produces."""

    @classmethod
    def from_param(cls, obj: Any) -> Any:
        if isinstance(obj, (ctypes.Array, c_void_p)):
            return obj
        raise TypeError(f"expected a buffer prepared by aios._ffi.bytes_out, got {type(obj).__name__}")


def bytes_in(obj: Any) -> Tuple[Any, int]:
    """``(argument, length)`` for passing a bytes-like object as ``const uint8_t *``.

    ``bytes`` and writable buffers (bytearray, writable memoryview, array,
    mmap) are passed without a copy; other read-only buffers are copied
    once.  Objects with an ``_aios_bytes_in()`` method (:class:`aios.Buffer`)
    pass their C memory directly.
    """
    hook = getattr(obj, "_aios_bytes_in", None)
    if hook is not None:
        result: Tuple[Any, int] = hook()
        return result
    if isinstance(obj, bytes):
        return obj, len(obj)
    if isinstance(obj, str):
        raise TypeError("expected a bytes-like object, got str (encode it first)")
    try:
        view = memoryview(obj)
    except TypeError:
        raise TypeError(f"expected a bytes-like object, got {type(obj).__name__}") from None
    with view:
        if not view.c_contiguous:
            raise TypeError("expected a C-contiguous buffer")
        n = view.nbytes
        if view.readonly:
            return view.tobytes(), n
        return (c_ubyte * n).from_buffer(view), n


def bytes_out(obj: Any) -> Tuple[Any, int]:
    """``(argument, length)`` for a writable bytes-like object C writes into (no copy)."""
    hook = getattr(obj, "_aios_bytes_out", None)
    if hook is not None:
        result: Tuple[Any, int] = hook()
        return result
    if isinstance(obj, (bytes, str)):
        raise TypeError(f"expected a writable bytes-like object such as bytearray, got immutable {type(obj).__name__}")
    try:
        view = memoryview(obj)
    except TypeError:
        raise TypeError(f"expected a writable bytes-like object, got {type(obj).__name__}") from None
    with view:
        if view.readonly:
            raise TypeError("expected a writable bytes-like object, got a read-only buffer")
        if not view.c_contiguous:
            raise TypeError("expected a C-contiguous buffer")
        n = view.nbytes
        return (c_ubyte * n).from_buffer(view), n


# =====================================================================
# Exceptions raised by Python callbacks inside C calls
# =====================================================================

_tls = threading.local()

F = TypeVar("F", bound=Callable[..., Any])


def stash_callback_exception(exc: BaseException) -> None:
    """Park ``exc`` for the C call running on this thread (the first one wins)."""
    if getattr(_tls, "pending", None) is None:
        _tls.pending = exc


def take_callback_exception() -> Optional[BaseException]:
    """Take (and clear) the exception parked on this thread, if any."""
    exc: Optional[BaseException] = getattr(_tls, "pending", None)
    if exc is not None:
        _tls.pending = None
    return exc


def guard_callback(fn: Callable[..., Any], default: Any = None) -> Callable[..., Any]:
    """Wrap ``fn`` for use as a C callback.

    If ``fn`` raises, the exception is parked for this thread and
    ``default`` is returned to C (the first exception of a C call wins);
    for a status-returning callback use :func:`status_callback`, which
    returns ``AIOS_E_CALLBACK`` so C stops.  The errcheck of the C call that ran the
    callback then raises: a :class:`aios.CallbackError` (or the error of
    the status C returned) chained from the host's exception, which is
    also its ``host_exception``.  ``KeyboardInterrupt`` and ``SystemExit``
    are re-raised as they are.

    The slot is per thread: a callback that libaios runs on one of its own
    worker threads must route failures through its payload object instead.
    """

    @functools.wraps(fn)
    def trampoline(*args: Any) -> Any:
        # The slot belongs to the C call that is running this callback.  Set
        # it aside while fn runs, so libaios calls that fn makes (each with
        # its own errcheck) neither consume nor trip over it.
        outer: Optional[BaseException] = getattr(_tls, "pending", None)
        _tls.pending = None
        try:
            return fn(*args)
        except BaseException as exc:  # noqa: BLE001 - nothing may unwind through C
            if outer is None:
                outer = exc
            return default
        finally:
            leftover = getattr(_tls, "pending", None)
            _tls.pending = outer if outer is not None else leftover

    return trampoline


def status_callback(fn: Callable[..., Any]) -> Callable[..., int]:
    """Wrap ``fn`` for a C callback that returns a status and may stop the operation.

    What C gets back:

    * ``AIOS_OK`` when ``fn`` returns anything but ``False`` (None included):
      go on;
    * ``AIOS_E_CANCELLED`` when ``fn`` returns ``False`` or raises
      :class:`aios.CancelledError`: stop cleanly (the C call then raises
      :class:`aios.CancelledError`; a raised signal is kept as its cause);
    * ``AIOS_E_CALLBACK`` when ``fn`` raises anything else: stop, and the C
      call raises :class:`aios.CallbackError` chained from the exception
      (``KeyboardInterrupt`` and ``SystemExit`` propagate as they are).
    """

    @functools.wraps(fn)
    def run(*args: Any) -> int:
        try:
            go_on = fn(*args)
        except errors.CancelledError as signal:
            # Parked like any exception (the errcheck chains it), but C is
            # told "cancelled", not "failed".
            stash_callback_exception(signal)
            return int(Status.E_CANCELLED)
        return int(Status.E_CANCELLED) if go_on is False else int(Status.OK)

    guarded: Callable[..., int] = guard_callback(run, int(Status.E_CALLBACK))
    return guarded


# =====================================================================
# errcheck functions
# =====================================================================


def _text(raw: Optional[bytes]) -> str:
    return raw.decode("utf-8", "replace") if raw is not None else ""


def error_for_status(status: int, message: Optional[str] = None) -> AiosError:
    """The exception (not raised) libaios' ``status`` maps to.

    ``message`` defaults to ``aios_status_str(status)``.  Works for codes
    this binding does not know: the class follows libaios' kind.
    """
    status = int(status)
    if status >= 0:
        raise ValueError(f"status {status} is not an error")
    kind = int(lib.aios_status_kind(status))
    cls = errors.error_class(status, kind)
    if not message:
        message = lib.aios_status_str(status)
    return cls(message, status=status, name=lib.aios_status_name(status), kind=lib.aios_error_kind_name(kind))


def _raise(status: int, func: Any, host_exc: Optional[BaseException]) -> NoReturn:
    if host_exc is not None and not isinstance(host_exc, Exception):
        raise host_exc  # KeyboardInterrupt, SystemExit: not ours to wrap
    name = getattr(func, "__name__", "libaios")
    if status < 0:
        # The record is per thread and we are on the calling thread, right
        # after the call: nothing else has touched it.  A record that does
        # not match the status is stale (the function did not set one).
        if lib.aios_last_error_status() == status:
            message = lib.aios_last_error_message()
        else:
            message = ""
        message = message or f"{name}: {lib.aios_status_str(status)}"
        if host_exc is not None and status == Status.E_CALLBACK:
            message = f"{message}: a Python callback raised {type(host_exc).__name__}: {host_exc}"
        elif host_exc is not None and status == Status.E_CANCELLED:
            reason = getattr(host_exc, "message", None) or str(host_exc)
            if reason:
                message = f"{message}: {reason}"
        err = error_for_status(status, message)
    else:
        assert host_exc is not None
        err = error_for_status(
            Status.E_CALLBACK,
            f"{name}: a Python callback raised {type(host_exc).__name__}: {host_exc}",
        )
    if host_exc is not None:
        err.host_exception = host_exc
        raise err from host_exc
    raise err


def check_status(result: int, func: Any, args: Tuple[Any, ...]) -> int:
    """errcheck for ``int`` status returns: raise on a negative status."""
    host_exc = take_callback_exception()
    if result < 0 or host_exc is not None:
        _raise(result, func, host_exc)
    return result


def check_value(result: Any, func: Any, args: Tuple[Any, ...]) -> Any:
    """errcheck for plain values (sizes, flags, numbers, void)."""
    host_exc = take_callback_exception()
    if host_exc is not None:
        _raise(0, func, host_exc)
    return result


def check_bool(result: int, func: Any, args: Tuple[Any, ...]) -> bool:
    """errcheck for C truth values (1/0)."""
    return bool(check_value(result, func, args))


def check_text(result: Optional[bytes], func: Any, args: Tuple[Any, ...]) -> str:
    """errcheck for ``const char *`` that is documented never NULL: decode UTF-8."""
    check_value(result, func, args)
    if result is None:
        raise error_for_status(Status.E_INTERNAL, f"{func.__name__} returned NULL")
    return _text(result)


def check_pointer(result: Optional[int], func: Any, args: Tuple[Any, ...]) -> int:
    """errcheck for pointers that are never NULL for valid arguments."""
    check_value(result, func, args)
    if not result:
        raise error_for_status(Status.E_INTERNAL, f"{func.__name__} returned NULL")
    return result


# =====================================================================
# The declaration table: one row per exported function
# =====================================================================


class Fn(NamedTuple):
    """One C function: its name, result type, argument types and errcheck."""

    name: str
    restype: Any
    argtypes: Tuple[Any, ...]
    errcheck: Callable[..., Any]


FUNCTIONS: Tuple[Fn, ...] = (
    # ---- core.h: status codes
    Fn("aios_status_name", c_char_p, (c_int,), check_text),
    Fn("aios_status_str", c_char_p, (c_int,), check_text),
    Fn("aios_status_kind", c_int, (c_int,), check_value),
    Fn("aios_error_kind_name", c_char_p, (c_int,), check_text),
    # ---- core.h: per-thread error details (never raise: they describe errors)
    Fn("aios_last_error_message", c_char_p, (), check_text),
    Fn("aios_last_error_status", c_int, (), check_value),
    Fn("aios_error_clear", None, (), check_value),
    # ---- core.h: initialisation
    Fn("aios_init", c_int, (), check_status),
    Fn("aios_selftest", c_int, (aios_selftest_cb, c_void_p), check_status),
    # ---- core.h: versions
    Fn("aios_version_string", c_char_p, (), check_text),
    Fn("aios_version_number", c_uint32, (), check_value),
    Fn("aios_abi_version", c_uint32, (), check_value),
    Fn("aios_build_info", c_char_p, (), check_text),
    # ---- core.h: allocator
    Fn("aios_set_allocator", c_int, (POINTER(aios_allocator),), check_status),
    # ---- core.h: buffers
    Fn("aios_buffer_new", c_int, (POINTER(aios_buffer_p), c_size_t, c_uint32), check_status),
    Fn(
        "aios_buffer_from_bytes",
        c_int,
        (POINTER(aios_buffer_p), ConstBytes, c_size_t, c_uint32),
        check_status,
    ),
    Fn("aios_buffer_data", c_void_p, (aios_buffer_p,), check_pointer),
    Fn("aios_buffer_data_mut", c_void_p, (aios_buffer_p,), check_pointer),
    Fn("aios_buffer_len", c_size_t, (aios_buffer_p,), check_value),
    Fn("aios_buffer_flags", c_uint32, (aios_buffer_p,), check_value),
    Fn("aios_buffer_protection", c_int, (aios_buffer_p,), check_value),
    Fn("aios_buffer_max_len", c_uint64, (c_uint32,), check_value),
    Fn("aios_buffer_protect", c_int, (aios_buffer_p, c_int), check_status),
    Fn("aios_buffer_free", None, (aios_buffer_p,), check_value),
    # ---- core.h: secret helpers
    Fn("aios_ct_equal", c_int, (ConstBytes, ConstBytes, c_size_t), check_bool),
    Fn("aios_wipe", None, (MutBytes, c_size_t), check_value),
)

#: Names of every declared C function (tests compare it with libaios.map).
DECLARED: FrozenSet[str] = frozenset(fn.name for fn in FUNCTIONS)
assert len(DECLARED) == len(FUNCTIONS), "a C function is declared twice"


class Lib:
    """The bound functions, one attribute per :data:`FUNCTIONS` row."""

    def __init__(self, cdll: ctypes.CDLL, table: Sequence[Fn]) -> None:
        missing = [fn.name for fn in table if not _has_symbol(cdll, fn.name)]
        if missing:
            raise _Rejected(
                f"it lacks {', '.join(missing)}: it is older than this binding", version_problem=True
            )
        for fn in table:
            cfunc = cdll[fn.name]  # a private function object, not the shared attribute
            cfunc.restype = fn.restype
            cfunc.argtypes = fn.argtypes
            cfunc.errcheck = fn.errcheck
            setattr(self, fn.name, cfunc)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"{name} is not declared in aios._ffi.FUNCTIONS")


cdll, library_path, _bound = _load(search_plan())
#: The bound libaios functions: ``lib.aios_init()``.
lib: Any = _bound

#: The library's version as (major, minor, patch).
library_version_info: Tuple[int, int, int] = _decode_version(int(lib.aios_version_number()))
#: The library's ABI major (``aios_abi_version()``): always :data:`ABI_MAJOR` once loaded.
library_abi_version: int = int(lib.aios_abi_version())

_SIZE_MAX = (1 << (8 * ctypes.sizeof(c_size_t))) - 1


def size_arg(value: Any, what: str) -> int:
    """``value`` as a C ``size_t``; Python-side InvalidInputError/LimitExceededError."""
    try:
        n = value.__index__()
    except AttributeError:
        raise TypeError(f"{what} must be an int, not {type(value).__name__}") from None
    if n < 0:
        raise error_for_status(Status.E_INVALID_ARGUMENT, f"{what} must be >= 0, got {n}")
    if n > _SIZE_MAX:
        raise error_for_status(Status.E_LIMIT, f"{what} of {n} does not fit in size_t")
    return int(n)

