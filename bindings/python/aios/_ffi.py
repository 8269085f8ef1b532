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
* **Worker-thread callbacks**: libaios runs some callbacks (callback key
  providers) on worker threads of its own, where the per-thread slot of
  the calling thread cannot be reached.  :func:`park_worker_exception`
  keeps the exception under a numbered token and records the token in
  the worker's error message with ``aios_error_set``; libaios carries that
  message to the calling thread, whose errcheck finds the token, takes
  the exception back and raises the C error chained from it.

To add a C function: write its row in :data:`FUNCTIONS` (in the section of
its header) and use it as ``lib.<name>`` from the Python module of that
header.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import itertools
import os
import platform
import re
import secrets
import struct
import sys
import sysconfig
import threading
import time
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_int,
    c_int64,
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


# ---- key.h ------------------------------------------------------------

aios_key, aios_key_p = _opaque("aios_key")
aios_keyring, aios_keyring_p = _opaque("aios_keyring")
aios_provider, aios_provider_p = _opaque("aios_provider")
aios_dkcache, aios_dkcache_p = _opaque("aios_dkcache")
aios_dkcache_entry, aios_dkcache_entry_p = _opaque("aios_dkcache_entry")

# C enums (aios_key_type, aios_key_state, aios_keyring_unlock) are ints;
# ``unsigned int`` is c_uint.


class aios_keyring_options(Structure):
    """``struct aios_keyring_options`` (version 1), field for field."""

    _fields_ = [
        ("version", ctypes.c_uint),
        ("unlock", c_int),  # aios_keyring_unlock
        ("secret", c_void_p),  # const uint8_t *: an address, so any buffer (or Buffer) passes without a copy
        ("secret_len", c_size_t),
        ("pkcs11_module", c_char_p),
        ("pkcs11_uri", c_char_p),
        ("pkcs11_pin", c_char_p),  # set to the address of a wipeable copy (never read back)
        ("argon2_opslimit", c_uint64),
        ("argon2_memlimit", c_uint64),
        ("flags", c_uint32),
        ("lock_timeout_ms", c_uint32),
    ]


class aios_key_attribute_pair(Structure):
    """``struct aios_key_attribute_pair``."""

    _fields_ = [("name", c_char_p), ("value", c_char_p)]


class aios_key_spec(Structure):
    """``struct aios_key_spec`` (version 1)."""

    _fields_ = [
        ("version", ctypes.c_uint),
        ("purposes", c_uint32),
        ("exportable", c_uint32),
        ("attributes", POINTER(aios_key_attribute_pair)),
        ("attribute_count", c_size_t),
        ("max_uses", c_uint64),
        ("not_after", c_int64),
    ]


class aios_pkcs11_options(Structure):
    """``struct aios_pkcs11_options`` (version 1)."""

    _fields_ = [
        ("version", ctypes.c_uint),
        ("pin", c_char_p),  # set to the address of a wipeable copy (never read back)
        ("flags", c_uint32),
    ]


class aios_provider_key_info(Structure):
    """``struct aios_provider_key_info``: what a host's describe() fills."""

    _fields_ = [
        ("size", c_size_t),
        ("version", c_uint32),
        ("type", c_int),  # aios_key_type
        ("purposes", c_uint32),
        ("state", c_int),  # aios_key_state
        ("created_at", c_int64),
    ]


# The members of struct aios_provider_ops.  Byte pointers are c_void_p so
# ctypes hands the callback plain addresses (no conversion, no copy).
#   int (*describe)(void *payload, const char *key_id, uint32_t version,
#                   aios_provider_key_info *info, uint32_t deadline_ms);
aios_provider_describe_fn = CFUNCTYPE(
    c_int, c_void_p, c_char_p, c_uint32, POINTER(aios_provider_key_info), c_uint32
)
#   int (*wrap)(payload, key_id, version, data_key, data_key_len, ad, ad_len,
#               out, out_cap, out_len, deadline_ms);   (unwrap: the same)
aios_provider_wrap_fn = CFUNCTYPE(
    c_int,
    c_void_p,
    c_char_p,
    c_uint32,
    c_void_p,
    c_size_t,
    c_void_p,
    c_size_t,
    c_void_p,
    c_size_t,
    POINTER(c_size_t),
    c_uint32,
)
aios_provider_unwrap_fn = aios_provider_wrap_fn
#   int (*sign)(payload, key_id, version, msg, msg_len, out, out_cap, out_len, deadline_ms);
aios_provider_sign_fn = CFUNCTYPE(
    c_int, c_void_p, c_char_p, c_uint32, c_void_p, c_size_t, c_void_p, c_size_t, POINTER(c_size_t), c_uint32
)
#   int (*public_key)(payload, key_id, version, out, out_cap, out_len, deadline_ms);
aios_provider_public_key_fn = CFUNCTYPE(
    c_int, c_void_p, c_char_p, c_uint32, c_void_p, c_size_t, POINTER(c_size_t), c_uint32
)
#   void (*release)(void *payload);
aios_provider_release_fn = CFUNCTYPE(None, c_void_p)


class aios_provider_ops(Structure):
    """``struct aios_provider_ops``: a plug-in table that starts with its size."""

    _fields_ = [
        ("size", c_size_t),
        ("capabilities", c_uint32),
        ("describe", aios_provider_describe_fn),
        ("wrap", aios_provider_wrap_fn),
        ("unwrap", aios_provider_unwrap_fn),
        ("sign", aios_provider_sign_fn),
        ("public_key", aios_provider_public_key_fn),
        ("release", aios_provider_release_fn),
    ]


class aios_provider_options(Structure):
    """``struct aios_provider_options`` (version 1)."""

    _fields_ = [("version", ctypes.c_uint), ("timeout_ms", c_uint32)]


class aios_dkcache_options(Structure):
    """``struct aios_dkcache_options`` (version 1)."""

    _fields_ = [
        ("version", ctypes.c_uint),
        ("capacity", c_uint32),
        ("max_age_ms", c_uint64),
        ("max_messages", c_uint64),
        ("max_bytes", c_uint64),
    ]


