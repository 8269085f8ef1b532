"""libaios envelope (``include/aios/envelope.h``): envelope encryption.

A message is sealed under a fresh random data key, wrapped for one or more
recipients: symmetric key-encryption keys (:class:`aios.Key` handles of
type AES-256 or RSA from any provider) and X25519 public keys
(:meth:`aios.Key.from_public_pem`), mixed.  The wire format is
``docs/FORMAT.md``.  Every shape of the C API is here:

* one-shot: :func:`seal`, :func:`open` (:func:`open_buffer` for secure
  memory), :func:`peek`, :func:`header_len`, :func:`read_header`;
* streaming: :class:`Sealer` / :class:`Opener` (``update``/``final``),
  :func:`seal_stream` / :func:`open_stream` over Python file objects and
  :func:`seal_fd` / :func:`open_fd` over file descriptors, all in
  constant memory;
* random access: :class:`Reader` over bytes, a descriptor or a path;
* rewrap: :func:`rewrap`, :func:`rewrap_fd` (new recipients, payload
  untouched);
* sessions: :class:`Session` (one wrapped data key for many small
  records), :func:`record_session_id`;
* JSON fields: :func:`encrypt_fields`, :func:`decrypt_fields`.

Keys for opening are collected in a :class:`Keys` set; every function that
opens also accepts a plain sequence of :class:`aios.Key` and
:class:`aios.Provider` objects (or a single one) and builds the set for
the call.  An encryption context is a ``Mapping[str, str]``: readable
without a key, bound to the ciphertext, and checked when opening with
``expected_context=`` (``context_mode="exact"`` by default, or
``"subset"``).

Bytes in, bytes out.  Plaintext the binding holds in its own C buffers
(opened messages, stream and reader output, session records, decrypted
documents) is wiped once copied into the ``bytes`` it returns; the
returned ``bytes`` are ordinary Python objects that nothing wipes (use
:func:`open_buffer` for a secure :class:`aios.Buffer`).

Threads, as in the C header: a :class:`Keys` set (once filled), a
:class:`Session` and a :class:`Reader` may be used by any number of
threads at once; a :class:`Sealer` or :class:`Opener` by one thread at a
time (it may run worker threads of its own: ``threads=``).  Do not
:meth:`close` an object while another thread still uses it.

Errors are the classes of their kind, with these subclasses for the
envelope statuses (defined in :mod:`aios.errors`): :class:`NoRecipientError`,
:class:`CommitmentError`, :class:`ContextMismatchError`,
:class:`TruncatedError`, :class:`TrailingDataError`,
:class:`UnknownSessionError`, :class:`EnvelopeModeError`.  A tampered
byte raises :class:`aios.AuthenticationError`.
"""

from __future__ import annotations