class aios_dkcache_stats(Structure):
    """``struct aios_dkcache_stats``: ``size`` is set by the caller."""

    _fields_ = [
        ("size", c_size_t),
        ("hits", c_uint64),
        ("misses", c_uint64),
        ("evictions", c_uint64),
        ("expirations", c_uint64),
        ("entries", c_uint64),
    ]


# ---- envelope.h --------------------------------------------------------

aios_envelope_keys, aios_envelope_keys_p = _opaque("aios_envelope_keys")
aios_envelope_sealer, aios_envelope_sealer_p = _opaque("aios_envelope_sealer")
aios_envelope_opener, aios_envelope_opener_p = _opaque("aios_envelope_opener")
aios_envelope_reader, aios_envelope_reader_p = _opaque("aios_envelope_reader")
aios_envelope_session, aios_envelope_session_p = _opaque("aios_envelope_session")

# C enums (aios_envelope_suite, aios_envelope_context_mode) are ints.


class aios_envelope_context_entry(Structure):
    """``struct aios_envelope_context_entry``: one NUL-terminated UTF-8 pair."""

    _fields_ = [("key", c_char_p), ("value", c_char_p)]


class aios_envelope_seal_options(Structure):
    """``struct aios_envelope_seal_options`` (version 1)."""

    _fields_ = [
        ("version", ctypes.c_uint),
        ("suite", c_int),  # aios_envelope_suite
        ("chunk_size", c_uint32),
        ("threads", c_uint32),
    ]


class aios_envelope_open_options(Structure):
    """``struct aios_envelope_open_options`` (version 1)."""

    _fields_ = [
        ("version", ctypes.c_uint),
        ("expected_context", POINTER(aios_envelope_context_entry)),
        ("expected_context_count", c_size_t),
        ("context_mode", c_int),  # aios_envelope_context_mode
        ("max_unwrap_attempts", c_uint32),
        ("no_soft_gcm", c_uint32),
        ("threads", c_uint32),
    ]


class aios_envelope_rewrap_options(Structure):
    """``struct aios_envelope_rewrap_options`` (version 1)."""

    _fields_ = [
        ("version", ctypes.c_uint),
        ("remove", POINTER(aios_key_p)),
        ("remove_count", c_size_t),
        ("flags", c_uint32),
        ("max_unwrap_attempts", c_uint32),
    ]


class aios_envelope_session_options(Structure):
    """``struct aios_envelope_session_options`` (version 1)."""

    _fields_ = [
        ("version", ctypes.c_uint),
        ("suite", c_int),  # aios_envelope_suite
        ("flags", c_uint32),
        ("max_records", c_uint64),
    ]


class aios_envelope_fields_options(Structure):
    """``struct aios_envelope_fields_options`` (version 1)."""

    _fields_ = [
        ("version", ctypes.c_uint),
        ("flags", c_uint32),
        ("record_id", c_void_p),  # const uint8_t *: an address (the caller keeps the bytes alive)
        ("record_id_len", c_size_t),
    ]


# ---- manifest.h --------------------------------------------------------

aios_manifest, aios_manifest_p = _opaque("aios_manifest")
aios_manifest_diff, aios_manifest_diff_p = _opaque("aios_manifest_diff")
aios_manifest_stream, aios_manifest_stream_p = _opaque("aios_manifest_stream")

# C enums (aios_manifest_profile, _method, _time, _change) are ints.

#   int (*aios_manifest_progress_cb)(uint64_t done, uint64_t total, const char *path, void *payload);
aios_manifest_progress_cb = CFUNCTYPE(c_int, c_uint64, c_uint64, c_char_p, c_void_p)


class aios_manifest_hash_options(Structure):
    """``struct aios_manifest_hash_options`` (version 1)."""

    _fields_ = [
        ("version", ctypes.c_uint),
        ("threads", c_uint32),
        ("read_size", c_uint32),
        ("flags", c_uint32),
        ("ignore_paths", POINTER(c_char_p)),
        ("ignore_paths_len", c_size_t),
        ("progress", aios_manifest_progress_cb),
        ("progress_payload", c_void_p),
    ]


class aios_manifest_stream_options(Structure):
    """``struct aios_manifest_stream_options`` (version 1)."""

    _fields_ = [
        ("version", ctypes.c_uint),
        ("threads", c_uint32),
    ]


class aios_manifest_sign_options(Structure):
    """``struct aios_manifest_sign_options`` (version 1)."""

    _fields_ = [
        ("version", ctypes.c_uint),
        ("profile", c_int),  # aios_manifest_profile
        ("method", c_int),  # aios_manifest_method
        ("hash_type", c_char_p),
        ("shard_size", c_uint64),
        ("allow_symlinks", c_uint32),
        ("subject_name", c_char_p),
        ("bundle_path", c_char_p),
        ("provenance_json", c_char_p),
        ("chain_der", POINTER(c_void_p)),  # const uint8_t *const *
        ("chain_der_lens", POINTER(c_size_t)),
        ("chain_len", c_size_t),
        ("stat_cache_path", c_char_p),
        ("hash", aios_manifest_hash_options),
    ]


class aios_manifest_verify_options(Structure):
    """``struct aios_manifest_verify_options`` (version 1)."""

    _fields_ = [
        ("version", ctypes.c_uint),
        ("profile", c_int),  # aios_manifest_profile
        ("time_policy", c_int),  # aios_manifest_time
        ("fixed_time", c_int64),
        ("flags", c_uint32),
        ("bundle_max", c_size_t),
        ("hash", aios_manifest_hash_options),
        ("bundle_path", c_char_p),
        ("stat_cache_path", c_char_p),
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

class _CallbackState(threading.local):
    """Per thread: the exception a callback parked for the running C call.
    A class attribute, so that reading it on a thread that never set it
    is a plain lookup, not a caught AttributeError (every checked call
    reads it)."""

    pending: Optional[BaseException] = None


_tls = _CallbackState()

F = TypeVar("F", bound=Callable[..., Any])


def stash_callback_exception(exc: BaseException) -> None:
    """Park ``exc`` for the C call running on this thread (the first one wins)."""
    if _tls.pending is None:
        _tls.pending = exc


def callback_state() -> _CallbackState:
    """The per-thread state itself, for hot paths that read ``.pending``
    (not None: a callback of the C call that just ran parked an exception)
    without a function call."""
    return _tls


def callback_pending() -> bool:
    """Whether a callback of the C call that just ran on this thread parked an exception."""
    return _tls.pending is not None


def take_callback_exception() -> Optional[BaseException]:
    """Take (and clear) the exception parked on this thread, if any."""
    exc: Optional[BaseException] = _tls.pending
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
    worker threads returns a status with :func:`park_worker_exception`
    instead.
    """

    @functools.wraps(fn)
    def trampoline(*args: Any) -> Any:
        # The slot belongs to the C call that is running this callback.  Set
        # it aside while fn runs, so libaios calls that fn makes (each with
        # its own errcheck) neither consume nor trip over it.
        outer: Optional[BaseException] = _tls.pending
        _tls.pending = None
        try:
            return fn(*args)
        except BaseException as exc:  # noqa: BLE001 - nothing may unwind through C
            if outer is None:
                outer = exc
            return default
        finally:
            leftover = _tls.pending
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


# ---- callbacks on libaios worker threads ------------------------------
#
# A token names a parked exception: "[py-exc <secret> <n>]".  The secret is
# random per process, so text that merely looks like a token (a key id in
# the message's prefix, a host's message) never matches one; only the last
# match in a message is taken (ours comes after libaios' context prefix)
# and only a token still parked is honoured.

_WORKER_SECRET = secrets.token_hex(8)
_WORKER_TOKEN = re.compile(r"\[py-exc " + _WORKER_SECRET + r" (\d+)\]")
_worker_ids = itertools.count(1)
_worker_lock = threading.Lock()
# n -> (expires (monotonic s), exception, the text to take out of the message)
_worker_parked: Dict[int, Tuple[float, BaseException, str]] = {}
#: How long a parked exception waits for its caller beyond the call's own
#: deadline (a caller that timed out never comes: it is then dropped).
WORKER_GRACE_S = 60.0


def park_worker_exception(exc: BaseException, status: int, deadline_ms: int = 0) -> int:
    """On a libaios worker thread: keep ``exc`` for the caller and record it.

    Records ``status`` with a message naming a token for ``exc``
    (``aios_error_set``, on this thread), so that libaios carries it to
    the thread that made the C call, where :func:`claim_worker_exception`
    (called by every errcheck that raises) takes it back.  The C message
    holds the token and the exception's type name only (an
    :class:`aios.AiosError` adds its message, which libaios wrote): never
    the text of other exceptions, which may hold anything.  Returns
    ``status``, for the callback to return to C.
    """
    n = next(_worker_ids)
    token = f"[py-exc {_WORKER_SECRET} {n}]"
    if isinstance(exc, AiosError):
        inserted = f"{token} "
        text = f"{inserted}{exc.message or type(exc).__name__}"
    else:
        inserted = f"{token} {type(exc).__name__}"
        text = inserted
    now = time.monotonic()
    drop_expired_worker_exceptions(now)
    with _worker_lock:
        _worker_parked[n] = (now + deadline_ms / 1000.0 + WORKER_GRACE_S, exc, inserted)
    return int(lib.aios_error_set(int(status), text.encode("utf-8", "replace")))


def drop_expired_worker_exceptions(now: Optional[float] = None) -> int:
    """Forget parked exceptions whose caller can no longer come; how many were dropped."""
    when = time.monotonic() if now is None else now
    with _worker_lock:
        expired = [k for k, v in _worker_parked.items() if v[0] <= when]
        for k in expired:
            del _worker_parked[k]
    return len(expired)


def claim_worker_exception(message: str) -> Tuple[str, Optional[BaseException]]:
    """``(message without the token, the parked exception or None)``."""
    found = None
    for found in _WORKER_TOKEN.finditer(message):
        pass
    if found is None:
        return message, None
    with _worker_lock:
        entry = _worker_parked.pop(int(found.group(1)), None)
    if entry is None:
        return message, None
    _, exc, inserted = entry
    at = message.rfind(inserted)
    if at >= 0:
        message = message[:at] + message[at + len(inserted):]
    return message.rstrip(": "), exc


def parked_worker_exceptions() -> int:
    """How many parked exceptions no caller has claimed yet (for tests)."""
    with _worker_lock:
        return len(_worker_parked)


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
    name = getattr(func, "__name__", "libaios")
    message = ""
    if status < 0:
        # The record is per thread and we are on the calling thread, right
        # after the call: nothing else has touched it.  A record that does
        # not match the status is stale (the function did not set one).
        if lib.aios_last_error_status() == status:
            message = lib.aios_last_error_message()
        # A callback that failed on a libaios worker thread left a token.
        message, worker_exc = claim_worker_exception(message)
        if host_exc is None:
            host_exc = worker_exc
    if host_exc is not None and not isinstance(host_exc, Exception):
        raise host_exc  # KeyboardInterrupt, SystemExit: not ours to wrap
    if status < 0:
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


#: Whether C may fill a new ``bytes(n)`` object (n >= 1) through a
#: ``c_char_p`` argument.  On CPython ``bytes(n)`` is always a new object
#: of n zero bytes held only by its creator (only ``bytes(0)`` is shared),
#: and a ``c_char_p`` argument hands C that object's own storage: the
#: same thing the C API's ``PyBytes_FromStringAndSize(NULL, n)`` is for
#: (build a bytes object in place before anyone else sees it).  A call can
#: then write its output straight into the bytes that are returned: no
#: intermediate buffer to copy and (for plaintext) wipe, and no extra
#: ctypes call to allocate.  Elsewhere (PyPy converts bytes to a copy)
#: callers keep their ctypes buffers.
BYTES_FILLABLE = platform.python_implementation() == "CPython"


def _bytes_allocator() -> Optional[Callable[[None, int], bytes]]:
    """CPython's ``PyBytes_FromStringAndSize`` for ``(None, n)``: a new
    bytes object of n >= 1 uninitialised bytes for C to fill (the C API's
    own way to build one in place), or None off CPython.  A ctypes call
    costs more than ``bytes(n)`` up to ~16 KiB, and less above, where
    ``bytes(n)`` spends its time zeroing what C overwrites anyway."""
    if not BYTES_FILLABLE or not hasattr(ctypes, "pythonapi"):
        return None
    fn = ctypes.pythonapi.PyBytes_FromStringAndSize
    fn.restype = ctypes.py_object
    fn.argtypes = (c_void_p, ctypes.c_ssize_t)
    return fn  # type: ignore[no-any-return]


#: ``new_bytes(None, n)`` (see _bytes_allocator), or None; never n == 0.
new_bytes = _bytes_allocator()
#: From this size on, new_bytes is cheaper than bytes(n).
NEW_BYTES_MIN = 16384


def fast_function(name: str, restype: Any, argtypes: Sequence[Any]) -> Any:
    """A second, private binding of ``name`` for a hot path: C-level
    argument types (``c_void_p``, ``c_char_p``, ``c_size_t``: converted by
    ctypes in C, not by Python ``from_param`` methods) and no errcheck.
    The caller checks the status itself and calls :func:`raise_status` on
    failure.  For a function that may run a Python callback (a callback
    provider's key), the caller must also raise when
    :func:`callback_pending` says a callback failed, as ``check_status``
    does.  The function must also be declared in :data:`FUNCTIONS` (the
    symbol tests read that table)."""
    if not any(fn.name == name for fn in FUNCTIONS):
        raise AssertionError(f"{name} is not declared in FUNCTIONS")
    cfunc = cdll[name]
    cfunc.restype = restype
    cfunc.argtypes = tuple(argtypes)
    return cfunc


def bare_function(name: str, restype: Any) -> Any:
    """A third, private binding of ``name`` for the hottest paths: no
    argtypes at all, so ctypes converts each argument itself (``bytes`` to
    its ``char *``, None to NULL, a ctypes pointer to itself, a Python int
    to a C ``int``) without the per-argument converter calls that cost
    more than a small record.  Only for functions whose parameters are
    pointers and 32-bit integers, called with ints in [0, 2**31) (the
    caller checks); no errcheck, as for :func:`fast_function`.  The
    function must be declared in :data:`FUNCTIONS`."""
    decl = next((fn for fn in FUNCTIONS if fn.name == name), None)
    if decl is None:
        raise AssertionError(f"{name} is not declared in FUNCTIONS")
    if not all(t in _BARE_OK or t in (ConstBytes, MutBytes)
               or issubclass(t, (ctypes._Pointer, c_void_p, c_char_p)) for t in decl.argtypes):
        raise AssertionError(f"{name} takes a parameter a bare call cannot pass")
    cfunc = cdll[name]
    cfunc.restype = restype
    return cfunc


#: Integer parameter types a bare call passes exactly (a Python int
#: becomes a C int, the same size and passing as these).
_BARE_OK = (ctypes.c_int, ctypes.c_uint32, ctypes.c_int32)


def raise_status(status: int, func: Any) -> NoReturn:
    """Raise what :func:`check_status` would for ``status`` from ``func``."""
    _raise(status, func, take_callback_exception())


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


def check_optional_text(result: Optional[bytes], func: Any, args: Tuple[Any, ...]) -> Optional[str]:
    """errcheck for ``const char *`` that may be NULL (unknown value, no such attribute)."""
    check_value(result, func, args)
    return None if result is None else _text(result)


def check_handle(result: Any, func: Any, args: Tuple[Any, ...]) -> Any:
    """errcheck for typed handle pointers that are never NULL for valid arguments."""
    check_value(result, func, args)
    if not result:
        raise error_for_status(Status.E_INTERNAL, f"{func.__name__} returned NULL")
    return result


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
    # Returns the status it recorded: never raises (used by callbacks).
    Fn("aios_error_set", c_int, (c_int, c_char_p), check_value),
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
    # ---- key.h: names
    Fn("aios_key_type_name", c_char_p, (c_int,), check_optional_text),
    Fn("aios_key_state_name", c_char_p, (c_int,), check_optional_text),
    # ---- key.h: handles
    Fn("aios_key_ref", aios_key_p, (aios_key_p,), check_handle),
    Fn("aios_key_unref", None, (aios_key_p,), check_value),
    Fn("aios_key_id", c_char_p, (aios_key_p,), check_text),
    Fn("aios_key_version", c_uint32, (aios_key_p,), check_value),
    Fn("aios_key_get_type", c_int, (aios_key_p,), check_value),
    Fn("aios_key_purposes", c_uint32, (aios_key_p,), check_value),
    Fn("aios_key_get_state", c_int, (aios_key_p,), check_value),
    Fn("aios_key_provider_name", c_char_p, (aios_key_p,), check_text),
    Fn("aios_key_created_at", c_int64, (aios_key_p,), check_value),
    Fn("aios_key_exportable", c_int, (aios_key_p,), check_bool),
    Fn("aios_key_attribute", c_char_p, (aios_key_p, c_char_p), check_optional_text),
    Fn("aios_key_attribute_count", c_size_t, (aios_key_p,), check_value),
    Fn(
        "aios_key_attribute_at",
        c_int,
        (aios_key_p, c_size_t, POINTER(c_char_p), POINTER(c_char_p)),
        check_status,
    ),
    # ---- key.h: operations
    Fn(
        "aios_key_wrap",
        c_int,
        (aios_key_p, POINTER(aios_buffer_p), ConstBytes, c_size_t, ConstBytes, c_size_t),
        check_status,
    ),
    Fn(
        "aios_key_unwrap",
        c_int,
        (aios_key_p, POINTER(aios_buffer_p), ConstBytes, c_size_t, ConstBytes, c_size_t),
        check_status,
    ),
    Fn("aios_key_sign", c_int, (aios_key_p, POINTER(aios_buffer_p), ConstBytes, c_size_t), check_status),
    Fn("aios_key_verify", c_int, (aios_key_p, ConstBytes, c_size_t, ConstBytes, c_size_t), check_status),
    Fn("aios_key_mac", c_int, (aios_key_p, MutBytes, ConstBytes, c_size_t), check_status),
    Fn("aios_key_agree", c_int, (aios_key_p, POINTER(aios_buffer_p), ConstBytes, c_size_t), check_status),
    Fn("aios_key_public_pem", c_int, (aios_key_p, POINTER(aios_buffer_p)), check_status),
    Fn("aios_key_public_raw", c_int, (aios_key_p, POINTER(aios_buffer_p)), check_status),
    Fn("aios_key_export", c_int, (aios_key_p, POINTER(aios_buffer_p)), check_status),
    Fn(
        "aios_key_from_public_pem",
        c_int,
        (POINTER(aios_key_p), c_char_p, ConstBytes, c_size_t),
        check_status,
    ),
    # ---- key.h: keyring
    Fn("aios_keyring_options_init", c_int, (POINTER(aios_keyring_options), ctypes.c_uint), check_status),
    Fn(
        "aios_keyring_create",
        c_int,
        (POINTER(aios_keyring_p), c_char_p, POINTER(aios_keyring_options)),
        check_status,
    ),
    Fn(
        "aios_keyring_open",
        c_int,
        (POINTER(aios_keyring_p), c_char_p, POINTER(aios_keyring_options)),
        check_status,
    ),
    Fn("aios_keyring_free", None, (aios_keyring_p,), check_value),
    Fn("aios_keyring_reload", c_int, (aios_keyring_p,), check_status),
    Fn("aios_key_spec_init", c_int, (POINTER(aios_key_spec), ctypes.c_uint), check_status),
    Fn(
        "aios_keyring_add",
        c_int,
        (aios_keyring_p, POINTER(aios_key_p), c_char_p, c_int, POINTER(aios_key_spec)),
        check_status,
    ),
    Fn(
        "aios_keyring_import",
        c_int,
        (aios_keyring_p, POINTER(aios_key_p), c_char_p, c_int, ConstBytes, c_size_t, POINTER(aios_key_spec)),
        check_status,
    ),
    Fn("aios_keyring_get", c_int, (aios_keyring_p, POINTER(aios_key_p), c_char_p, c_uint32), check_status),
    Fn("aios_keyring_rotate", c_int, (aios_keyring_p, POINTER(aios_key_p), c_char_p), check_status),
    Fn("aios_keyring_add_version", c_int, (aios_keyring_p, POINTER(aios_key_p), c_char_p), check_status),
    Fn("aios_keyring_promote", c_int, (aios_keyring_p, c_char_p, c_uint32), check_status),
    Fn(
        "aios_keyring_import_version",
        c_int,
        (aios_keyring_p, POINTER(aios_key_p), c_char_p, ConstBytes, c_size_t, c_uint32),
        check_status,
    ),
    Fn("aios_keyring_set_state", c_int, (aios_keyring_p, c_char_p, c_uint32, c_int), check_status),
    Fn("aios_keyring_destroy", c_int, (aios_keyring_p, c_char_p, c_uint32), check_status),
    Fn("aios_keyring_set_min_decrypt_version", c_int, (aios_keyring_p, c_char_p, c_uint32), check_status),
    Fn("aios_keyring_list_json", c_int, (aios_keyring_p, POINTER(aios_buffer_p)), check_status),
    Fn("aios_keyring_provider", aios_provider_p, (aios_keyring_p,), check_handle),
    # ---- key.h: providers
    Fn("aios_provider_ref", aios_provider_p, (aios_provider_p,), check_handle),
    Fn("aios_provider_unref", None, (aios_provider_p,), check_value),
    Fn("aios_provider_name", c_char_p, (aios_provider_p,), check_text),
    Fn(
        "aios_provider_get_key",
        c_int,
        (aios_provider_p, POINTER(aios_key_p), c_char_p, c_uint32),
        check_status,
    ),
    Fn("aios_pkcs11_options_init", c_int, (POINTER(aios_pkcs11_options), ctypes.c_uint), check_status),
    Fn(
        "aios_provider_pkcs11",
        c_int,
        (POINTER(aios_provider_p), c_char_p, c_char_p, POINTER(aios_pkcs11_options)),
        check_status,
    ),
    Fn("aios_provider_options_init", c_int, (POINTER(aios_provider_options), ctypes.c_uint), check_status),
    Fn(
        "aios_provider_callback",
        c_int,
        (POINTER(aios_provider_p), c_char_p, POINTER(aios_provider_ops), c_void_p, POINTER(aios_provider_options)),
        check_status,
    ),
    # ---- key.h: data-key cache
    Fn("aios_dkcache_options_init", c_int, (POINTER(aios_dkcache_options), ctypes.c_uint), check_status),
    Fn("aios_dkcache_new", c_int, (POINTER(aios_dkcache_p), POINTER(aios_dkcache_options)), check_status),
    Fn("aios_dkcache_free", None, (aios_dkcache_p,), check_value),
    Fn(
        "aios_dkcache_put",
        c_int,
        (aios_dkcache_p, aios_key_p, ConstBytes, c_size_t, c_uint32, ConstBytes, c_size_t, ConstBytes, c_size_t),
        check_status,
    ),
    Fn(
        "aios_dkcache_get",
        c_int,
        (aios_dkcache_p, POINTER(aios_dkcache_entry_p), aios_key_p, ConstBytes, c_size_t, c_uint32, c_uint64),
        check_status,
    ),
    Fn("aios_dkcache_entry_data_key", c_void_p, (aios_dkcache_entry_p, POINTER(c_size_t)), check_value),
    Fn("aios_dkcache_entry_wrapped", c_void_p, (aios_dkcache_entry_p, POINTER(c_size_t)), check_value),
    Fn("aios_dkcache_entry_release", None, (aios_dkcache_entry_p,), check_value),
    Fn("aios_dkcache_evict_key", None, (aios_dkcache_p, aios_key_p), check_value),
    Fn("aios_dkcache_get_stats", c_int, (aios_dkcache_p, POINTER(aios_dkcache_stats)), check_status),
    # ---- envelope.h: constants
    Fn("aios_envelope_suite_name", c_char_p, (c_int,), check_text),
    Fn("aios_envelope_header_max", c_size_t, (), check_value),
    Fn("aios_envelope_record_overhead", c_size_t, (), check_value),
    # ---- envelope.h: key sets
    Fn("aios_envelope_keys_new", c_int, (POINTER(aios_envelope_keys_p),), check_status),
    Fn("aios_envelope_keys_free", None, (aios_envelope_keys_p,), check_value),
    Fn("aios_envelope_keys_add_key", c_int, (aios_envelope_keys_p, aios_key_p), check_status),
    Fn("aios_envelope_keys_add_provider", c_int, (aios_envelope_keys_p, aios_provider_p), check_status),
    # ---- envelope.h: options
    Fn(
        "aios_envelope_seal_options_init",
        c_int,
        (POINTER(aios_envelope_seal_options), ctypes.c_uint),
        check_status,
    ),
    Fn(
        "aios_envelope_open_options_init",
        c_int,
        (POINTER(aios_envelope_open_options), ctypes.c_uint),
        check_status,
    ),
    # ---- envelope.h: one-shot
    Fn(
        "aios_envelope_seal",
        c_int,
        (
            POINTER(aios_buffer_p),
            POINTER(aios_key_p),
            c_size_t,
            POINTER(aios_envelope_context_entry),
            c_size_t,
            ConstBytes,
            c_size_t,
            POINTER(aios_envelope_seal_options),
        ),
        check_status,
    ),
    Fn(
        "aios_envelope_open",
        c_int,
        (
            POINTER(aios_buffer_p),
            aios_envelope_keys_p,
            ConstBytes,
            c_size_t,
            POINTER(aios_envelope_open_options),
        ),
        check_status,
    ),
    Fn(
        "aios_envelope_seal_into",
        c_int,
        (
            MutBytes,
            ctypes.c_uint32,
            POINTER(ctypes.c_uint32),
            POINTER(aios_key_p),
            ctypes.c_uint32,
            POINTER(aios_envelope_context_entry),
            ctypes.c_uint32,
            ConstBytes,
            ctypes.c_uint32,
            POINTER(aios_envelope_seal_options),
        ),
        check_status,
    ),
    Fn(
        "aios_envelope_open_into",
        c_int,
        (
            aios_envelope_keys_p,
            MutBytes,
            ctypes.c_uint32,
            POINTER(ctypes.c_uint32),
            ConstBytes,
            ctypes.c_uint32,
            POINTER(aios_envelope_open_options),
        ),
        check_status,
    ),
    Fn("aios_envelope_peek", c_int, (POINTER(aios_buffer_p), ConstBytes, c_size_t), check_status),
    Fn("aios_envelope_header_len", c_int, (POINTER(c_size_t), ConstBytes, c_size_t), check_status),
    # ---- envelope.h: streaming
    Fn(
        "aios_envelope_sealer_new",
        c_int,
        (
            POINTER(aios_envelope_sealer_p),
            POINTER(aios_key_p),
            c_size_t,
            POINTER(aios_envelope_context_entry),
            c_size_t,
            POINTER(aios_envelope_seal_options),
        ),
        check_status,
    ),
    Fn("aios_envelope_sealer_free", None, (aios_envelope_sealer_p,), check_value),
    Fn("aios_envelope_sealer_bound", c_size_t, (aios_envelope_sealer_p, c_size_t), check_value),
    Fn(
        "aios_envelope_sealer_update",
        c_int,
        (aios_envelope_sealer_p, MutBytes, c_size_t, POINTER(c_size_t), ConstBytes, c_size_t),
        check_status,
    ),
    Fn(
        "aios_envelope_sealer_final",
        c_int,
        (aios_envelope_sealer_p, MutBytes, c_size_t, POINTER(c_size_t)),
        check_status,
    ),
    Fn(
        "aios_envelope_opener_new",
        c_int,
        (POINTER(aios_envelope_opener_p), aios_envelope_keys_p, POINTER(aios_envelope_open_options)),
        check_status,
    ),
    Fn("aios_envelope_opener_free", None, (aios_envelope_opener_p,), check_value),
    Fn("aios_envelope_opener_bound", c_size_t, (aios_envelope_opener_p, c_size_t), check_value),
    Fn(
        "aios_envelope_opener_update",
        c_int,
        (aios_envelope_opener_p, MutBytes, c_size_t, POINTER(c_size_t), ConstBytes, c_size_t),
        check_status,
    ),
    Fn(
        "aios_envelope_opener_final",
        c_int,
        (aios_envelope_opener_p, MutBytes, c_size_t, POINTER(c_size_t)),
        check_status,
    ),
    Fn("aios_envelope_opener_info", c_int, (aios_envelope_opener_p, POINTER(aios_buffer_p)), check_status),
    Fn(
        "aios_envelope_seal_fd",
        c_int,
        (
            c_int,
            c_int,
            POINTER(aios_key_p),
            c_size_t,
            POINTER(aios_envelope_context_entry),
            c_size_t,
            POINTER(aios_envelope_seal_options),
        ),
        check_status,
    ),
    Fn(
        "aios_envelope_open_fd",
        c_int,
        (c_int, c_int, aios_envelope_keys_p, POINTER(aios_envelope_open_options)),
        check_status,
    ),
    # ---- envelope.h: random access
    Fn(
        "aios_envelope_reader_new_mem",
        c_int,
        (
            POINTER(aios_envelope_reader_p),
            aios_envelope_keys_p,
            ConstBytes,
            c_size_t,
            POINTER(aios_envelope_open_options),
        ),
        check_status,
    ),
    Fn(
        "aios_envelope_reader_new_fd",
        c_int,
        (POINTER(aios_envelope_reader_p), aios_envelope_keys_p, c_int, POINTER(aios_envelope_open_options)),
        check_status,
    ),
    Fn("aios_envelope_reader_free", None, (aios_envelope_reader_p,), check_value),
    Fn("aios_envelope_reader_size", c_uint64, (aios_envelope_reader_p,), check_value),
    Fn("aios_envelope_reader_chunk_size", c_uint32, (aios_envelope_reader_p,), check_value),
    Fn(
        "aios_envelope_reader_read",
        c_int,
        (aios_envelope_reader_p, c_uint64, MutBytes, c_size_t, POINTER(c_size_t)),
        check_status,
    ),
    Fn("aios_envelope_reader_info", c_int, (aios_envelope_reader_p, POINTER(aios_buffer_p)), check_status),
    # ---- envelope.h: rewrap
    Fn(
        "aios_envelope_rewrap_options_init",
        c_int,
        (POINTER(aios_envelope_rewrap_options), ctypes.c_uint),
        check_status,
    ),
    Fn(
        "aios_envelope_rewrap",
        c_int,
        (
            POINTER(aios_buffer_p),
            POINTER(c_size_t),
            aios_envelope_keys_p,
            ConstBytes,
            c_size_t,
            POINTER(aios_key_p),
            c_size_t,
            POINTER(aios_envelope_rewrap_options),
        ),
        check_status,
    ),
    Fn(
        "aios_envelope_rewrap_fd",
        c_int,
        (
            c_int,
            c_int,
            aios_envelope_keys_p,
            POINTER(aios_key_p),
            c_size_t,
            POINTER(aios_envelope_rewrap_options),
        ),
        check_status,
    ),
    # ---- envelope.h: sessions
    Fn(
        "aios_envelope_session_options_init",
        c_int,
        (POINTER(aios_envelope_session_options), ctypes.c_uint),
        check_status,
    ),
    Fn(
        "aios_envelope_session_new",
        c_int,
        (
            POINTER(aios_envelope_session_p),
            POINTER(aios_key_p),
            c_size_t,
            POINTER(aios_envelope_context_entry),
            c_size_t,
            POINTER(aios_envelope_session_options),
        ),
        check_status,
    ),
    Fn(
        "aios_envelope_session_open",
        c_int,
        (
            POINTER(aios_envelope_session_p),
            aios_envelope_keys_p,
            ConstBytes,
            c_size_t,
            POINTER(aios_envelope_open_options),
        ),
        check_status,
    ),
    Fn("aios_envelope_session_ref", aios_envelope_session_p, (aios_envelope_session_p,), check_handle),
    Fn("aios_envelope_session_unref", None, (aios_envelope_session_p,), check_value),
    Fn(
        "aios_envelope_session_header",
        c_void_p,
        (aios_envelope_session_p, POINTER(c_size_t)),
        check_pointer,
    ),
    Fn("aios_envelope_session_id", c_void_p, (aios_envelope_session_p,), check_pointer),
    Fn("aios_envelope_session_info", c_int, (aios_envelope_session_p, POINTER(aios_buffer_p)), check_status),
    Fn(
        "aios_envelope_session_seal",
        c_int,
        (aios_envelope_session_p, MutBytes, c_size_t, POINTER(c_size_t), ConstBytes, c_size_t, ConstBytes, c_size_t),
        check_status,
    ),
    Fn(
        "aios_envelope_session_open_record",
        c_int,
        (aios_envelope_session_p, MutBytes, c_size_t, POINTER(c_size_t), ConstBytes, c_size_t, ConstBytes, c_size_t),
        check_status,
    ),
    Fn(
        "aios_envelope_session_seal_exact",
        c_int,
        (aios_envelope_session_p, MutBytes, ConstBytes, ctypes.c_uint32, ConstBytes, ctypes.c_uint32),
        check_status,
    ),
    Fn(
        "aios_envelope_session_open_exact",
        c_int,
        (aios_envelope_session_p, MutBytes, ConstBytes, ctypes.c_uint32, ConstBytes, ctypes.c_uint32),
        check_status,
    ),
    Fn(
        "aios_envelope_session_seal_batch",
        c_int,
        (
            aios_envelope_session_p,
            MutBytes,
            c_size_t,
            POINTER(c_size_t),
            ConstBytes,
            POINTER(c_size_t),
            c_size_t,
            ConstBytes,
            POINTER(c_size_t),
        ),
        check_status,
    ),
    Fn(
        "aios_envelope_session_open_batch",
        c_int,
        (
            aios_envelope_session_p,
            MutBytes,
            c_size_t,
            POINTER(c_size_t),
            ConstBytes,
            POINTER(c_size_t),
            c_size_t,
            ConstBytes,
            POINTER(c_size_t),
            POINTER(c_size_t),
        ),
        check_status,
    ),
    Fn("aios_envelope_record_session_id", c_int, (MutBytes, ConstBytes, c_size_t), check_status),
    # ---- envelope.h: JSON fields
    Fn(
        "aios_envelope_fields_options_init",
        c_int,
        (POINTER(aios_envelope_fields_options), ctypes.c_uint),
        check_status,
    ),
    Fn(
        "aios_envelope_fields_encrypt",
        c_int,
        (
            POINTER(aios_buffer_p),
            aios_envelope_session_p,
            ConstBytes,
            c_size_t,
            POINTER(c_char_p),
            c_size_t,
            POINTER(aios_envelope_fields_options),
        ),
        check_status,
    ),
    Fn(
        "aios_envelope_fields_decrypt",
        c_int,
        (
            POINTER(aios_buffer_p),
            POINTER(aios_envelope_session_p),
            c_size_t,
            ConstBytes,
            c_size_t,
            POINTER(aios_envelope_fields_options),
        ),
        check_status,
    ),
    # ---- manifest.h: options and limits
    Fn(
        "aios_manifest_hash_options_init",
        c_int,
        (POINTER(aios_manifest_hash_options), ctypes.c_uint),
        check_status,
    ),
    Fn(
        "aios_manifest_sign_options_init",
        c_int,
        (POINTER(aios_manifest_sign_options), ctypes.c_uint),
        check_status,
    ),
    Fn(
        "aios_manifest_verify_options_init",
        c_int,
        (POINTER(aios_manifest_verify_options), ctypes.c_uint),
        check_status,
    ),
    Fn("aios_manifest_bundle_max", c_size_t, (), check_value),
    Fn("aios_manifest_resources_max", c_size_t, (), check_value),
    # ---- manifest.h: sign
    Fn(
        "aios_manifest_sign",
        c_int,
        (POINTER(aios_buffer_p), POINTER(aios_manifest_p), c_char_p, aios_key_p, POINTER(aios_manifest_sign_options)),
        check_status,
    ),
    Fn(
        "aios_manifest_hash",
        c_int,
        (POINTER(aios_manifest_p), c_char_p, POINTER(aios_manifest_sign_options)),
        check_status,
    ),
    # ---- manifest.h: trust
    Fn(
        "aios_manifest_verify_key",
        c_int,
        (POINTER(aios_manifest_p), ConstBytes, c_size_t, aios_key_p, POINTER(aios_manifest_verify_options)),
        check_status,
    ),
    Fn(
        "aios_manifest_verify_certificate",
        c_int,
        (
            POINTER(aios_manifest_p),
            ConstBytes,
            c_size_t,
            POINTER(c_void_p),
            POINTER(c_size_t),
            c_size_t,
            POINTER(aios_manifest_verify_options),
        ),
        check_status,
    ),
    Fn(
        "aios_manifest_verify_sigstore",
        c_int,
        (
            POINTER(aios_manifest_p),
            ConstBytes,
            c_size_t,
            ConstBytes,
            c_size_t,
            c_char_p,
            c_char_p,
            POINTER(aios_manifest_verify_options),
        ),
        check_status,
    ),
    Fn(
        "aios_manifest_open",
        c_int,
        (POINTER(aios_manifest_p), ConstBytes, c_size_t, POINTER(aios_manifest_verify_options)),
        check_status,
    ),
    Fn(
        "aios_manifest_read_bundle",
        c_int,
        (POINTER(aios_buffer_p), c_char_p, POINTER(aios_manifest_verify_options)),
        check_status,
    ),
    # ---- manifest.h: content
    Fn(
        "aios_manifest_verify_dir",
        c_int,
        (aios_manifest_p, c_char_p, POINTER(aios_manifest_diff_p), POINTER(aios_manifest_verify_options)),
        check_status,
    ),
    Fn(
        "aios_manifest_compare_dir",
        c_int,
        (aios_manifest_p, c_char_p, POINTER(aios_manifest_diff_p), POINTER(aios_manifest_verify_options)),
        check_status,
    ),
    Fn(
        "aios_manifest_verify_file",
        c_int,
        (aios_manifest_p, c_int, c_char_p, POINTER(aios_manifest_hash_options)),
        check_status,
    ),
    Fn(
        "aios_manifest_verify_range",
        c_int,
        (aios_manifest_p, c_int, c_char_p, c_uint64, c_uint64, POINTER(aios_manifest_hash_options)),
        check_status,
    ),
    # ---- manifest.h: streams
    Fn(
        "aios_manifest_stream_open",
        c_int,
        (POINTER(aios_manifest_stream_p), aios_manifest_p, c_int, c_char_p),
        check_status,
    ),
    Fn(
        "aios_manifest_stream_options_init",
        c_int,
        (POINTER(aios_manifest_stream_options), ctypes.c_uint),
        check_status,
    ),
    Fn(
        "aios_manifest_stream_new",
        c_int,
        (POINTER(aios_manifest_stream_p), aios_manifest_p, c_int, c_char_p,
         POINTER(aios_manifest_stream_options)),
        check_status,
    ),
    Fn(
        "aios_manifest_stream_read",
        c_int,
        (aios_manifest_stream_p, MutBytes, c_size_t, POINTER(c_size_t)),
        check_status,
    ),
    Fn(
        "aios_manifest_stream_read_verified",
        c_int,
        (aios_manifest_stream_p, MutBytes, c_size_t, POINTER(c_size_t)),
        check_status,
    ),
    Fn("aios_manifest_stream_finish", c_int, (aios_manifest_stream_p,), check_status),
    Fn("aios_manifest_stream_size", c_uint64, (aios_manifest_stream_p,), check_value),
    Fn("aios_manifest_stream_unit_size", c_uint64, (aios_manifest_stream_p,), check_value),
    Fn("aios_manifest_stream_fd", c_int, (aios_manifest_stream_p,), check_value),
    Fn("aios_manifest_stream_free", None, (aios_manifest_stream_p,), check_value),
    # ---- manifest.h: the manifest
    Fn("aios_manifest_ref", aios_manifest_p, (aios_manifest_p,), check_handle),
    Fn("aios_manifest_unref", None, (aios_manifest_p,), check_value),
    Fn("aios_manifest_is_verified", c_int, (aios_manifest_p,), check_bool),
    Fn("aios_manifest_flags", c_uint32, (aios_manifest_p,), check_value),
    Fn("aios_manifest_root_digest", c_int, (aios_manifest_p, MutBytes), check_status),
    Fn("aios_manifest_statement_digest", c_int, (aios_manifest_p, MutBytes), check_status),
    Fn("aios_manifest_subject_name", c_char_p, (aios_manifest_p,), check_optional_text),
    Fn("aios_manifest_get_method", c_int, (aios_manifest_p,), check_value),
    Fn("aios_manifest_get_profile", c_int, (aios_manifest_p,), check_value),
    Fn("aios_manifest_hash_type", c_char_p, (aios_manifest_p,), check_optional_text),
    Fn("aios_manifest_shard_size", c_uint64, (aios_manifest_p,), check_value),
    Fn("aios_manifest_resource_count", c_size_t, (aios_manifest_p,), check_value),
    Fn(
        "aios_manifest_resource_at",
        c_int,
        (
            aios_manifest_p,
            c_size_t,
            POINTER(c_char_p),
            POINTER(c_uint64),
            POINTER(c_uint64),
            POINTER(c_void_p),
            POINTER(c_size_t),
        ),
        check_status,
    ),
    Fn("aios_manifest_provenance_json", c_int, (aios_manifest_p, POINTER(aios_buffer_p)), check_status),
    Fn("aios_manifest_signer_json", c_int, (aios_manifest_p, POINTER(aios_buffer_p)), check_status),
    Fn("aios_manifest_to_json", c_int, (aios_manifest_p, POINTER(aios_buffer_p)), check_status),
    # ---- manifest.h: the diff
    Fn("aios_manifest_diff_count", c_size_t, (aios_manifest_diff_p,), check_value),
    Fn(
        "aios_manifest_diff_at",
        c_int,
        (aios_manifest_diff_p, c_size_t, POINTER(c_int), POINTER(c_char_p), POINTER(c_uint64)),
        check_status,
    ),
    Fn("aios_manifest_diff_json", c_int, (aios_manifest_diff_p, POINTER(aios_buffer_p)), check_status),
    Fn("aios_manifest_diff_free", None, (aios_manifest_diff_p,), check_value),
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