import array
import bisect
import ctypes
import enum
import itertools
import json
import os
from typing import (
    IO,
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    NoReturn,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _ffi
from ._ffi import lib
from ._handle import _Handle
from .core import Buffer, BytesLike
from .errors import (
    AiosError,
    CommitmentError,
    ContextMismatchError,
    EnvelopeModeError,
    NoRecipientError,
    Status,
    TrailingDataError,
    TruncatedError,
    UnknownSessionError,
)
from .key import Key, Provider

__all__ = [
    "Suite",
    "ContextMode",
    "Keys",
    "seal",
    "open",
    "open_buffer",
    "peek",
    "header_len",
    "read_header",
    "Sealer",
    "Opener",
    "seal_stream",
    "open_stream",
    "seal_fd",
    "open_fd",
    "Reader",
    "rewrap",
    "rewrap_fd",
    "Session",
    "record_session_id",
    "encrypt_fields",
    "decrypt_fields",
    "FIELD_PREFIX",
    "CHUNK_SIZE_MIN",
    "CHUNK_SIZE_MAX",
    "CHUNK_SIZE_DEFAULT",
    "HEADER_MAX",
    "RECIPIENTS_MAX",
    "CONTEXT_MAX",
    "RECORD_OVERHEAD",
    "RECORD_MAX",
    "RECORD_AD_MAX",
    "SESSION_ID_LEN",
    "NoRecipientError",
    "CommitmentError",
    "ContextMismatchError",
    "TruncatedError",
    "TrailingDataError",
    "UnknownSessionError",
    "EnvelopeModeError",
]

# ---- constants (envelope.h; HEADER_MAX and RECORD_OVERHEAD are also
# functions of the library, checked against these by the tests)

#: Smallest chunk size (``AIOS_ENVELOPE_CHUNK_SIZE_MIN``).
CHUNK_SIZE_MIN = 4096
#: Largest chunk size (``AIOS_ENVELOPE_CHUNK_SIZE_MAX``).
CHUNK_SIZE_MAX = 16777216
#: The chunk size used when none is given (``AIOS_ENVELOPE_CHUNK_SIZE_DEFAULT``).
CHUNK_SIZE_DEFAULT = 65536
#: The largest message or session header (``aios_envelope_header_max()``).
HEADER_MAX = 163922
#: Most recipients of one message (``AIOS_ENVELOPE_RECIPIENTS_MAX``).
RECIPIENTS_MAX = 64
#: Most entries of an encryption context (``AIOS_ENVELOPE_CONTEXT_MAX``).
CONTEXT_MAX = 128
#: A session record is its plaintext plus this (``aios_envelope_record_overhead()``).
RECORD_OVERHEAD = 74
#: Largest session record plaintext (``AIOS_ENVELOPE_RECORD_MAX``).
RECORD_MAX = 16777216
#: Largest associated data of a session record (``AIOS_ENVELOPE_RECORD_AD_MAX``).
RECORD_AD_MAX = 65536
#: Length of a session id (``AIOS_ENVELOPE_SESSION_ID_LEN``).
SESSION_ID_LEN = 32
#: What an encrypted JSON field's string starts with.
FIELD_PREFIX = "aios:f1:"

_REWRAP_REPLACE_ALL = 0x1  # AIOS_ENVELOPE_REWRAP_REPLACE_ALL
_SESSION_DETERMINISTIC = 0x1  # AIOS_ENVELOPE_SESSION_DETERMINISTIC
_FIELDS_DETERMINISTIC = 0x1  # AIOS_ENVELOPE_FIELDS_DETERMINISTIC
_FIELDS_SKIP_MISSING = 0x2  # AIOS_ENVELOPE_FIELDS_SKIP_MISSING
_OPTIONS_VERSION = 1  # every AIOS_ENVELOPE_*_OPTIONS_VERSION this binding fills
_U32_MAX = (1 << 32) - 1
_U64_MAX = (1 << 64) - 1
#: How much :func:`seal_stream` / :func:`open_stream` read at a time.
_STREAM_READ = 1 << 16

Context = Mapping[str, str]
KeysLike = Union["Keys", Key, Provider, Iterable[Union[Key, Provider]]]
Recipients = Union[Key, Sequence[Key]]
FileArg = Union[int, Any]  # a descriptor or an object with fileno()
PathLike = Union[str, bytes, "os.PathLike[Any]"]
JsonDoc = Union[str, bytes, bytearray, memoryview, Mapping[str, Any], List[Any]]

# =====================================================================
# Enums
# =====================================================================


class Suite(enum.IntEnum):
    """``aios_envelope_suite`` (FORMAT.md section 4)."""

    AUTO = 0  #: AES-256-GCM with AES-NI and PCLMUL, else XChaCha20-Poly1305
    AES256GCM = 1
    XCHACHA20POLY1305 = 2
    AES256SIV = 3  #: deterministic records only
    PORTABLE = 0x100  #: XChaCha20-Poly1305 always

    @property
    def token(self) -> str:
        """``aios_envelope_suite_name()``: ``"aes256gcm"``, ``"portable"``, ..."""
        return str(lib.aios_envelope_suite_name(int(self)))

    @classmethod
    def parse(cls, value: Union["Suite", int, str]) -> "Suite":
        """A member from itself, its number, its name or its token."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            text = value.strip()
            for member in cls:
                if text.upper().replace("-", "_") == member.name or text == member.token:
                    return member
            raise _ffi.error_for_status(
                Status.E_INVALID_ARGUMENT,
                f"unknown suite {value!r}: use one of {', '.join(m.token for m in cls)}",
            )
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            raise TypeError(f"suite must be a Suite, an int or a str, not {type(value).__name__}")
        try:
            return cls(value.__index__())
        except ValueError:
            raise _ffi.error_for_status(Status.E_INVALID_ARGUMENT, f"unknown suite {value!r}") from None


class ContextMode(enum.IntEnum):
    """``aios_envelope_context_mode``: how an expected context is compared."""

    ANY = 0  #: no check
    EXACT = 1  #: the message's context is exactly the expected one
    SUBSET = 2  #: every expected pair is in the message's context

    @classmethod
    def parse(cls, value: Union["ContextMode", int, str]) -> "ContextMode":
        """A member from itself, its number or its name (``"exact"``, ``"subset"``, ``"any"``)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                raise _ffi.error_for_status(
                    Status.E_INVALID_ARGUMENT, f"unknown context mode {value!r}: use 'exact', 'subset' or 'any'"
                ) from None
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            raise TypeError(f"context_mode must be a ContextMode, an int or a str, not {type(value).__name__}")
        try:
            return cls(value.__index__())
        except ValueError:
            raise _ffi.error_for_status(Status.E_INVALID_ARGUMENT, f"unknown context mode {value!r}") from None


# =====================================================================
# Argument helpers
# =====================================================================


def _invalid(message: str) -> AiosError:
    return _ffi.error_for_status(Status.E_INVALID_ARGUMENT, message)


def _uint(value: Any, what: str, limit: int) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    n = int(value.__index__())
    if n < 0 or n > limit:
        raise _invalid(f"{what} must be in 0..{limit}, got {n}")
    return n


def _text(value: Any, what: str) -> bytes:
    if isinstance(value, str):
        data = value.encode("utf-8")
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    else:
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if b"\0" in data:
        raise _invalid(f"{what} contains a NUL byte")
    return data


class _ByContext:
    """Values built from an encryption context, kept by the context's value.

    A service seals and opens with the same few contexts over and over,
    and converting one (UTF-8, NUL checks, a ctypes array) costs more than
    the C call it feeds.  Keys are the item tuples of plain ``dict``
    contexts whose keys and values are all ``str`` (anything else is built
    each time); values are read-only once built (C only reads them), so
    threads may share them.  Bounded: emptied when full."""

    __slots__ = ("_d",)
    MAX = 256

    def __init__(self) -> None:
        self._d: Dict[Tuple[Any, ...], Any] = {}

    def lookup(self, context: Any) -> Tuple[Optional[Tuple[Any, ...]], Any]:
        """``(key, value or None)``; key None when context cannot be kept."""
        if type(context) is not dict:
            return None, None
        key = tuple(context.items())
        try:
            return key, self._d.get(key)
        except TypeError:   # an unhashable key or value
            return None, None

    def store(self, key: Optional[Tuple[Any, ...]], value: Any) -> None:
        if key is None or not all(type(k) is str and type(v) is str for k, v in key):
            return
        if len(self._d) >= self.MAX:
            self._d.clear()
        self._d[key] = value


#: ``(entries, count)`` of converted contexts.
_CONTEXTS = _ByContext()


def _context(context: Optional[Context], what: str, keep: List[Any]) -> Tuple[Any, int]:
    """``(entries pointer or None, count)`` for a context mapping."""
    if context is None:
        return None, 0
    key, hit = _CONTEXTS.lookup(context)
    if hit is not None:
        keep.append(hit)
        return hit  # type: ignore[no-any-return]
    if not isinstance(context, Mapping):
        raise TypeError(f"{what} must be a mapping of str to str, not {type(context).__name__}")
    n = len(context)
    if n == 0:
        return None, 0
    entries = (_ffi.aios_envelope_context_entry * n)()
    for i, (k, v) in enumerate(context.items()):
        kb, vb = _text(k, f"{what} key"), _text(v, f"{what} value for {k!r}")
        keep += [kb, vb]
        entries[i].key = kb
        entries[i].value = vb
    keep.append(entries)
    _CONTEXTS.store(key, (entries, n))   # entries[i] keep kb/vb (c_char_p fields)
    return entries, n


def _key_array(keys: Optional[Union[Key, Sequence[Key]]], what: str, keep: List[Any]) -> Tuple[Any, int]:
    """``(aios_key ** array or None, count)`` for a Key or a sequence of them."""
    if keys is None:
        return None, 0
    items = [keys] if isinstance(keys, Key) else list(keys)
    for k in items:
        if not isinstance(k, Key):
            raise TypeError(f"{what} must be aios.Key objects, not {type(k).__name__}")
    if not items:
        return None, 0
    array = (_ffi.aios_key_p * len(items))(*[k._handle() for k in items])
    keep.append(items)  # the Key objects (their handles) outlive the call
    keep.append(array)
    return array, len(items)


def _recipients(recipients: Recipients, keep: List[Any]) -> Tuple[Any, int]:
    array, n = _key_array(recipients, "recipients", keep)
    if n == 0:
        raise _invalid("at least one recipient is needed")
    return array, n


_default_seal_options: Any = None


def _seal_options(suite: Union[Suite, int, str], chunk_size: int, threads: int) -> Any:
    global _default_seal_options
    if suite is Suite.AUTO and chunk_size == 0 and threads == 0:
        # The common call: one struct, built once, only ever read by C.
        if _default_seal_options is None:
            _default_seal_options = _seal_options_make(Suite.AUTO, 0, 0)
        return _default_seal_options
    return _seal_options_make(suite, chunk_size, threads)


_default_seal_options_ref: Any = None


def _seal_options_ref() -> Any:
    """``byref`` of the default seal options (built once, only ever read by C)."""
    global _default_seal_options_ref
    if _default_seal_options_ref is None:
        _default_seal_options_ref = ctypes.byref(_seal_options(Suite.AUTO, 0, 0))
    return _default_seal_options_ref


def _seal_options_make(suite: Union[Suite, int, str], chunk_size: int, threads: int) -> Any:
    # What aios_envelope_seal_options_init does (zero, then the version),
    # without a call: the struct's layout is checked by test_envelope_layout.
    opts = _ffi.aios_envelope_seal_options()
    opts.version = _OPTIONS_VERSION
    opts.suite = int(Suite.parse(suite))
    opts.chunk_size = _uint(chunk_size, "chunk_size", _U32_MAX)
    opts.threads = _uint(threads, "threads", _U32_MAX)
    return opts


def _open_options(
    expected_context: Optional[Context],
    context_mode: Optional[Union[ContextMode, int, str]],
    max_unwrap_attempts: int,
    no_soft_gcm: bool,
    threads: int,
    keep: List[Any],
) -> Any:
    opts = _ffi.aios_envelope_open_options()
    opts.version = _OPTIONS_VERSION   # as aios_envelope_open_options_init does
    entries, n = _context(expected_context, "expected_context", keep)
    if entries is not None:
        opts.expected_context = ctypes.cast(entries, ctypes.POINTER(_ffi.aios_envelope_context_entry))
    opts.expected_context_count = n
    if context_mode is None:
        mode = ContextMode.ANY if expected_context is None else ContextMode.EXACT
    else:
        mode = ContextMode.parse(context_mode)
    opts.context_mode = int(mode)
    opts.max_unwrap_attempts = _uint(max_unwrap_attempts, "max_unwrap_attempts", _U32_MAX)
    opts.no_soft_gcm = 1 if no_soft_gcm else 0
    opts.threads = _uint(threads, "threads", _U32_MAX)
    return opts


#: Open options with only ``expected_context`` set (EXACT), by context, as
#: ``(byref, what it points to)``; the one without a context is built once.
_OPEN_OPTIONS = _ByContext()
_default_open_options: Any = None


def _open_options_ref(expected_context: Optional[Context], keep: List[Any]) -> Any:
    """``byref`` of the open options :func:`open` uses with default arguments."""
    global _default_open_options
    if expected_context is None:
        if _default_open_options is None:
            opts = _open_options(None, None, 0, False, 0, [])
            _default_open_options = (ctypes.byref(opts), opts)
        return _default_open_options[0]
    key, hit = _OPEN_OPTIONS.lookup(expected_context)
    if hit is None:
        opts = _open_options(expected_context, None, 0, False, 0, keep)
        hit = (ctypes.byref(opts), (opts, tuple(keep)))
        _OPEN_OPTIONS.store(key, hit)
    keep.append(hit)
    return hit[0]


# Hot paths (records, one-shot messages): second bindings with C-level
# argument conversion and no errcheck (_ffi.fast_function); each call site
# checks the status.  None of these functions runs a Python callback.
_vp, _cp, _sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
_fast_session_seal = _ffi.fast_function(
    "aios_envelope_session_seal", ctypes.c_int, (_vp, _vp, _sz, _vp, _cp, _sz, _cp, _sz))
_fast_session_open = _ffi.fast_function(
    "aios_envelope_session_open_record", ctypes.c_int, (_vp, _vp, _sz, _vp, _cp, _sz, _cp, _sz))
# The hottest two: the exact-size entry points through bare calls (no
# argtypes; _ffi.bare_function), the output written straight into a new
# bytes object (_ffi.BYTES_FILLABLE, CPython) that is what is returned.
# Their ints are 32-bit: callers pass lengths within the record limits.
_BYTES_FILLABLE = _ffi.BYTES_FILLABLE and _ffi.new_bytes is not None
_new_bytes = _ffi.new_bytes
_NEW_BYTES_MIN = _ffi.NEW_BYTES_MIN
_exact_seal = _ffi.bare_function("aios_envelope_session_seal_exact", ctypes.c_int)
_exact_open = _ffi.bare_function("aios_envelope_session_open_exact", ctypes.c_int)
_fast_session_seal_batch = _ffi.fast_function(
    "aios_envelope_session_seal_batch", ctypes.c_int, (_vp, _vp, _sz, _vp, _vp, _vp, _sz, _vp, _vp))
_fast_session_open_batch = _ffi.fast_function(
    "aios_envelope_session_open_batch", ctypes.c_int,
    (_vp, _vp, _sz, _vp, _vp, _vp, _sz, _vp, _vp, _vp))
# One-shot messages; their KEKs may be callback providers' (check
# _ffi.callback_pending() after the call).
_fast_seal = _ffi.fast_function(
    "aios_envelope_seal", ctypes.c_int, (_vp, _vp, _sz, _vp, _sz, _cp, _sz, _vp))
_fast_open = _ffi.fast_function("aios_envelope_open", ctypes.c_int, (_vp, _vp, _cp, _sz, _vp))
# One pointer argument each (an aios_buffer_p): bare calls.
# A whole message opened straight into a bytes object (bare call), then cut
# to the plaintext's length; the cut-off object is wiped (a c_size_t
# length: aios_wipe takes a size_t, which a bare int does not pass).
_into_open = _ffi.bare_function("aios_envelope_open_into", ctypes.c_int)
_fast_wipe = _ffi.cdll["aios_wipe"]
_fast_wipe.restype = None
#: Whole messages up to this size open through _into_open (bare int lengths).
_INTO_MAX = (1 << 31) - 1
# Whole messages sealed straight into a bytes object (bare call), once the
# header's length for a key and a context is known: that length, by (the
# key's handle object, the context's converted entries; their ids), from the last
# message sealed the usual way, plus _SEAL_SLACK bytes of room.  C checks
# the room after the data key is wrapped and before anything is written
# (AIOS_E_BUFFER_TOO_SMALL): a header grown past the slack (a recycled
# id, a provider whose wrapped keys vary in size) costs one discarded
# wrap, then the usual way and a new entry.
_into_seal = _ffi.bare_function("aios_envelope_seal_into", ctypes.c_int)
_SEAL_HEADER_LEN: Dict[Tuple[int, int], int] = {}
_SEAL_HEADER_LEN_MAX = 4096
_SEAL_SLACK = 64
_E_BUFFER_TOO_SMALL = int(Status.E_BUFFER_TOO_SMALL)
# Module-level names for the hot paths (a global lookup, not a module
# attribute each time).
_c_uint32, _c_size_t, _byref = ctypes.c_uint32, ctypes.c_size_t, ctypes.byref
_callback_state = _ffi.callback_state()
_fast_buffer_data = _ffi.bare_function("aios_buffer_data", _vp)
_fast_buffer_len = _ffi.bare_function("aios_buffer_len", _sz)
_fast_buffer_free = _ffi.bare_function("aios_buffer_free", None)


def _take_bytes(handle: Any) -> bytes:
    """Copy a library buffer into bytes and free it (which wipes it)."""
    try:
        n = _fast_buffer_len(handle)
        return ctypes.string_at(_fast_buffer_data(handle), n) if n else b""
    finally:
        _fast_buffer_free(handle)


def _take_json(handle: Any) -> Dict[str, Any]:
    result: Dict[str, Any] = json.loads(_take_bytes(handle).rstrip(b"\0").decode("utf-8"))
    return result


def _fd(obj: FileArg, what: str, flush: bool = False) -> int:
    """A file descriptor from an int or an object with ``fileno()``."""
    if isinstance(obj, bool):
        raise TypeError(f"{what} must be a file descriptor or a file object, not bool")
    if hasattr(obj, "__index__"):
        return int(obj.__index__())
    fileno = getattr(obj, "fileno", None)
    if fileno is None:
        raise TypeError(f"{what} must be a file descriptor or have fileno(), not {type(obj).__name__}")
    flush_fn = getattr(obj, "flush", None) if flush else None
    if callable(flush_fn):
        flush_fn()
    return int(fileno())


def _address(arg: Any) -> int:
    """The address of what :func:`aios._ffi.bytes_in` prepared (kept alive by the caller)."""
    if isinstance(arg, bytes):
        return int(ctypes.cast(ctypes.c_char_p(arg), ctypes.c_void_p).value or 0)
    if isinstance(arg, ctypes.Array):
        return ctypes.addressof(arg)
    if isinstance(arg, ctypes.c_void_p):
        return int(arg.value or 0)
    raise TypeError(f"cannot take the address of {type(arg).__name__}")


def _out_buffer(n: int) -> Any:
    return (ctypes.c_ubyte * max(n, 1))()


def _wipe(array: Any, n: int) -> None:
    if n:
        ctypes.memset(array, 0, n)


def _copy_out(array: Any, n: int) -> bytes:
    return ctypes.string_at(array, n) if n else b""


# =====================================================================
# Key sets
# =====================================================================


def _free_keys(handle: Any) -> None:
    lib.aios_envelope_keys_free(handle)


class Keys(_Handle):
    """What an opener holds (``aios_envelope_keys``): key handles and providers.

    Keys are matched against a message's recipient records by provider,
    key id and version (KEKs) or by public key (X25519); a provider is
    asked for the key a KEK record names (any version, so one keyring
    provider opens messages under every version of its keys).  Each add
    takes a C reference, so the :class:`aios.Key` objects may be closed
    afterwards.  At most 256 keys and 16 providers
    (:class:`aios.LimitExceededError`).

    Fill the set, then share it: once filled it is read-only and may be
    used by any number of threads.
    """

    __slots__ = ("_keep",)

    _closed_message = "aios.envelope.Keys: the key set is closed"
    _keep: List[Any]

    def __init__(self, keys: Iterable[Key] = (), providers: Iterable[Provider] = ()) -> None:
        out = _ffi.aios_envelope_keys_p()
        lib.aios_envelope_keys_new(ctypes.byref(out))
        self._keep = []
        self._own(out, _free_keys)
        if isinstance(keys, Key):
            keys = [keys]
        if isinstance(providers, Provider):
            providers = [providers]
        for k in keys:
            self.add_key(k)
        for p in providers:
            self.add_provider(p)

    def add_key(self, key: Key) -> "Keys":
        """Add a key handle (KEK or X25519 private key); returns self."""
        if not isinstance(key, Key):
            raise TypeError(f"add_key takes an aios.Key, not {type(key).__name__}")
        lib.aios_envelope_keys_add_key(self._handle(), key._handle())
        return self

    def add_provider(self, provider: Provider) -> "Keys":
        """Add a provider (a keyring's, a PKCS#11 token, a callback KMS); returns self.

        A keyring's provider is borrowed from its keyring: the set keeps
        the Python object (and so the keyring) alive; close the keyring
        only after the set.
        """
        if not isinstance(provider, Provider):
            raise TypeError(f"add_provider takes an aios.Provider, not {type(provider).__name__}")
        lib.aios_envelope_keys_add_provider(self._handle(), provider._handle())
        self._keep.append(provider)
        return self

    def close(self) -> None:
        """Release the set (and its references).  Idempotent."""
        super().close()
        self._keep = []

    def __reduce__(self) -> Any:
        raise TypeError("aios.envelope.Keys cannot be pickled")

    def __repr__(self) -> str:
        return f"<aios.envelope.Keys{' closed' if self.closed else ''}>"


class _KeysArg:
    """The C key set for an argument: a Keys as is, or a temporary one."""

    def __init__(self, keys: KeysLike) -> None:
        self.keys, self.owned = _keys_for(keys)

    def __enter__(self) -> Any:
        return self.keys._handle()

    def __exit__(self, *exc: Any) -> None:
        if self.owned:
            self.keys.close()


def _keys_for(keys: KeysLike) -> Tuple[Keys, bool]:
    """``(set, owned)``: a Keys as is, or a new set the caller must close."""
    if isinstance(keys, Keys):
        return keys, False
    return _keys_from([keys] if isinstance(keys, (Key, Provider)) else keys), True


def _keys_from(items: Iterable[Any]) -> Keys:
    if isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
        raise TypeError(f"keys must be an aios.envelope.Keys, a Key, a Provider or a list of them, not {type(items).__name__}")
    ks = Keys()
    try:
        for item in items:
            if isinstance(item, Key):
                ks.add_key(item)
            elif isinstance(item, Provider):
                ks.add_provider(item)
            else:
                raise TypeError(f"keys must be aios.Key or aios.Provider objects, not {type(item).__name__}")
    except BaseException:
        ks.close()
        raise
    return ks


# =====================================================================
# One-shot
# =====================================================================


def seal(
    plaintext: BytesLike,
    recipients: Recipients,
    context: Optional[Context] = None,
    *,
    suite: Union[Suite, int, str] = Suite.AUTO,
    chunk_size: int = 0,
    threads: int = 0,
) -> bytes:
    """Seal ``plaintext`` for ``recipients`` (1..64 :class:`aios.Key`, KEK or X25519, mixed).

    ``context``: the encryption context (str to str; keys must not start
    with ``"aios."``).  ``suite``: :class:`Suite` (AUTO by default).
    ``chunk_size``: 0 for 64 KiB, else 4096..16 MiB.  ``threads``: worker
    threads for the chunks (0: one).  A KEK's own failures pass through
    (e.g. :class:`aios.KeyDecryptOnlyError` for an older version).
    """
    keep: List[Any] = []
    ctx, nctx = _context(context, "context", keep)
    if (type(plaintext) is bytes and isinstance(recipients, Key) and suite is Suite.AUTO
            and chunk_size == 0 and threads == 0):
        # The hot path: bytes to one key with the default options.
        handle = recipients._handle_
        if handle is None:
            raise recipients._closed_error()
        n = len(plaintext)
        payload = n + 16 * (-(-n // CHUNK_SIZE_DEFAULT) if n else 1)
        hkey = (id(handle), id(ctx))
        hl = _SEAL_HEADER_LEN.get(hkey)
        if _BYTES_FILLABLE and hl is not None and payload + hl + _SEAL_SLACK <= _INTO_MAX:
            # The header's length for this key and context is known from an
            # earlier seal (it depends on nothing else): the message is
            # written straight into a bytes object with a little room to
            # spare (a rotated key's longer version), then cut.  C checks
            # the room before it seals.
            cap = payload + hl + _SEAL_SLACK
            buf = bytes(cap) if cap < _NEW_BYTES_MIN else _new_bytes(None, cap)
            got = _c_uint32()
            rc = _into_seal(buf, cap, _byref(got), _byref(handle), 1, ctx, nctx, plaintext, n,
                            _seal_options_ref())
            m = got.value
            if rc == 0 and _callback_state.pending is None:
                return buf[:m]
            if rc != _E_BUFFER_TOO_SMALL:
                _ffi.raise_status(rc, _into_seal)
            # The header grew past the slack: forget it, seal as below.
            _SEAL_HEADER_LEN.pop(hkey, None)
        out = _ffi.aios_buffer_p()
        rc = _fast_seal(_byref(out), _byref(handle), 1, ctx, nctx, plaintext, n,
                        _seal_options_ref())
        if rc != 0 or _callback_state.pending is not None:
            _ffi.raise_status(rc, _fast_seal)
        msg = _take_bytes(out)
        if len(_SEAL_HEADER_LEN) >= _SEAL_HEADER_LEN_MAX:
            _SEAL_HEADER_LEN.clear()
        _SEAL_HEADER_LEN[hkey] = len(msg) - payload
        return msg
    out = _ffi.aios_buffer_p()
    rec, nrec = _recipients(recipients, keep)
    opts = _seal_options(suite, chunk_size, threads)
    pp, np_ = _ffi.bytes_in(plaintext)
    lib.aios_envelope_seal(ctypes.byref(out), rec, nrec, ctx, nctx, pp, np_, ctypes.byref(opts))
    return _take_bytes(out)


def open_buffer(
    message: BytesLike,
    keys: KeysLike,
    *,
    expected_context: Optional[Context] = None,
    context_mode: Optional[Union[ContextMode, int, str]] = None,
    max_unwrap_attempts: int = 0,
    no_soft_gcm: bool = False,
    threads: int = 0,
) -> Buffer:
    """Like :func:`open`, into a new :class:`aios.Buffer` that is wiped when closed.

    The buffer is ordinary memory (any size fits); unlike :func:`open` the
    plaintext is never copied into Python ``bytes``.  Close it when done.
    """
    keep: List[Any] = []
    opts = _open_options(expected_context, context_mode, max_unwrap_attempts, no_soft_gcm, threads, keep)
    pm, nm = _ffi.bytes_in(message)
    out = _ffi.aios_buffer_p()
    with _KeysArg(keys) as kh:
        lib.aios_envelope_open(ctypes.byref(out), kh, pm, nm, ctypes.byref(opts))
    return Buffer._adopt(out)


def open(  # noqa: A001 - aios.envelope.open, as in gzip.open
    message: BytesLike,
    keys: KeysLike,
    *,
    expected_context: Optional[Context] = None,
    context_mode: Optional[Union[ContextMode, int, str]] = None,
    max_unwrap_attempts: int = 0,
    no_soft_gcm: bool = False,
    threads: int = 0,
) -> bytes:
    """Open a whole message; nothing is returned unless every chunk verified.

    ``keys``: a :class:`Keys` set, or Keys/Providers to build one from.
    ``expected_context``: the context the message must have; compared
    ``"exact"`` (the default when it is given) or ``"subset"``
    (``context_mode``), before any key is used
    (:class:`ContextMismatchError`).  ``max_unwrap_attempts``: how many
    matching records to try (0: 8).  ``no_soft_gcm``: refuse AES-GCM
    without AES instructions.  ``threads``: worker threads for chunks.

    Raises :class:`NoRecipientError` when no key matches,
    :class:`aios.AuthenticationError` for a changed message (or the first
    failed unwrap's error), :class:`TruncatedError`,
    :class:`TrailingDataError`, :class:`aios.InvalidInputError` for bytes
    that are not a message.  The library's copy of the plaintext is wiped
    once copied into the returned bytes.
    """
    keep: List[Any] = []
    if (type(message) is bytes and type(keys) is Keys and context_mode is None
            and max_unwrap_attempts == 0 and not no_soft_gcm and threads == 0):
        # The hot path: bytes with a key set, default options but the context.
        handle = keys._handle_
        if handle is None:
            raise keys._closed_error()
        cap = len(message)
        opts = None if expected_context is None else _open_options_ref(expected_context, keep)
        if _BYTES_FILLABLE and 0 < cap <= _INTO_MAX:
            # Opened straight into a bytes object of the message's length
            # (the plaintext is shorter), then cut, and the object cut
            # from wiped; C wipes what it wrote when the message does not
            # open.
            buf = bytes(cap) if cap < _NEW_BYTES_MIN else _new_bytes(None, cap)
            got = _c_uint32()
            rc = _into_open(handle, buf, cap, _byref(got), message, cap, opts)
            n = got.value
            if rc != 0 or _callback_state.pending is not None:
                if rc == 0 and n:
                    _fast_wipe(buf, _c_size_t(n))
                _ffi.raise_status(rc, _into_open)
            plaintext = buf[:n]
            if n:
                _fast_wipe(buf, _c_size_t(n))
            return plaintext
        out = _ffi.aios_buffer_p()
        rc = _fast_open(ctypes.byref(out), handle, message, cap, opts)
        if rc != 0 or _ffi.callback_pending():
            _ffi.raise_status(rc, _fast_open)
        return _take_bytes(out)
    out = _ffi.aios_buffer_p()
    opts = _open_options(expected_context, context_mode, max_unwrap_attempts, no_soft_gcm, threads, keep)
    pm, nm = _ffi.bytes_in(message)
    with _KeysArg(keys) as kh:
        lib.aios_envelope_open(ctypes.byref(out), kh, pm, nm, ctypes.byref(opts))
    return _take_bytes(out)


def peek(data: BytesLike) -> Dict[str, Any]:
    """Describe a message or session header without keys (nothing is authenticated).

    ``data`` holds at least the header (a whole message is fine)::

        {"type": "message"|"session", "suite": "aes256gcm", "suite_id": 1,
         "flags": 0, "deterministic": False, "message_id": "<hex>",
         "session_id": "<hex>", "context": {...}, "chunk_size": 65536,
         "header_len": N, "recipients": [{"kind": "kek", "provider": "local",
         "key_id": "k", "version": 1} | {"kind": "x25519",
         "public_key": "<hex>", "label": "..."}, ...], "authenticated": False}
    """
    pd, nd = _ffi.bytes_in(data)
    out = _ffi.aios_buffer_p()
    lib.aios_envelope_peek(ctypes.byref(out), pd, nd)
    return _take_json(out)


def header_len(data: BytesLike) -> int:
    """The length of the header that ``data`` starts with.

    When ``data`` is too short to tell, raises :class:`aios.InvalidInputError`
    (``AIOS_E_BUFFER_TOO_SMALL``) whose ``needed`` attribute is how many
    bytes to have (18 first, then more, then the whole header's length):
    read up to that and ask again (:func:`read_header` does).  Bytes that
    are not a header raise :class:`aios.InvalidInputError` (format or
    version) or :class:`aios.LimitExceededError`.
    """
    pd, nd = _ffi.bytes_in(data)
    n = ctypes.c_size_t(0)
    try:
        lib.aios_envelope_header_len(ctypes.byref(n), pd, nd)
    except AiosError as exc:
        if exc.status == Status.E_BUFFER_TOO_SMALL:
            exc.needed = int(n.value)  # type: ignore[attr-defined]
        raise
    return int(n.value)


def read_header(src: IO[bytes]) -> bytes:
    """Read exactly one header (message or session) from a binary file object.

    Reads only as many bytes as the header has (asking :func:`header_len`
    how many), so ``src`` is left at the first chunk.  Raises
    :class:`TruncatedError` when the stream ends inside the header.
    """
    data = b""
    while True:
        try:
            needed = header_len(data)
            if len(data) >= needed:
                return data[:needed]
        except AiosError as exc:
            if getattr(exc, "needed", None) is None:
                raise
            needed = int(exc.needed)  # type: ignore[attr-defined]
        more = src.read(needed - len(data))
        if not more:
            raise _ffi.error_for_status(
                Status.E_ENVELOPE_TRUNCATED, f"the stream ended inside the header ({len(data)} of {needed} bytes)"
            )
        data += more


# =====================================================================
# Streaming
# =====================================================================


def _drop_keys(obj: Any) -> None:
    """After an Opener or Reader was freed: close the key set it made."""
    ks, owned = obj._keys, obj._keys_owned
    obj._keys, obj._keys_owned = None, False
    if ks is not None and owned:
        ks.close()


def _free_sealer(handle: Any) -> None:
    lib.aios_envelope_sealer_free(handle)


def _free_opener(handle: Any) -> None:
    lib.aios_envelope_opener_free(handle)


class Sealer(_Handle):
    """Seal a message piece by piece in constant memory (``aios_envelope_sealer``).

    ``update(data)`` returns the sealed bytes ready so far (the header
    first, then whole chunks); ``final()`` returns the rest.  Their
    concatenation is the message.  After a failure or :meth:`final`, every
    call raises :class:`aios.StateError`.  One thread at a time.
    Arguments as for :func:`seal`.
    """

    __slots__ = ()

    _closed_message = "aios.envelope.Sealer: the sealer is closed"

    def __init__(
        self,
        recipients: Recipients,
        context: Optional[Context] = None,
        *,
        suite: Union[Suite, int, str] = Suite.AUTO,
        chunk_size: int = 0,
        threads: int = 0,
    ) -> None:
        keep: List[Any] = []
        rec, nrec = _recipients(recipients, keep)
        ctx, nctx = _context(context, "context", keep)
        opts = _seal_options(suite, chunk_size, threads)
        out = _ffi.aios_envelope_sealer_p()
        lib.aios_envelope_sealer_new(ctypes.byref(out), rec, nrec, ctx, nctx, ctypes.byref(opts))
        self._own(out, _free_sealer)

    def bound(self, n: int = 0) -> int:
        """The most :meth:`update` can return for ``n`` input bytes (0: :meth:`final`)."""
        return int(lib.aios_envelope_sealer_bound(self._handle(), _ffi.size_arg(n, "n")))

    def update(self, data: BytesLike) -> bytes:
        """Consume ``data``; the sealed bytes that are ready."""
        handle = self._handle()
        pd, nd = _ffi.bytes_in(data)
        cap = int(lib.aios_envelope_sealer_bound(handle, nd))
        out = _out_buffer(cap)
        n = ctypes.c_size_t(0)
        lib.aios_envelope_sealer_update(handle, out, cap, ctypes.byref(n), pd, nd)
        return _copy_out(out, n.value)

    def final(self) -> bytes:
        """The rest of the message (the last chunk)."""
        handle = self._handle()
        cap = int(lib.aios_envelope_sealer_bound(handle, 0))
        out = _out_buffer(cap)
        n = ctypes.c_size_t(0)
        lib.aios_envelope_sealer_final(handle, out, cap, ctypes.byref(n))
        return _copy_out(out, n.value)

    def close(self) -> None:
        """Free the sealer (wiping its state).  Idempotent."""
        super().close()

    def __reduce__(self) -> Any:
        raise TypeError("aios.envelope.Sealer cannot be pickled")


class Opener(_Handle):
    """Open a message as it arrives (``aios_envelope_opener``).

    ``update(data)`` returns the plaintext of the chunks verified so far;
    ``final()`` the rest, and checks the message is complete
    (:class:`TruncatedError` otherwise).  No chunk's plaintext is returned
    before its tag verifies, but **plaintext of earlier chunks has been
    returned when a later one fails: treat it as provisional until
    final() returns** (FORMAT.md 8.4).  Errors are sticky.  :attr:`info`
    describes the header once it was read.  One thread at a time.
    Arguments as for :func:`open`.
    """

    __slots__ = ("_keys", "_keys_owned")

    _closed_message = "aios.envelope.Opener: the opener is closed"
    _keys: Optional[Keys]
    _keys_owned: bool

    def __init__(
        self,
        keys: KeysLike,
        *,
        expected_context: Optional[Context] = None,
        context_mode: Optional[Union[ContextMode, int, str]] = None,
        max_unwrap_attempts: int = 0,
        no_soft_gcm: bool = False,
        threads: int = 0,
    ) -> None:
        keep: List[Any] = []
        opts = _open_options(expected_context, context_mode, max_unwrap_attempts, no_soft_gcm, threads, keep)
        # The opener uses the set until it is freed: keep it (ours or the
        # caller's, who must not close it first).
        ks, owned = _keys_for(keys)
        self._keys, self._keys_owned = ks, owned
        out = _ffi.aios_envelope_opener_p()
        try:
            lib.aios_envelope_opener_new(ctypes.byref(out), ks._handle(), ctypes.byref(opts))
        except BaseException:
            if owned:
                ks.close()
            raise
        self._own(out, _free_opener)

    def bound(self, n: int = 0) -> int:
        """The most :meth:`update` can return for ``n`` input bytes (0: :meth:`final`)."""
        return int(lib.aios_envelope_opener_bound(self._handle(), _ffi.size_arg(n, "n")))

    def _run(self, fn: Callable[..., int], handle: Any, cap: int, *args: Any) -> bytes:
        out = _out_buffer(cap)
        n = ctypes.c_size_t(0)
        try:
            fn(handle, out, cap, ctypes.byref(n), *args)
            return _copy_out(out, n.value)
        finally:
            _wipe(out, ctypes.sizeof(out))

    def update(self, data: BytesLike) -> bytes:
        """Consume ``data``; the plaintext verified so far (provisional, see the class doc)."""
        handle = self._handle()
        pd, nd = _ffi.bytes_in(data)
        cap = int(lib.aios_envelope_opener_bound(handle, nd))
        return self._run(lib.aios_envelope_opener_update, handle, cap, pd, nd)

    def final(self) -> bytes:
        """The rest of the plaintext; raises unless the message was whole and valid."""
        handle = self._handle()
        cap = int(lib.aios_envelope_opener_bound(handle, 0))
        return self._run(lib.aios_envelope_opener_final, handle, cap)

    @property
    def info(self) -> Dict[str, Any]:
        """The header's :func:`peek` description, now ``"authenticated": True``
        with ``"opened_by"`` (the recipient record used).  StateError before the header was read."""
        out = _ffi.aios_buffer_p()
        lib.aios_envelope_opener_info(self._handle(), ctypes.byref(out))
        return _take_json(out)

    def close(self) -> None:
        """Free the opener (wiping its state).  Idempotent."""
        super().close()
        _drop_keys(self)

    def __reduce__(self) -> Any:
        raise TypeError("aios.envelope.Opener cannot be pickled")


def seal_stream(
    src: IO[bytes],
    dst: IO[bytes],
    recipients: Recipients,
    context: Optional[Context] = None,
    *,
    suite: Union[Suite, int, str] = Suite.AUTO,
    chunk_size: int = 0,
    threads: int = 0,
    read_size: int = _STREAM_READ,
) -> int:
    """Seal everything ``src.read()`` gives into ``dst.write()``, in constant memory.

    Returns the number of bytes written.  Arguments as for :func:`seal`.
    """
    written = 0
    with Sealer(recipients, context, suite=suite, chunk_size=chunk_size, threads=threads) as s:
        while True:
            data = src.read(read_size)
            if not data:
                break
            out = s.update(data)
            if out:
                dst.write(out)
                written += len(out)
        out = s.final()
        dst.write(out)
        written += len(out)
    return written


def open_stream(
    src: IO[bytes],
    dst: IO[bytes],
    keys: KeysLike,
    *,
    expected_context: Optional[Context] = None,
    context_mode: Optional[Union[ContextMode, int, str]] = None,
    max_unwrap_attempts: int = 0,
    no_soft_gcm: bool = False,
    threads: int = 0,
    read_size: int = _STREAM_READ,
) -> int:
    """Open the message ``src.read()`` gives into ``dst.write()``, in constant memory.

    Returns the number of plaintext bytes written.  **On failure, what was
    written to ``dst`` is not to be used** (an attacker may have cut or
    changed the message after it): delete it.  Arguments as for :func:`open`.
    """
    written = 0
    with Opener(
        keys,
        expected_context=expected_context,
        context_mode=context_mode,
        max_unwrap_attempts=max_unwrap_attempts,
        no_soft_gcm=no_soft_gcm,
        threads=threads,
    ) as o:
        while True:
            data = src.read(read_size)
            if not data:
                break
            out = o.update(data)
            if out:
                dst.write(out)
                written += len(out)
        out = o.final()
        if out:
            dst.write(out)
            written += len(out)
    return written


def seal_fd(
    src: FileArg,
    dst: FileArg,
    recipients: Recipients,
    context: Optional[Context] = None,
    *,
    suite: Union[Suite, int, str] = Suite.AUTO,
    chunk_size: int = 0,
    threads: int = 0,
) -> None:
    """Seal from descriptor ``src`` (read to its end) to descriptor ``dst``, in C.

    ``src`` and ``dst`` are ints or objects with ``fileno()`` (files,
    pipes, sockets); they are not closed.  A Python file object ``dst``
    is flushed first; the C side reads and writes the descriptors
    directly, bypassing Python's buffers (open files with
    ``buffering=0``, or seek them first).  I/O failures raise
    :class:`aios.AiosIOError` naming the call.  Arguments as for :func:`seal`.
    """
    keep: List[Any] = []
    rec, nrec = _recipients(recipients, keep)
    ctx, nctx = _context(context, "context", keep)
    opts = _seal_options(suite, chunk_size, threads)
    out_fd = _fd(dst, "dst", flush=True)
    in_fd = _fd(src, "src")
    lib.aios_envelope_seal_fd(out_fd, in_fd, rec, nrec, ctx, nctx, ctypes.byref(opts))


def open_fd(
    src: FileArg,
    dst: FileArg,
    keys: KeysLike,
    *,
    expected_context: Optional[Context] = None,
    context_mode: Optional[Union[ContextMode, int, str]] = None,
    max_unwrap_attempts: int = 0,
    no_soft_gcm: bool = False,
    threads: int = 0,
) -> None:
    """Open from descriptor ``src`` to descriptor ``dst``, in C (see :func:`seal_fd`).

    **On failure, what was written to ``dst`` is not to be used.**
    Arguments as for :func:`open`.
    """
    keep: List[Any] = []
    opts = _open_options(expected_context, context_mode, max_unwrap_attempts, no_soft_gcm, threads, keep)
    out_fd = _fd(dst, "dst", flush=True)
    in_fd = _fd(src, "src")
    with _KeysArg(keys) as kh:
        lib.aios_envelope_open_fd(out_fd, in_fd, kh, ctypes.byref(opts))


# =====================================================================
# Random access
# =====================================================================


def _is_bytes_like(obj: Any) -> bool:
    if isinstance(obj, (bytes, bytearray, memoryview, Buffer)):
        return True
    try:
        memoryview(obj).release()
    except TypeError:
        return False
    return True


def _free_reader(handle: Any) -> None:
    lib.aios_envelope_reader_free(handle)


class Reader(_Handle):
    """Read any byte range of a sealed message (``aios_envelope_reader``).

    ``source`` is the whole message as a bytes-like object (kept, not
    copied: a ``bytearray`` cannot be resized while the reader lives), an
    open descriptor or file object (the reader dup()s the descriptor and
    uses ``pread``), or a path.  Creating the reader opens the header and
    verifies the final chunk, so :attr:`size` (the plaintext length) is
    proven; :meth:`read` decrypts only the chunks a range touches and
    raises :class:`aios.AuthenticationError` for a changed chunk.  Any
    number of threads may read at once.  Open arguments as for :func:`open`.
    """

    __slots__ = ("_source", "_keys", "_keys_owned")

    _closed_message = "aios.envelope.Reader: the reader is closed"
    _source: Any
    _keys: Optional[Keys]
    _keys_owned: bool

    def __init__(
        self,
        source: Union[BytesLike, int, PathLike, Any],
        keys: KeysLike,
        *,
        expected_context: Optional[Context] = None,
        context_mode: Optional[Union[ContextMode, int, str]] = None,
        max_unwrap_attempts: int = 0,
        no_soft_gcm: bool = False,
        threads: int = 0,
    ) -> None:
        keep: List[Any] = []
        opts = _open_options(expected_context, context_mode, max_unwrap_attempts, no_soft_gcm, threads, keep)
        self._source = None
        ks, owned = _keys_for(keys)
        self._keys, self._keys_owned = ks, owned
        out = _ffi.aios_envelope_reader_p()
        try:
            kh = ks._handle()
            if isinstance(source, (str, os.PathLike)):
                fd = os.open(source, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                try:
                    lib.aios_envelope_reader_new_fd(ctypes.byref(out), kh, fd, ctypes.byref(opts))
                finally:
                    os.close(fd)  # the reader has its own dup()
            elif (isinstance(source, int) and not isinstance(source, bool)) or not _is_bytes_like(source):
                lib.aios_envelope_reader_new_fd(ctypes.byref(out), kh, _fd(source, "source"), ctypes.byref(opts))
            else:
                pm, nm = _ffi.bytes_in(source)
                lib.aios_envelope_reader_new_mem(ctypes.byref(out), kh, pm, nm, ctypes.byref(opts))
                self._source = (pm, source)  # C borrows the memory: keep it alive
        except BaseException:
            self._source = None
            if owned:
                ks.close()
            raise
        self._own(out, _free_reader)

    @property
    def size(self) -> int:
        """The plaintext length in bytes (proven when the reader was made)."""
        return int(lib.aios_envelope_reader_size(self._handle()))

    def __len__(self) -> int:
        return self.size

    @property
    def chunk_size(self) -> int:
        """The message's chunk size."""
        return int(lib.aios_envelope_reader_chunk_size(self._handle()))

    def read(self, offset: int, n: int) -> bytes:
        """``n`` bytes of plaintext from ``offset`` (fewer only at the end; ``b""`` past it)."""
        handle = self._handle()
        off = _uint(offset, "offset", _U64_MAX)
        cap = _ffi.size_arg(n, "n")
        out = _out_buffer(cap)
        got = ctypes.c_size_t(0)
        try:
            lib.aios_envelope_reader_read(handle, off, out, cap, ctypes.byref(got))
            return _copy_out(out, got.value)
        finally:
            _wipe(out, ctypes.sizeof(out))

    @property
    def info(self) -> Dict[str, Any]:
        """The header's description (:func:`peek`), authenticated."""
        out = _ffi.aios_buffer_p()
        lib.aios_envelope_reader_info(self._handle(), ctypes.byref(out))
        return _take_json(out)

    def close(self) -> None:
        """Free the reader (and its descriptor).  Idempotent."""
        super().close()
        self._source = None
        _drop_keys(self)

    def __reduce__(self) -> Any:
        raise TypeError("aios.envelope.Reader cannot be pickled")

    def __repr__(self) -> str:
        if self.closed:
            return "<aios.envelope.Reader closed>"
        return f"<aios.envelope.Reader size={self.size} chunk_size={self.chunk_size}>"


# =====================================================================
# Rewrap
# =====================================================================


def _rewrap_options(
    remove: Optional[Union[Key, Sequence[Key]]], replace_all: bool, max_unwrap_attempts: int, keep: List[Any]
) -> Any:
    opts = _ffi.aios_envelope_rewrap_options()
    lib.aios_envelope_rewrap_options_init(ctypes.byref(opts), _OPTIONS_VERSION)
    array, n = _key_array(remove, "remove", keep)
    if array is not None:
        opts.remove = ctypes.cast(array, ctypes.POINTER(_ffi.aios_key_p))
    opts.remove_count = n
    opts.flags = _REWRAP_REPLACE_ALL if replace_all else 0
    opts.max_unwrap_attempts = _uint(max_unwrap_attempts, "max_unwrap_attempts", _U32_MAX)
    return opts


def rewrap(
    data: BytesLike,
    keys: KeysLike,
    add: Optional[Union[Key, Sequence[Key]]] = None,
    remove: Optional[Union[Key, Sequence[Key]]] = None,
    *,
    replace_all: bool = False,
    max_unwrap_attempts: int = 0,
) -> Tuple[bytes, int]:
    """New recipients for a message or session header; the payload is untouched.

    ``data`` holds at least the header; ``keys`` must open it (it is
    authenticated first).  Returns ``(new_header, old_header_len)``: the
    rewrapped message is ``new_header + data[old_header_len:]``.

    The new recipient list: the old records, minus those of the
    ``remove`` keys, minus, for each added KEK, the records of any version
    of the same key (adding version 2 replaces version 1), then ``add``.
    ``replace_all`` drops every old record.  An empty result is
    :class:`aios.InvalidInputError`.
    """
    keep: List[Any] = []
    opts = _rewrap_options(remove, replace_all, max_unwrap_attempts, keep)
    arr, n = _key_array(add, "add", keep)
    pd, nd = _ffi.bytes_in(data)
    out = _ffi.aios_buffer_p()
    old = ctypes.c_size_t(0)
    with _KeysArg(keys) as kh:
        lib.aios_envelope_rewrap(ctypes.byref(out), ctypes.byref(old), kh, pd, nd, arr, n, ctypes.byref(opts))
    return _take_bytes(out), int(old.value)


def rewrap_fd(
    src: FileArg,
    dst: FileArg,
    keys: KeysLike,
    add: Optional[Union[Key, Sequence[Key]]] = None,
    remove: Optional[Union[Key, Sequence[Key]]] = None,
    *,
    replace_all: bool = False,
    max_unwrap_attempts: int = 0,
) -> None:
    """:func:`rewrap` over descriptors: read the header from ``src``, write
    the new header to ``dst``, then copy the payload unread (see :func:`seal_fd`)."""
    keep: List[Any] = []
    opts = _rewrap_options(remove, replace_all, max_unwrap_attempts, keep)
    arr, n = _key_array(add, "add", keep)
    out_fd = _fd(dst, "dst", flush=True)
    in_fd = _fd(src, "src")
    with _KeysArg(keys) as kh:
        lib.aios_envelope_rewrap_fd(out_fd, in_fd, kh, arr, n, ctypes.byref(opts))


# =====================================================================
# Sessions
# =====================================================================


def _unref_session(handle: Any) -> None:
    lib.aios_envelope_session_unref(handle)


class Session(_Handle):
    """One wrapped data key for many small records (``aios_envelope_session``).

    A writer makes one with :meth:`new` and stores or sends its
    :attr:`header` once; a reader opens the header once with :meth:`open`
    and then :meth:`open_record` costs nearly the bare AEAD.  Records name
    their session by :attr:`id` (:func:`record_session_id` reads it from a
    record, for finding the session in a table).  Sessions may seal and
    open from any number of threads at once.  ``copy.copy()`` takes
    another reference.  Sessions also drive :func:`encrypt_fields`.
    """

    __slots__ = ()

    _closed_message = "aios.envelope.Session: the session is closed"

    def __init__(self) -> None:
        raise TypeError("use aios.envelope.Session.new() or aios.envelope.Session.open()")

    @classmethod
    def _adopt(cls, handle: Any) -> "Session":
        if not handle:
            raise _ffi.error_for_status(Status.E_INTERNAL, "libaios returned a NULL session")
        self = object.__new__(cls)
        self._own(handle, _unref_session)
        return self

    @classmethod
    def new(
        cls,
        recipients: Recipients,
        context: Optional[Context] = None,
        *,
        deterministic: bool = False,
        suite: Union[Suite, int, str] = Suite.AUTO,
        max_records: int = 0,
    ) -> "Session":
        """A new writing session: a fresh data key wrapped for ``recipients``.

        ``deterministic`` allows deterministic fields
        (:func:`encrypt_fields`); ``max_records``: how many records this
        writer may seal (0: 2**32), then :class:`aios.LimitExceededError`.
        """
        keep: List[Any] = []
        rec, nrec = _recipients(recipients, keep)
        ctx, nctx = _context(context, "context", keep)
        opts = _ffi.aios_envelope_session_options()
        lib.aios_envelope_session_options_init(ctypes.byref(opts), _OPTIONS_VERSION)
        opts.suite = int(Suite.parse(suite))
        opts.flags = _SESSION_DETERMINISTIC if deterministic else 0
        opts.max_records = _uint(max_records, "max_records", _U64_MAX)
        out = _ffi.aios_envelope_session_p()
        lib.aios_envelope_session_new(ctypes.byref(out), rec, nrec, ctx, nctx, ctypes.byref(opts))
        return cls._adopt(out)

    @classmethod
    def open(
        cls,
        header: BytesLike,
        keys: KeysLike,
        *,
        expected_context: Optional[Context] = None,
        context_mode: Optional[Union[ContextMode, int, str]] = None,
        max_unwrap_attempts: int = 0,
        no_soft_gcm: bool = False,
    ) -> "Session":
        """Open a session header (one unwrap), as :func:`open` does a message header.

        A session opened here reads records; sealing with it raises
        :class:`aios.StateError` (readers do not write).
        """
        keep: List[Any] = []
        opts = _open_options(expected_context, context_mode, max_unwrap_attempts, no_soft_gcm, 0, keep)
        ph, nh = _ffi.bytes_in(header)
        out = _ffi.aios_envelope_session_p()
        with _KeysArg(keys) as kh:
            lib.aios_envelope_session_open(ctypes.byref(out), kh, ph, nh, ctypes.byref(opts))
        return cls._adopt(out)

    def close(self) -> None:
        """Drop this reference (``aios_envelope_session_unref``).  Idempotent."""
        super().close()

    def __copy__(self) -> "Session":
        return Session._adopt(lib.aios_envelope_session_ref(self._handle()))

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Session":
        return self.__copy__()  # immutable: another reference is a deep copy

    def __reduce__(self) -> Any:
        raise TypeError("aios.envelope.Session cannot be pickled (it holds a data key)")

    @property
    def header(self) -> bytes:
        """The session header, to store or send once."""
        n = ctypes.c_size_t(0)
        addr = lib.aios_envelope_session_header(self._handle(), ctypes.byref(n))
        return ctypes.string_at(addr, n.value)

    @property
    def id(self) -> bytes:
        """The session id (32 bytes, the commitment C) that its records name."""
        addr = lib.aios_envelope_session_id(self._handle())
        return ctypes.string_at(addr, SESSION_ID_LEN)

    @property
    def info(self) -> Dict[str, Any]:
        """The header's :func:`peek` description, authenticated."""
        out = _ffi.aios_buffer_p()
        lib.aios_envelope_session_info(self._handle(), ctypes.byref(out))
        return _take_json(out)

    def seal(self, plaintext: BytesLike, ad: BytesLike = b"") -> bytes:
        """Seal one record (0..16 MiB) bound to ``ad`` (0..64 KiB, not stored:
        give it again to open); ``len(plaintext) + RECORD_OVERHEAD`` bytes."""
        handle = self._handle_
        if handle is None:
            raise self._closed_error()
        if type(plaintext) is bytes and type(ad) is bytes:   # the hot path
            n = len(plaintext)
            cap = n + RECORD_OVERHEAD
            na = len(ad)
            if _BYTES_FILLABLE and n <= RECORD_MAX and na <= RECORD_AD_MAX:
                # The record is written straight into the bytes returned
                # (exactly cap bytes).
                out = bytes(cap) if cap < _NEW_BYTES_MIN else _new_bytes(None, cap)
                rc = _exact_seal(handle, out, plaintext, n, ad, na)
                if rc != 0:
                    _ffi.raise_status(rc, _exact_seal)
                return out
            fout = ctypes.create_string_buffer(cap)
            fn = ctypes.c_size_t(0)
            rc = _fast_session_seal(handle, fout, cap, ctypes.byref(fn), plaintext, len(plaintext),
                                    ad, len(ad))
            if rc != 0:
                _ffi.raise_status(rc, _fast_session_seal)
            return fout.raw if fn.value == cap else fout.raw[: fn.value]
        pp, np_ = _ffi.bytes_in(plaintext)
        pa, na = _ffi.bytes_in(ad)
        cap = np_ + RECORD_OVERHEAD
        out = _out_buffer(cap)
        n = ctypes.c_size_t(0)
        lib.aios_envelope_session_seal(handle, out, cap, ctypes.byref(n), pp, np_, pa, na)
        return _copy_out(out, n.value)

    def open_record(self, record: BytesLike, ad: BytesLike = b"") -> bytes:
        """Open a record of this session with the ``ad`` it was sealed with.

        :class:`UnknownSessionError` if it names another session;
        :class:`aios.AuthenticationError` if it or ``ad`` was changed.
        """
        handle = self._handle_
        if handle is None:
            raise self._closed_error()
        if type(record) is bytes and type(ad) is bytes:   # the hot path
            nr = len(record)
            fcap = nr - RECORD_OVERHEAD
            na = len(ad)
            if _BYTES_FILLABLE and 0 < fcap <= RECORD_MAX and na <= RECORD_AD_MAX:
                # The plaintext is written straight into the bytes returned
                # (exactly fcap bytes; no second copy to wipe); C wipes it
                # when the record does not open, and the object is then
                # dropped.
                out = bytes(fcap) if fcap < _NEW_BYTES_MIN else _new_bytes(None, fcap)
                rc = _exact_open(handle, out, record, nr, ad, na)
                if rc != 0:
                    _ffi.raise_status(rc, _exact_open)
                return out
            fcap = max(fcap, 0)
            fout = ctypes.create_string_buffer(max(fcap, 1))
            fn = ctypes.c_size_t(0)
            rc = _fast_session_open(handle, fout, fcap, ctypes.byref(fn), record, len(record),
                                    ad, len(ad))
            try:
                if rc != 0:
                    _ffi.raise_status(rc, _fast_session_open)
                return fout.raw if fn.value == len(fout) else fout.raw[: fn.value]
            finally:
                ctypes.memset(fout, 0, fcap)
        pr, nr = _ffi.bytes_in(record)
        pa, na = _ffi.bytes_in(ad)
        cap = max(nr - RECORD_OVERHEAD, 0)
        out = _out_buffer(cap)
        n = ctypes.c_size_t(0)
        try:
            lib.aios_envelope_session_open_record(handle, out, cap, ctypes.byref(n), pr, nr, pa, na)
            return _copy_out(out, n.value)
        finally:
            _wipe(out, ctypes.sizeof(out))

    def seal_many(
        self, plaintexts: Iterable[BytesLike], ads: Optional[Iterable[BytesLike]] = None
    ) -> List[bytes]:
        """Seal many records with few calls (``aios_envelope_session_seal_batch``).

        Record ``i`` is exactly what :meth:`seal` makes of ``plaintexts[i]``
        with ``ads[i]`` (``ads`` None: no associated data for any record);
        :meth:`open_record` opens each, :meth:`open_many` all of them.  On
        a failure no record is returned; when one record causes it (a
        record or its ad over the limit) the exception's ``index`` is that
        record's index, else None.

        The records are sealed in calls of at most about 128 KiB of
        plaintext each (one call for small batches; bigger ones are faster
        in pieces that stay in the CPU's cache).  Each call counts its
        records against ``max_records`` at once, so a batch of one call is
        refused whole (:class:`aios.LimitExceededError`, nothing counted)
        when fewer records are left; in a batch of several calls, the
        records of the calls before the refused one were counted.
        """
        handle = self._handle()
        pts = plaintexts if type(plaintexts) in (list, tuple) else list(plaintexts)
        n = len(pts)
        ad_items, ad_lens = _batch_ads(ads, n)
        if n == 0:
            return []
        lens = _batch_lens(pts)
        out: List[bytes] = []
        for i, j in _batch_groups(lens):
            whole = i == 0 and j == n
            rc = _seal_group(
                out, handle, pts if whole else pts[i:j], lens if whole else lens[i:j],
                None if ad_items is None else (ad_items if whole else ad_items[i:j]),
                None if ad_lens is None else (ad_lens if whole else ad_lens[i:j]))
            if rc != 0:
                _batch_raise(rc, _fast_session_seal_batch, _batch_over(lens, ad_lens))
        return out

    def open_many(
        self, records: Iterable[BytesLike], ads: Optional[Iterable[BytesLike]] = None
    ) -> List[bytes]:
        """Open many records of this session with few calls (``aios_envelope_session_open_batch``).

        All or nothing: if any record fails (:class:`aios.AuthenticationError`,
        :class:`UnknownSessionError`, :class:`aios.InvalidInputError`, ...)
        nothing is returned and the exception's ``index`` is the failing
        record's index (the message names its index within the call);
        ``index`` is None for failures no single record causes.  Calls of
        at most about 128 KiB each, as for :meth:`seal_many`.
        """
        handle = self._handle()
        recs = records if type(records) in (list, tuple) else list(records)
        n = len(recs)
        ad_items, ad_lens = _batch_ads(ads, n)
        if n == 0:
            return []
        lens = _batch_lens(recs)
        out: List[bytes] = []
        for i, j in _batch_groups(lens):
            whole = i == 0 and j == n
            rc, failed = _open_group(
                out, handle, recs if whole else recs[i:j], lens if whole else lens[i:j],
                None if ad_items is None else (ad_items if whole else ad_items[i:j]),
                None if ad_lens is None else (ad_lens if whole else ad_lens[i:j]))
            if rc != 0:
                _batch_raise(rc, _fast_session_open_batch, None if failed is None else i + failed)
        return out

    def __repr__(self) -> str:
        if self.closed:
            return "<aios.envelope.Session closed>"
        return f"<aios.envelope.Session {self.id.hex()[:16]}...>"


# ---- batches (Session.seal_many / open_many)

_SIZE_MAX = 2 ** (8 * ctypes.sizeof(ctypes.c_size_t)) - 1
_SIZE_T_CODE = next(c for c in "NLQI" if c in array.typecodes
                    and array.array(c).itemsize == ctypes.sizeof(ctypes.c_size_t))
#: Bytes (plaintext or records) per batch call: big batches go in pieces
#: of about this size, which stay in the CPU's cache and the allocator's
#: heap (one call over 64 MiB costs more than the records' own calls).
_BATCH_BYTES = 128 * 1024


def _batch_lens(items: Sequence[BytesLike]) -> List[int]:
    """Byte lengths of ``items`` (bytes-like objects)."""
    lens = list(map(len, items))
    if set(map(type, items)) != {bytes}:
        for i, x in enumerate(items):
            if type(x) is not bytes:   # len() counts items, not bytes, for some buffers
                with memoryview(x) as view:
                    lens[i] = view.nbytes
    return lens


def _batch_ads(ads: Optional[Iterable[BytesLike]], n: int) -> Tuple[Optional[Sequence[BytesLike]],
                                                                     Optional[List[int]]]:
    """(items, lengths) of a batch's associated data (None, None for none)."""
    if ads is None:
        return None, None
    items = ads if type(ads) in (list, tuple) else list(ads)
    if len(items) != n:
        raise _invalid(f"ads has {len(items)} entries for {n} records")
    return items, _batch_lens(items)


def _batch_groups(lens: List[int]) -> List[Tuple[int, int]]:
    """[i, j) ranges of records of about _BATCH_BYTES each (at least one record)."""
    n = len(lens)
    if sum(lens) <= _BATCH_BYTES:
        return [(0, n)]
    ends = list(itertools.accumulate(lens))
    groups = []
    i = 0
    while i < n:
        base = ends[i - 1] if i else 0
        j = max(bisect.bisect_right(ends, base + _BATCH_BYTES, i), i + 1)
        groups.append((i, j))
        i = j
    return groups


def _seal_group(out: List[bytes], handle: Any, pts: Sequence[BytesLike], lens: List[int],
                ads: Optional[Sequence[BytesLike]], ad_lens: Optional[List[int]]) -> int:
    """One aios_envelope_session_seal_batch call; the records are appended to out."""
    n = len(pts)
    # One join (into a bytearray, wiped after the call), one array of
    # lengths, one call, then one slice per record.
    joined = bytearray().join(pts)
    total = len(joined) + n * RECORD_OVERHEAD
    lens_arr = array.array(_SIZE_T_CODE, lens)
    ad_joined = None if ads is None else b"".join(ads)
    ad_arr = None if ad_lens is None else array.array(_SIZE_T_CODE, ad_lens)
    fout = ctypes.create_string_buffer(total)
    fn = ctypes.c_size_t(0)
    pin = ctypes.c_char.from_buffer(joined) if joined else None
    try:
        rc = _fast_session_seal_batch(
            handle, fout, total, ctypes.byref(fn), None if pin is None else ctypes.addressof(pin),
            lens_arr.buffer_info()[0], n, ad_joined,
            None if ad_arr is None else ad_arr.buffer_info()[0])
    finally:
        if pin is not None:
            ctypes.memset(ctypes.addressof(pin), 0, len(joined))
            del pin
    if rc == 0:
        ends = list(itertools.accumulate(x + RECORD_OVERHEAD for x in lens))
        out += [fout[a:b] for a, b in zip([0] + ends, ends)]
    return int(rc)


def _open_group(out: List[bytes], handle: Any, recs: Sequence[BytesLike], lens: List[int],
                ads: Optional[Sequence[BytesLike]],
                ad_lens: Optional[List[int]]) -> Tuple[int, Optional[int]]:
    """One aios_envelope_session_open_batch call; the plaintexts are appended
    to out.  (status, index of the failing record in this call or None)."""
    n = len(recs)
    joined = b"".join(recs)
    lens_arr = array.array(_SIZE_T_CODE, lens)
    ad_joined = None if ads is None else b"".join(ads)
    ad_arr = None if ad_lens is None else array.array(_SIZE_T_CODE, ad_lens)
    cap = max(len(joined) - n * RECORD_OVERHEAD, 0)
    fout = ctypes.create_string_buffer(max(cap, 1))
    fn = ctypes.c_size_t(0)
    failed = ctypes.c_size_t(0)
    try:
        rc = _fast_session_open_batch(
            handle, fout, cap, ctypes.byref(fn), joined, lens_arr.buffer_info()[0], n,
            ad_joined, None if ad_arr is None else ad_arr.buffer_info()[0], ctypes.byref(failed))
        if rc != 0:
            return int(rc), (None if failed.value == _SIZE_MAX else failed.value)
        ends = list(itertools.accumulate(x - RECORD_OVERHEAD for x in lens))
        out += [fout[a:b] for a, b in zip([0] + ends, ends)]
        return 0, None
    finally:
        ctypes.memset(fout, 0, cap)


def _batch_over(lens: List[int], ad_lens: Optional[List[int]]) -> Optional[int]:
    """The first record over a limit (what seal_batch's message names), or None."""
    for i, x in enumerate(lens):
        if x > RECORD_MAX or (ad_lens is not None and ad_lens[i] > RECORD_AD_MAX):
            return i
    return None


def _batch_raise(rc: int, func: Any, index: Optional[int]) -> NoReturn:
    try:
        _ffi.raise_status(rc, func)
    except AiosError as err:
        err.index = index  # type: ignore[attr-defined]
        raise


def record_session_id(record: BytesLike) -> bytes:
    """The 32-byte id of the session a record names (:class:`aios.InvalidInputError`
    for bytes that are not a record)."""
    pr, nr = _ffi.bytes_in(record)
    out = (ctypes.c_ubyte * SESSION_ID_LEN)()
    lib.aios_envelope_record_session_id(out, pr, nr)
    return bytes(out)


# =====================================================================
# JSON fields
# =====================================================================


def _json_arg(doc: JsonDoc) -> bytes:
    if isinstance(doc, str):
        return doc.encode("utf-8")
    if isinstance(doc, (bytes, bytearray, memoryview)):
        return bytes(doc)
    if isinstance(doc, (Mapping, list)):
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    raise TypeError(f"the document must be JSON text (str or bytes) or a dict/list, not {type(doc).__name__}")


def _fields_options(flags: int, record_id: Optional[Union[str, BytesLike]], keep: List[Any]) -> Any:
    opts = _ffi.aios_envelope_fields_options()
    lib.aios_envelope_fields_options_init(ctypes.byref(opts), _OPTIONS_VERSION)
    opts.flags = flags
    if record_id is not None:
        rid = record_id.encode("utf-8") if isinstance(record_id, str) else record_id
        arg, n = _ffi.bytes_in(rid)
        keep.append(arg)
        if n:
            opts.record_id = _address(arg)
        opts.record_id_len = n
    return opts


def encrypt_fields(
    doc: JsonDoc,
    session: Session,
    pointers: Union[str, Sequence[str]],
    *,
    deterministic: bool = False,
    record_id: Optional[Union[str, BytesLike]] = None,
    skip_missing: bool = False,
) -> str:
    """Encrypt the values at ``pointers`` (RFC 6901) of a JSON document.

    ``doc`` is JSON text (str or UTF-8 bytes) or a dict/list (serialised
    compactly).  Each named value becomes the string ``"aios:f1:..."``;
    the rest stays readable and in its order.  Returns the JSON text.

    Random mode (default): equal values give unrelated strings.
    ``deterministic=True`` (the session must be made ``deterministic``,
    else :class:`EnvelopeModeError`): the same value at the same pointer
    (and ``record_id``) gives the same string, so fields can be joined;
    this REVEALS WHICH VALUES ARE EQUAL.  ``record_id`` (0..256 bytes, e.g.
    the primary key) binds the fields to their document.  A pointer that
    does not resolve raises :class:`aios.NotFoundError` unless
    ``skip_missing``.
    """
    if isinstance(pointers, str):
        pointers = [pointers]
    keep: List[Any] = []
    ptrs = [_text(p, "pointer") for p in pointers]
    array = (ctypes.c_char_p * max(len(ptrs), 1))(*ptrs)
    flags = (_FIELDS_DETERMINISTIC if deterministic else 0) | (_FIELDS_SKIP_MISSING if skip_missing else 0)
    opts = _fields_options(flags, record_id, keep)
    text = _json_arg(doc)
    out = _ffi.aios_buffer_p()
    lib.aios_envelope_fields_encrypt(
        ctypes.byref(out), session._handle(), text, len(text), array, len(ptrs), ctypes.byref(opts)
    )
    return _take_bytes(out).rstrip(b"\0").decode("utf-8")


def decrypt_fields(
    doc: JsonDoc,
    sessions: Union[Session, Sequence[Session]],
    *,
    record_id: Optional[Union[str, BytesLike]] = None,
) -> str:
    """Decrypt every ``"aios:f1:"`` string of a JSON document with whichever
    of ``sessions`` it names (:class:`UnknownSessionError` naming the
    field if none); ``record_id`` as at encryption.  Returns the JSON text
    (the library's secure copy is wiped once decoded)."""
    items = [sessions] if isinstance(sessions, Session) else list(sessions)
    for s in items:
        if not isinstance(s, Session):
            raise TypeError(f"sessions must be aios.envelope.Session objects, not {type(s).__name__}")
    array = (_ffi.aios_envelope_session_p * max(len(items), 1))(*[s._handle() for s in items])
    keep: List[Any] = []
    opts = _fields_options(0, record_id, keep)
    text = _json_arg(doc)
    out = _ffi.aios_buffer_p()
    lib.aios_envelope_fields_decrypt(ctypes.byref(out), array, len(items), text, len(text), ctypes.byref(opts))
    return _take_bytes(out).rstrip(b"\0").decode("utf-8")
