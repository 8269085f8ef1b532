"""libaios key (``include/aios/key.h``): key handles, keyrings, providers
and the data-key cache.

* :class:`Key` wraps an ``aios_key`` handle: a named, versioned key that
  lives in a provider.  Its secret never leaves the handle unless the key
  is exportable and :meth:`Key.export` is asked.
* :class:`Keyring` is a keyring file (the ``"local"`` provider), encrypted
  at rest under a passphrase (Argon2id), a raw 32-byte master key or an AES
  key in a PKCS#11 token.
* :class:`Provider` is any provider: a keyring's (:attr:`Keyring.provider`),
  a PKCS#11 token (:meth:`Provider.pkcs11`) or Python code such as a cloud
  KMS client (:meth:`Provider.callback`).
* :class:`DataKeyCache` keeps unwrapped data keys in secure memory, keyed
  by (key, context, suite), with age, message and byte limits.

Thread safety follows the C header: keys and providers are reference
counted and usable from any number of threads; a keyring and a cache are
internally locked.  The Python objects add no locks of their own: do not
:meth:`close` an object while another thread still uses it.

Errors: the key statuses (-100..-116) raise the classes of their kind
(``except aios.NotFoundError`` catches a missing key), and these more
specific subclasses, for what callers usually branch on:

* :class:`KeyNotFoundError` (a NotFoundError): ``AIOS_E_KEY_NOT_FOUND``
  and ``AIOS_E_KEY_VERSION_NOT_FOUND``
* :class:`KeyExistsError` (a StateError): ``AIOS_E_KEY_EXISTS``
* :class:`KeyDestroyedError` (a StateError): ``AIOS_E_KEY_DESTROYED``
* :class:`KeyDisabledError` (a StateError): ``AIOS_E_KEY_DISABLED``
* :class:`KeyDecryptOnlyError` (a StateError): ``AIOS_E_KEY_DECRYPT_ONLY``
  and ``AIOS_E_KEY_EXPIRED``
* :class:`KeyNotExportableError` (a StateError): ``AIOS_E_KEY_NOT_EXPORTABLE``
* :class:`KeyUsageLimitError` (a LimitExceededError): ``AIOS_E_KEY_USAGE_LIMIT``
* :class:`KeyringPassphraseError` (an AuthenticationError):
  ``AIOS_E_KEYRING_PASSPHRASE``
* :class:`KeyringTamperedError` (an AuthenticationError):
  ``AIOS_E_KEYRING_TAMPERED``
* :class:`KeyringLockedError` (a StateError): ``AIOS_E_KEYRING_LOCKED``
* :class:`Pkcs11PinError` (an AuthenticationError): ``AIOS_E_PKCS11_PIN``
* :class:`ProviderTimeoutError` (a CallbackError and a TimeoutError):
  ``AIOS_E_PROVIDER_TIMEOUT``

The others keep their kind's class: ``AIOS_E_KEY_USAGE`` and
``AIOS_E_KEYRING_CORRUPT`` are :class:`aios.InvalidInputError`,
``AIOS_E_PKCS11`` is :class:`aios.AiosIOError`; ``exc.status`` tells them
apart.
"""

from __future__ import annotations

import ctypes
import datetime
import enum
import hashlib
import itertools
import json
import os
import secrets
import threading
import time
import weakref
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Tuple,
    Type,
    TypeVar,
    Union,
)

from . import _ffi
from ._ffi import lib
from ._handle import _Handle
from .core import Buffer, BytesLike
from .errors import (
    AiosError,
    AuthenticationError,
    CallbackError,
    CancelledError,
    LimitExceededError,
    NotFoundError,
    StateError,
    Status,
    register_status_class,
)

__all__ = [
    "KeyType",
    "KeyState",
    "KeyUse",
    "KeyringUnlock",
    "ProviderCaps",
    "KeyInfo",
    "Key",
    "Keyring",
    "Provider",
    "DataKeyCache",
    "CacheEntry",
    "KEY_DATA_KEY_MAX",
    "KEY_WRAPPED_MAX",
    "KEY_MAC_LEN",
    "KeyNotFoundError",
    "KeyExistsError",
    "KeyDestroyedError",
    "KeyDisabledError",
    "KeyDecryptOnlyError",
    "KeyNotExportableError",
    "KeyUsageLimitError",
    "KeyringPassphraseError",
    "KeyringTamperedError",
    "KeyringLockedError",
    "Pkcs11PinError",
    "ProviderTimeoutError",
]

#: Largest data key :meth:`Key.wrap` accepts (``AIOS_KEY_DATA_KEY_MAX``).
KEY_DATA_KEY_MAX = 64
#: Largest wrapped data key (``AIOS_KEY_WRAPPED_MAX``).
KEY_WRAPPED_MAX = 1024
#: Length of :meth:`Key.mac` (``AIOS_KEY_MAC_LEN``).
KEY_MAC_LEN = 32

_KEYRING_READ_ONLY = 0x1  # AIOS_KEYRING_READ_ONLY
_KEYRING_IMPORT_PENDING = 0x1  # AIOS_KEYRING_IMPORT_PENDING
_OPTIONS_VERSION = 1  # every *_OPTIONS_VERSION and AIOS_KEY_SPEC_VERSION this binding fills
_U32_MAX = (1 << 32) - 1
_U64_MAX = (1 << 64) - 1

# =====================================================================
# Exceptions
# =====================================================================


class KeyNotFoundError(NotFoundError):
    """No key with that id (``AIOS_E_KEY_NOT_FOUND``) or no such version of it
    (``AIOS_E_KEY_VERSION_NOT_FOUND``; ``exc.status`` tells which)."""

    default_status = Status.E_KEY_NOT_FOUND


class KeyExistsError(StateError):
    """A key with that id, or a keyring file at that path, exists (``AIOS_E_KEY_EXISTS``)."""

    default_status = Status.E_KEY_EXISTS


class KeyDestroyedError(StateError):
    """The key version was destroyed; its material is gone for good (``AIOS_E_KEY_DESTROYED``)."""

    default_status = Status.E_KEY_DESTROYED


class KeyDisabledError(StateError):
    """The key version is disabled, or below the minimum decrypt version (``AIOS_E_KEY_DISABLED``)."""

    default_status = Status.E_KEY_DISABLED


class KeyDecryptOnlyError(StateError):
    """The version may only unwrap or verify: an older version
    (``AIOS_E_KEY_DECRYPT_ONLY``) or one past its not-after time
    (``AIOS_E_KEY_EXPIRED``).  Use the primary version (rotate if needed)."""

    default_status = Status.E_KEY_DECRYPT_ONLY


class KeyNotExportableError(StateError):
    """The key may not leave its provider (``AIOS_E_KEY_NOT_EXPORTABLE``)."""

    default_status = Status.E_KEY_NOT_EXPORTABLE


class KeyUsageLimitError(LimitExceededError):
    """The version has used up its operations (``max_uses``; ``AIOS_E_KEY_USAGE_LIMIT``)."""

    default_status = Status.E_KEY_USAGE_LIMIT


class KeyringPassphraseError(AuthenticationError):
    """Wrong keyring passphrase or master key (``AIOS_E_KEYRING_PASSPHRASE``)."""

    default_status = Status.E_KEYRING_PASSPHRASE


class KeyringTamperedError(AuthenticationError):
    """The keyring file was changed outside libaios (``AIOS_E_KEYRING_TAMPERED``)."""

    default_status = Status.E_KEYRING_TAMPERED


class KeyringLockedError(StateError):
    """Another writer holds the keyring (``AIOS_E_KEYRING_LOCKED``).

    Open it ``read_only=True``, or wait with ``lock_timeout_ms``.
    """

    default_status = Status.E_KEYRING_LOCKED


class Pkcs11PinError(AuthenticationError):
    """The PKCS#11 token refused the PIN (``AIOS_E_PKCS11_PIN``)."""

    default_status = Status.E_PKCS11_PIN


class ProviderTimeoutError(CallbackError, TimeoutError):
    """A provider did not answer within its timeout (``AIOS_E_PROVIDER_TIMEOUT``).

    Also a builtin :class:`TimeoutError`.  For a callback provider the host
    call goes on in the background and its late result is discarded.
    """

    default_status = Status.E_PROVIDER_TIMEOUT


for _status, _cls in (
    (Status.E_KEY_NOT_FOUND, KeyNotFoundError),
    (Status.E_KEY_VERSION_NOT_FOUND, KeyNotFoundError),
    (Status.E_KEY_EXISTS, KeyExistsError),
    (Status.E_KEY_DESTROYED, KeyDestroyedError),
    (Status.E_KEY_DISABLED, KeyDisabledError),
    (Status.E_KEY_DECRYPT_ONLY, KeyDecryptOnlyError),
    (Status.E_KEY_EXPIRED, KeyDecryptOnlyError),
    (Status.E_KEY_NOT_EXPORTABLE, KeyNotExportableError),
    (Status.E_KEY_USAGE_LIMIT, KeyUsageLimitError),
    (Status.E_KEYRING_PASSPHRASE, KeyringPassphraseError),
    (Status.E_KEYRING_TAMPERED, KeyringTamperedError),
    (Status.E_KEYRING_LOCKED, KeyringLockedError),
    (Status.E_PKCS11_PIN, Pkcs11PinError),
    (Status.E_PROVIDER_TIMEOUT, ProviderTimeoutError),
):
    register_status_class(_status, _cls)
del _status, _cls

# =====================================================================
# Enums
# =====================================================================

E = TypeVar("E", bound=enum.IntEnum)


def _parse_enum(cls: Type[E], value: Any, what: str, tokens: Callable[[E], Optional[str]]) -> E:
    """``value`` as a member of ``cls``: a member, an int, a name or a libaios token."""
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        text = value.strip()
        for member in cls:
            if text.upper().replace("-", "_") == member.name or text == tokens(member):
                return member
        raise _ffi.error_for_status(
            Status.E_INVALID_ARGUMENT,
            f"unknown {what} {value!r}: use one of {', '.join(str(tokens(m)) for m in cls)}",
        )
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{what} must be a {cls.__name__}, an int or a str, not {type(value).__name__}")
    try:
        return cls(value.__index__())
    except ValueError:
        raise _ffi.error_for_status(Status.E_INVALID_ARGUMENT, f"unknown {what} {value!r}") from None


class KeyType(enum.IntEnum):
    """``aios_key_type``."""

    AES256 = 1  #: 256-bit symmetric: wraps data keys
    HMAC_SHA256 = 2  #: HMAC-SHA-256: MAC, pseudonymisation
    BLAKE2B = 3  #: keyed BLAKE2b-256: MAC, pseudonymisation
    ED25519 = 4  #: Ed25519 signing key (or public key)
    ECDSA_P256 = 5  #: ECDSA P-256 with SHA-256, DER signatures
    ECDSA_P384 = 6  #: ECDSA P-384 with SHA-384, DER signatures
    X25519 = 7  #: X25519 recipient key (or public key)
    RSA = 8  #: RSA key in a PKCS#11 token: wraps data keys with RSA-OAEP
    #: ECDSA P-521 with SHA-512, DER signatures: signs and verifies as P-256/P-384
    #: (not yet from a PKCS#11 token or a callback provider)
    ECDSA_P521 = 9

    @property
    def token(self) -> str:
        """The stable token (``aios_key_type_name()``): ``"aes256"``, ``"ecdsa-p256"``, ..."""
        return str(lib.aios_key_type_name(int(self)))

    @classmethod
    def parse(cls, value: Union["KeyType", int, str]) -> "KeyType":
        """A member from itself, its number, its name (``"ECDSA_P256"``) or its token (``"ecdsa-p256"``)."""
        return _parse_enum(cls, value, "key type", lambda m: lib.aios_key_type_name(int(m)))


class KeyState(enum.IntEnum):
    """``aios_key_state``."""

    ACTIVE = 1  #: every operation its purposes allow
    DECRYPT_ONLY = 2  #: unwrap, verify, agree only (an older version)
    DISABLED = 3  #: nothing, until enabled again
    DESTROYED = 4  #: material wiped for good
    PENDING = 5  #: added by two-phase rotation; decrypt-only until promoted

    @property
    def token(self) -> str:
        """The stable token (``aios_key_state_name()``): ``"active"``, ``"decrypt-only"``, ..."""
        return str(lib.aios_key_state_name(int(self)))

    @classmethod
    def parse(cls, value: Union["KeyState", int, str]) -> "KeyState":
        """A member from itself, its number, its name or its token (``"decrypt-only"``)."""
        return _parse_enum(cls, value, "key state", lambda m: lib.aios_key_state_name(int(m)))


class KeyUse(enum.IntFlag):
    """Key purposes, a bit set (``AIOS_KEY_USE_*``); 0 means "natural for the type"."""

    NONE = 0
    WRAP = 0x01  #: wrap and unwrap data keys (AES256)
    SIGN = 0x02  #: sign (Ed25519, ECDSA)
    VERIFY = 0x04  #: verify (Ed25519, ECDSA, public-only keys)
    MAC = 0x08  #: MAC and pseudonymise (HMAC, BLAKE2b)
    DERIVE = 0x10  #: key agreement (X25519)


class KeyringUnlock(enum.IntEnum):
    """``aios_keyring_unlock``: how a keyring's master key is had."""

    PASSPHRASE = 1  #: Argon2id over a passphrase
    RAW_KEY = 2  #: a 32-byte master key from the host
    PKCS11 = 3  #: an AES key in a PKCS#11 token wraps the master key


class ProviderCaps(enum.IntFlag):
    """What a callback provider can do (``AIOS_PROVIDER_CAN_*``)."""

    NONE = 0
    WRAP = 0x01
    UNWRAP = 0x02
    SIGN = 0x04
    PUBLIC_KEY = 0x08


class KeyInfo(NamedTuple):
    """What a callback host's ``describe()`` reports about a key version.

    ``describe()`` may return a KeyInfo, a plain tuple in this order or a
    dict with these keys (only ``version`` and ``type`` are required).
    """

    version: int
    type: Union[KeyType, int, str]
    purposes: int = 0  #: KeyUse bits; 0: natural for the type
    state: Union[KeyState, int, str] = KeyState.ACTIVE
    created_at: int = 0  #: unix seconds (or a datetime); 0: unknown


# =====================================================================
# Argument helpers
# =====================================================================


def _text_arg(value: Any, what: str) -> bytes:
    """A str (UTF-8) or bytes argument as NUL-free bytes for ``const char *``.

    A str that has no UTF-8 form (a lone surrogate, such as
    ``surrogateescape`` makes of an undecodable byte) is invalid input."""
    if isinstance(value, str):
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _ffi.error_for_status(
                Status.E_INVALID_ARGUMENT,
                f"{what} is not valid text: {exc.reason} (U+{ord(exc.object[exc.start]):04X}) "
                f"at index {exc.start}",
            ) from None
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    else:
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if b"\0" in data:
        raise _ffi.error_for_status(Status.E_INVALID_ARGUMENT, f"{what} contains a NUL byte")
    return data


def _path_arg(path: Union[str, bytes, "os.PathLike[Any]"]) -> bytes:
    data = os.fsencode(path)
    if b"\0" in data:
        raise _ffi.error_for_status(Status.E_INVALID_ARGUMENT, "path contains a NUL byte")
    return data


def _uint(value: Any, what: str, limit: int) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    n = int(value.__index__())
    if n < 0 or n > limit:
        raise _ffi.error_for_status(Status.E_INVALID_ARGUMENT, f"{what} must be in 0..{limit}, got {n}")
    return n


def _u32(value: Any, what: str) -> int:
    return _uint(value, what, _U32_MAX)


def _u64(value: Any, what: str) -> int:
    return _uint(value, what, _U64_MAX)


def _unix_seconds(value: Any, what: str) -> int:
    """Unix seconds from an int or a datetime (a naive datetime is local time, as in Python)."""
    if isinstance(value, datetime.datetime):
        return int(value.timestamp())
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{what} must be unix seconds (int) or a datetime, not {type(value).__name__}")
    n = int(value.__index__())
    if not -(1 << 63) <= n < (1 << 63):
        raise _ffi.error_for_status(Status.E_INVALID_ARGUMENT, f"{what} does not fit in int64_t")
    return n


def _address(arg: Any) -> int:
    """The address of what :func:`aios._ffi.bytes_in` prepared (kept alive by the caller)."""
    if isinstance(arg, bytes):
        return int(ctypes.cast(arg, ctypes.c_void_p).value or 0)
    if isinstance(arg, ctypes.Array):
        return ctypes.addressof(arg)
    if isinstance(arg, ctypes.c_void_p):
        return int(arg.value or 0)
    raise TypeError(f"cannot take the address of {type(arg).__name__}")


def _secret_arg(value: Any, what: str) -> Tuple[Any, int, int]:
    """``(keepalive, address, length)`` for a passphrase or master key.

    bytes, bytearray, writable memoryviews and :class:`aios.Buffer` are
    passed without a copy; a str is encoded (an immutable copy).
    """
    if isinstance(value, str):
        value = value.encode("utf-8")
    try:
        arg, n = _ffi.bytes_in(value)
    except TypeError as exc:
        raise TypeError(f"{what}: {exc}") from None
    return arg, _address(arg), n


class _CSecret:
    """A NUL-terminated copy of a PIN in ctypes memory, wiped by :meth:`wipe`."""

    def __init__(self, value: Any, what: str) -> None:
        if isinstance(value, str):
            value = value.encode("utf-8")
        arg, n = _ffi.bytes_in(value)
        self.buf = ctypes.create_string_buffer(n + 1)
        ctypes.memmove(self.buf, _address(arg) if n else self.buf, n)
        if b"\0" in self.buf.raw[:n]:
            self.wipe()
            raise _ffi.error_for_status(Status.E_INVALID_ARGUMENT, f"{what} contains a NUL byte")

    @property
    def address(self) -> int:
        return ctypes.addressof(self.buf)

    def wipe(self) -> None:
        ctypes.memset(self.buf, 0, ctypes.sizeof(self.buf))


def _take_buffer(handle: Any) -> Buffer:
    return Buffer._adopt(handle)


def _take_bytes(handle: Any) -> bytes:
    buf = Buffer._adopt(handle)
    try:
        return bytes(buf)
    finally:
        buf.close()


# =====================================================================
# Callback providers: host calls on libaios worker threads
# =====================================================================
#
# libaios runs every host call of a callback provider on a worker thread
# of its own (so it can give up after the provider's timeout), several at
# once, so the per-thread slot of aios._ffi (guard_callback) cannot carry a
# host's exception back to the caller.  Instead:
#
# * Each callback provider gets a _HostState, registered in _HOSTS under
#   an integer token that is the C payload.  The C trampolines below are
#   module-level singletons that find the state by token, so no CFUNCTYPE
#   object is ever freed while C could still call it; the release callback
#   (called once, after the last host call has returned, possibly after
#   Provider.close() when a late call finishes) unregisters the state and
#   drops the host object.
# * A trampoline whose host method raises parks the exception in aios._ffi
#   under a numbered token and records that token in the worker's error
#   message (aios_error_set), returning AIOS_E_CALLBACK (or the status of
#   an aios.AiosError the host raised, AIOS_E_CANCELLED for
#   aios.CancelledError).  libaios copies the worker's message into the
#   error it reports on the calling thread, whose errcheck finds the token,
#   takes the exception back and raises the C error chained from it.  So
#   each caller gets exactly the exception its own call caused, whatever
#   else runs at the same time, whichever module made the C call.
# * An exception whose caller never comes for it (the call timed out: the
#   caller got AIOS_E_PROVIDER_TIMEOUT, and the late result is discarded)
#   is dropped once its deadline plus aios._ffi.WORKER_GRACE_S has passed.
# * An output too large for C's first buffer is answered with
#   AIOS_E_BUFFER_TOO_SMALL and kept (per worker thread and operation,
#   until the deadline); C's retry on the same worker takes it instead of
#   asking the host again (a KMS's wrap is randomised).  Unwrap outputs,
#   which are secret, are never kept: C allows no retry for them (its first
#   buffer already has the 64-byte maximum).

_HOSTS: Dict[int, "_HostState"] = {}
_HOSTS_LOCK = threading.Lock()
_TOKENS = itertools.count(1)

# The most each host output may be (key.h: "Output caps"); a larger answer
# is not kept for a retry that C will not make.
_OUTPUT_MAX = {"wrap": KEY_WRAPPED_MAX, "unwrap": KEY_DATA_KEY_MAX, "sign": 1024, "public_key": 4096}


class _HostState:
    """A callback provider's Python side: its host object and retry outputs."""

    def __init__(self, name: str, host: Any, caps: ProviderCaps) -> None:
        self.name = name
        self.host: Any = host
        self.caps = caps
        self.salt = secrets.token_bytes(16)
        self.lock = threading.Lock()
        # (worker thread, op) -> (expires_ns, key_id, version, input digest, output)
        self.stash: Dict[Tuple[int, str], Tuple[int, str, int, bytes, bytes]] = {}
        self.released = False

    def digest(self, *parts: Any) -> bytes:
        """A keyed digest of a request's inputs (the random key makes it reveal nothing)."""
        h = hashlib.blake2b(key=self.salt, digest_size=16)
        for part in parts:
            h.update(len(memoryview(part).cast("B")).to_bytes(8, "little"))
            h.update(part)
        return h.digest()

    def stash_put(self, op: str, key_id: str, version: int, digest: bytes, deadline_ms: int, output: bytes) -> None:
        now = time.monotonic_ns()
        with self.lock:
            for k in [k for k, v in self.stash.items() if v[0] <= now]:
                del self.stash[k]
            self.stash[(threading.get_ident(), op)] = (now + deadline_ms * 1_000_000, key_id, version, digest, output)

    def stash_take(self, op: str, key_id: str, version: int, digest: bytes) -> Optional[bytes]:
        with self.lock:
            entry = self.stash.pop((threading.get_ident(), op), None)
        if entry is None:
            return None
        expires, kid, ver, dig, output = entry
        if expires <= time.monotonic_ns() or (kid, ver, dig) != (key_id, version, digest):
            return None
        return output


def _host_for_token(payload: Optional[int]) -> Optional[_HostState]:
    with _HOSTS_LOCK:
        return _HOSTS.get(int(payload or 0))


def _host_failed(exc: BaseException, deadline_ms: int) -> int:
    """Park a host's exception for its caller; the status to return to C."""
    if isinstance(exc, CancelledError):
        status = int(Status.E_CANCELLED)
    elif isinstance(exc, AiosError) and int(exc.status) < 0 and int(exc.status) != Status.E_BUFFER_TOO_SMALL:
        status = int(exc.status)  # passed through: the caller gets this status's class
    else:
        status = int(Status.E_CALLBACK)
    try:
        return _ffi.park_worker_exception(exc, status, deadline_ms)
    except BaseException:  # noqa: BLE001 - nothing may unwind through C
        return status


def _bytes_of(addr: Optional[int], n: int) -> bytes:
    return ctypes.string_at(addr, n) if n else b""


def _view_of(addr: Optional[int], n: int) -> Any:
    """A ctypes array over C memory (for digests, no copy)."""
    if not n or not addr:
        return b""
    return (ctypes.c_ubyte * n).from_address(addr)


def _emit(
    result: Any,
    out: Optional[int],
    out_cap: int,
    out_len: Any,
    what: str,
    on_too_small: Optional[Callable[[bytes], None]] = None,
) -> int:
    """Copy a host's output into C's buffer, or ask for a larger one."""
    if isinstance(result, str) or result is None:
        raise TypeError(f"{what} must return a bytes-like object, not {type(result).__name__}")
    if isinstance(result, Buffer):
        with result.view(readonly=True) as view:
            return _emit(view, out, out_cap, out_len, what, on_too_small)
    try:
        src = memoryview(result)
    except TypeError:
        raise TypeError(f"{what} must return a bytes-like object, not {type(result).__name__}") from None
    with src:
        src = src.cast("B") if src.c_contiguous else memoryview(src.tobytes())
        n = src.nbytes
        out_len[0] = n
        if n > out_cap:
            if on_too_small is not None and n <= _OUTPUT_MAX[what]:
                on_too_small(src.tobytes())
            return int(Status.E_BUFFER_TOO_SMALL)
        if n:
            dst = (ctypes.c_ubyte * n).from_address(int(out or 0))
            memoryview(dst).cast("B")[:] = src
    return int(Status.OK)


def _fill_info(info_p: Any, result: Any) -> None:
    """Write describe()'s answer into C's aios_provider_key_info (honouring its size)."""
    if isinstance(result, Mapping):
        ki = KeyInfo(**result)
    elif isinstance(result, (tuple, list)):
        ki = KeyInfo(*result)
    else:
        raise TypeError(f"describe must return a KeyInfo, a tuple or a dict, not {type(result).__name__}")
    try:
        values = {
            "version": _u32(ki.version, "describe: version"),
            "type": int(KeyType.parse(ki.type)),
            "purposes": _u32(ki.purposes, "describe: purposes"),
            "state": int(KeyState.parse(ki.state)),
            "created_at": _unix_seconds(ki.created_at, "describe: created_at"),
        }
    except AiosError as exc:
        # The host's answer is wrong: a host failure (AIOS_E_CALLBACK), not
        # the caller's invalid argument.
        raise ValueError(f"describe returned {result!r}: {exc.message}") from None
    info = info_p.contents
    size = int(info.size)
    for name, value in values.items():
        field = getattr(_ffi.aios_provider_key_info, name)
        if field.offset + field.size <= size:
            setattr(info, name, value)


def _c_describe(payload: Optional[int], key_id: bytes, version: int, info_p: Any, deadline_ms: int) -> int:
    try:
        state = _host_for_token(payload)
        if state is None or state.host is None:
            return int(Status.E_INTERNAL)
        result = state.host.describe(key_id.decode("utf-8", "replace"), version, deadline_ms)
        if result is None:
            return int(Status.E_KEY_NOT_FOUND)
        _fill_info(info_p, result)
        return int(Status.OK)
    except BaseException as exc:  # noqa: BLE001 - nothing may unwind through C
        return _host_failed(exc, deadline_ms)


def _make_wrap_thunk(op: str) -> Callable[..., int]:
    secret_out = op == "unwrap"

    def thunk(
        payload: Optional[int],
        key_id: bytes,
        version: int,
        data: Optional[int],
        data_len: int,
        ad: Optional[int],
        ad_len: int,
        out: Optional[int],
        out_cap: int,
        out_len: Any,
        deadline_ms: int,
    ) -> int:
        try:
            state = _host_for_token(payload)
            if state is None or state.host is None:
                return int(Status.E_INTERNAL)
            kid = key_id.decode("utf-8", "replace")
            if secret_out:
                result = state.host.unwrap(kid, version, _bytes_of(data, data_len), _bytes_of(ad, ad_len), deadline_ms)
                try:
                    return _emit(result, out, out_cap, out_len, op)
                finally:
                    if isinstance(result, bytearray):
                        _ffi.lib.aios_wipe(*_ffi.bytes_out(result))
            digest = state.digest(_view_of(data, data_len), _view_of(ad, ad_len))
            again = state.stash_take(op, kid, version, digest)
            if again is not None:
                return _emit(again, out, out_cap, out_len, op)
            result = state.host.wrap(kid, version, _bytes_of(data, data_len), _bytes_of(ad, ad_len), deadline_ms)
            return _emit(
                result, out, out_cap, out_len, op,
                lambda b: state.stash_put(op, kid, version, digest, deadline_ms, b),
            )
        except BaseException as exc:  # noqa: BLE001
            return _host_failed(exc, deadline_ms)

    return thunk


def _c_sign(
    payload: Optional[int],
    key_id: bytes,
    version: int,
    msg: Optional[int],
    msg_len: int,
    out: Optional[int],
    out_cap: int,
    out_len: Any,
    deadline_ms: int,
) -> int:
    try:
        state = _host_for_token(payload)
        if state is None or state.host is None:
            return int(Status.E_INTERNAL)
        kid = key_id.decode("utf-8", "replace")
        digest = state.digest(_view_of(msg, msg_len))
        again = state.stash_take("sign", kid, version, digest)
        if again is not None:
            return _emit(again, out, out_cap, out_len, "sign")
        result = state.host.sign(kid, version, _bytes_of(msg, msg_len), deadline_ms)
        return _emit(
            result, out, out_cap, out_len, "sign",
            lambda b: state.stash_put("sign", kid, version, digest, deadline_ms, b),
        )
    except BaseException as exc:  # noqa: BLE001
        return _host_failed(exc, deadline_ms)


def _c_public_key(
    payload: Optional[int], key_id: bytes, version: int, out: Optional[int], out_cap: int, out_len: Any, deadline_ms: int
) -> int:
    try:
        state = _host_for_token(payload)
        if state is None or state.host is None:
            return int(Status.E_INTERNAL)
        kid = key_id.decode("utf-8", "replace")
        again = state.stash_take("public_key", kid, version, b"")
        if again is not None:
            return _emit(again, out, out_cap, out_len, "public_key")
        result = state.host.public_key(kid, version, deadline_ms)
        return _emit(
            result, out, out_cap, out_len, "public_key",
            lambda b: state.stash_put("public_key", kid, version, b"", deadline_ms, b),
        )
    except BaseException as exc:  # noqa: BLE001
        return _host_failed(exc, deadline_ms)


def _c_release(payload: Optional[int]) -> None:
    try:
        with _HOSTS_LOCK:
            state = _HOSTS.pop(int(payload or 0), None)
        if state is not None:
            state.released = True
            state.host = None
            with state.lock:
                state.stash.clear()
    except BaseException:  # noqa: BLE001 - nothing may unwind through C
        pass


# The C entry points: created once, never freed (C may call them until the
# last callback provider is released, even after Provider.close()).
_DESCRIBE_FN = _ffi.aios_provider_describe_fn(_c_describe)
_WRAP_FN = _ffi.aios_provider_wrap_fn(_make_wrap_thunk("wrap"))
_UNWRAP_FN = _ffi.aios_provider_unwrap_fn(_make_wrap_thunk("unwrap"))
_SIGN_FN = _ffi.aios_provider_sign_fn(_c_sign)
_PUBLIC_KEY_FN = _ffi.aios_provider_public_key_fn(_c_public_key)
_RELEASE_FN = _ffi.aios_provider_release_fn(_c_release)


# =====================================================================
# Key
# =====================================================================


def _unref_key(handle: Any) -> None:
    lib.aios_key_unref(handle)


class Key(_Handle):
    """A key handle (``aios_key``): one version of a named key in a provider.

    Get one from :meth:`Keyring.add`, :meth:`Keyring.get`,
    :meth:`Provider.get_key` or :meth:`Key.from_public_pem`.  A Key holds
    one reference; :meth:`close` (or a ``with`` block, or the finalizer)
    drops it, and the last reference wipes the material.  ``copy.copy(key)``
    takes another reference (``aios_key_ref``): a second Key that can be
    closed on its own.  Keys stay valid after their keyring is closed.

    Metadata never changes; :attr:`state` is read live (a keyring may
    disable or destroy the version), and every operation checks it.  Keys
    may be used from any number of threads at once; do not :meth:`close`
    one while another thread uses it (:func:`aios.manifest.sign` and
    :func:`aios.manifest.verify_key` excepted: they hold a reference of
    their own).
    """

    __slots__ = ()

    _closed_message = "aios.Key: the key handle is closed"

    def __init__(self) -> None:
        raise TypeError("keys come from aios.Keyring, aios.Provider or aios.Key.from_public_pem()")

    @classmethod
    def _adopt(cls, handle: Any) -> "Key":
        if not handle:
            raise _ffi.error_for_status(Status.E_INTERNAL, "libaios returned a NULL key")
        self = object.__new__(cls)
        self._own(handle, _unref_key)
        return self

    @classmethod
    def from_public_pem(cls, pem: Union[str, bytes], key_id: Optional[str] = None) -> "Key":
        """A public-only key from SubjectPublicKeyInfo PEM (Ed25519, X25519, ECDSA P-256/P-384).

        Provider ``"public"``, version 1, purpose VERIFY (or a recipient to
        agree with, for X25519); its id is ``key_id``, or the SHA-256
        fingerprint of the key in hex when None.
        """
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        arg, n = _ffi.bytes_in(data)
        kid = None if key_id is None else _text_arg(key_id, "key_id")
        out = _ffi.aios_key_p()
        lib.aios_key_from_public_pem(ctypes.byref(out), kid, arg, n)
        return cls._adopt(out)

    # ---- lifetime (closed, _handle(), with: see _Handle)

    def close(self) -> None:
        """Drop this handle's reference (``aios_key_unref``).  Idempotent."""
        super().close()

    def __copy__(self) -> "Key":
        return Key._adopt(lib.aios_key_ref(self._handle()))

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Key":
        return self.__copy__()  # a key is immutable: another reference is a deep copy

    def __reduce__(self) -> Any:
        raise TypeError("aios.Key cannot be pickled (it may hold secret material)")

    # ---- metadata

    @property
    def id(self) -> str:
        """The key id (``aios_key_id``)."""
        return str(lib.aios_key_id(self._handle()))

    @property
    def version(self) -> int:
        """The version this handle names (from 1)."""
        return int(lib.aios_key_version(self._handle()))

    @property
    def type(self) -> KeyType:
        """The :class:`KeyType`."""
        return KeyType(int(lib.aios_key_get_type(self._handle())))

    @property
    def purposes(self) -> KeyUse:
        """What the key may do (:class:`KeyUse` bits)."""
        return KeyUse(int(lib.aios_key_purposes(self._handle())))

    @property
    def state(self) -> KeyState:
        """The version's state *now*: it changes while the handle lives when
        the keyring it came from changes it (or learns of a change by
        :meth:`Keyring.reload`)."""
        return KeyState(int(lib.aios_key_get_state(self._handle())))

    @property
    def provider_name(self) -> str:
        """``"local"``, ``"pkcs11"``, ``"callback:<name>"`` or ``"public"``."""
        return str(lib.aios_key_provider_name(self._handle()))

    @property
    def created_at(self) -> int:
        """Creation time in unix seconds; 0 when the provider does not say."""
        return int(lib.aios_key_created_at(self._handle()))

    @property
    def exportable(self) -> bool:
        """Whether :meth:`export` is allowed."""
        return bool(lib.aios_key_exportable(self._handle()))

    @property
    def attributes(self) -> Dict[str, str]:
        """Every attribute, in name order (a new dict each time)."""
        handle = self._handle()
        result: Dict[str, str] = {}
        for i in range(int(lib.aios_key_attribute_count(handle))):
            name, value = ctypes.c_char_p(), ctypes.c_char_p()
            lib.aios_key_attribute_at(handle, i, ctypes.byref(name), ctypes.byref(value))
            result[(name.value or b"").decode("utf-8")] = (value.value or b"").decode("utf-8")
        return result

    def attribute(self, name: str) -> Optional[str]:
        """One attribute's value, or None."""
        value: Optional[str] = lib.aios_key_attribute(self._handle(), _text_arg(name, "name"))
        return value

    # ---- operations

    def wrap(self, data_key: BytesLike, ad: BytesLike = b"") -> bytes:
        """Wrap a data key (1..64 bytes) under this WRAP key, bound to ``ad``.

        The result is opaque and opens only with the same ``ad`` and this
        key version (:meth:`unwrap`).  ``data_key`` may be a secure
        :class:`aios.Buffer` (passed without a copy).
        """
        handle = self._handle()
        pd, nd = _ffi.bytes_in(data_key)
        pa, na = _ffi.bytes_in(ad)
        out = _ffi.aios_buffer_p()
        lib.aios_key_wrap(handle, ctypes.byref(out), pd, nd, pa, na)
        return _take_bytes(out)

    def unwrap(self, wrapped: BytesLike, ad: BytesLike = b"") -> Buffer:
        """Unwrap into a new *secure* :class:`aios.Buffer` (close it when done).

        Raises :class:`aios.AuthenticationError` when ``wrapped`` or ``ad``
        was changed or another key wrapped it.
        """
        handle = self._handle()
        pw, nw = _ffi.bytes_in(wrapped)
        pa, na = _ffi.bytes_in(ad)
        out = _ffi.aios_buffer_p()
        lib.aios_key_unwrap(handle, ctypes.byref(out), pw, nw, pa, na)
        return _take_buffer(out)

    def sign(self, message: BytesLike) -> bytes:
        """Sign: Ed25519 (64 bytes) or ECDSA (DER; deterministic for local keys)."""
        handle = self._handle()
        pm, nm = _ffi.bytes_in(message)
        out = _ffi.aios_buffer_p()
        lib.aios_key_sign(handle, ctypes.byref(out), pm, nm)
        return _take_bytes(out)

    def verify(self, signature: BytesLike, message: BytesLike) -> bool:
        """Whether ``signature`` is a valid signature of ``message`` by this key.

        False only for ``AIOS_E_AUTH`` (a bad signature); every other
        failure (wrong purpose, disabled key, ...) raises.
        """
        ps, ns = _ffi.bytes_in(signature)
        pm, nm = _ffi.bytes_in(message)
        try:
            lib.aios_key_verify(self._handle(), ps, ns, pm, nm)
        except AuthenticationError as exc:
            if exc.status == Status.E_AUTH:
                return False
            raise
        return True

    def mac(self, message: BytesLike) -> bytes:
        """HMAC-SHA-256 or keyed BLAKE2b-256 of ``message`` (32 bytes): a stable pseudonym."""
        pm, nm = _ffi.bytes_in(message)
        out = (ctypes.c_ubyte * KEY_MAC_LEN)()
        lib.aios_key_mac(self._handle(), out, pm, nm)
        return bytes(out)

    def agree(self, peer_public: BytesLike) -> Buffer:
        """X25519 with a peer's 32-byte public key: a new secure 32-byte :class:`aios.Buffer`."""
        pp, n = _ffi.bytes_in(peer_public)
        out = _ffi.aios_buffer_p()
        lib.aios_key_agree(self._handle(), ctypes.byref(out), pp, n)
        return _take_buffer(out)

    def public_pem(self) -> str:
        """The public key as SubjectPublicKeyInfo PEM text."""
        out = _ffi.aios_buffer_p()
        lib.aios_key_public_pem(self._handle(), ctypes.byref(out))
        return _take_bytes(out).rstrip(b"\0").decode("ascii")

    def public_raw(self) -> bytes:
        """The public key's raw bytes: 32 for Ed25519/X25519, the uncompressed point for ECDSA."""
        out = _ffi.aios_buffer_p()
        lib.aios_key_public_raw(self._handle(), ctypes.byref(out))
        return _take_bytes(out)

    def export(self) -> Buffer:
        """The secret, in a new secure :class:`aios.Buffer`: 32 raw bytes, or PKCS#8 PEM.

        Only for keys created or imported ``exportable`` (else
        :class:`KeyNotExportableError`), never for keys in a token or a host KMS.
        """
        out = _ffi.aios_buffer_p()
        lib.aios_key_export(self._handle(), ctypes.byref(out))
        return _take_buffer(out)

    def __repr__(self) -> str:
        if self.closed:
            return "<aios.Key closed>"
        return (
            f"<aios.Key {self.id!r} v{self.version} {self.type.token} "
            f"provider={self.provider_name} state={self.state.token}>"
        )


# =====================================================================
# Keyring
# =====================================================================


def _free_keyring(handle: Any) -> None:
    lib.aios_keyring_free(handle)


class Keyring(_Handle):
    """A keyring file (``aios_keyring``): named keys with all their versions.

    Create one with :meth:`create`, open one with :meth:`open`; give
    exactly one of ``passphrase`` (Argon2id), ``master_key`` (32 raw
    bytes) or ``pkcs11`` (``dict(module=..., uri=..., pin=...)``).

    Passphrases, master keys and PINs are accepted as ``bytes``,
    ``bytearray``, ``memoryview`` or :class:`aios.Buffer` (and ``str``).
    Python ``str`` and ``bytes`` are immutable: the interpreter may keep
    copies that nothing can wipe.  Prefer a ``bytearray`` (passed without a
    copy) and :func:`aios.wipe` it afterwards, or a secure Buffer.  The
    binding's own copy of a PIN is wiped after the call.

    Every change is written to disk, atomically and durably, before the
    method returns.  The keyring is internally locked (any number of
    threads may use it); a second writer process gets
    :class:`KeyringLockedError`.  :meth:`close` (or ``with``) releases the
    lock and wipes the keys in memory; keys already taken stay valid.
    """

    __slots__ = ("_path",)

    _closed_message = "aios.Keyring: the keyring is closed"
    _path: str

    def __init__(self) -> None:
        raise TypeError("use aios.Keyring.create() or aios.Keyring.open()")

    @classmethod
    def _call(
        cls,
        fn: Any,
        path: Union[str, bytes, "os.PathLike[Any]"],
        passphrase: Any,
        master_key: Any,
        pkcs11: Optional[Mapping[str, Any]],
        argon2_ops: int,
        argon2_mem: int,
        flags: int,
        lock_timeout_ms: int,
    ) -> "Keyring":
        given = [n for n, v in (("passphrase", passphrase), ("master_key", master_key), ("pkcs11", pkcs11)) if v is not None]
        if len(given) != 1:
            raise TypeError(
                "give exactly one of passphrase=, master_key= or pkcs11= "
                f"(got {', '.join(given) if given else 'none'})"
            )
        opts = _ffi.aios_keyring_options()
        lib.aios_keyring_options_init(ctypes.byref(opts), _OPTIONS_VERSION)
        opts.argon2_opslimit = _u64(argon2_ops, "argon2_ops")
        opts.argon2_memlimit = _u64(argon2_mem, "argon2_mem")
        opts.flags = flags
        opts.lock_timeout_ms = _u32(lock_timeout_ms, "lock_timeout_ms")
        keep: List[Any] = []
        pin: Optional[_CSecret] = None
        try:
            if pkcs11 is not None:
                unknown = set(pkcs11) - {"module", "uri", "pin"}
                if unknown or "uri" not in pkcs11:
                    raise TypeError("pkcs11= takes dict(module=..., uri=..., pin=...) (uri is required)")
                opts.unlock = KeyringUnlock.PKCS11
                module = pkcs11.get("module")
                if module is not None:
                    keep.append(_path_arg(module))
                    opts.pkcs11_module = keep[-1]
                keep.append(_text_arg(pkcs11["uri"], "pkcs11 uri"))
                opts.pkcs11_uri = keep[-1]
                if pkcs11.get("pin") is not None:
                    pin = _CSecret(pkcs11["pin"], "pkcs11 pin")
                    opts.pkcs11_pin = pin.address
            else:
                secret = passphrase if passphrase is not None else master_key
                opts.unlock = KeyringUnlock.PASSPHRASE if passphrase is not None else KeyringUnlock.RAW_KEY
                arg, addr, n = _secret_arg(secret, "passphrase" if passphrase is not None else "master_key")
                keep.append(arg)
                opts.secret = addr
                opts.secret_len = n
            out = _ffi.aios_keyring_p()
            fn(ctypes.byref(out), _path_arg(path), ctypes.byref(opts))
        finally:
            if pin is not None:
                pin.wipe()
            opts.secret = None
            opts.secret_len = 0
        self = object.__new__(cls)
        self._path = os.fsdecode(path)
        self._own(out, _free_keyring)
        return self

    @classmethod
    def create(
        cls,
        path: Union[str, bytes, "os.PathLike[Any]"],
        *,
        passphrase: Any = None,
        master_key: Any = None,
        pkcs11: Optional[Mapping[str, Any]] = None,
        argon2_ops: int = 0,
        argon2_mem: int = 0,
        lock_timeout_ms: int = 0,
    ) -> "Keyring":
        """Create a new, empty keyring file (:class:`KeyExistsError` if ``path`` exists).

        ``argon2_ops`` (passes, 0: 3) and ``argon2_mem`` (bytes, 0: 64 MiB)
        set the passphrase's Argon2id cost; they are stored in the file.
        ``lock_timeout_ms``: how long to wait for the writer lock.
        """
        return cls._call(
            lib.aios_keyring_create, path, passphrase, master_key, pkcs11, argon2_ops, argon2_mem, 0, lock_timeout_ms
        )

    @classmethod
    def open(
        cls,
        path: Union[str, bytes, "os.PathLike[Any]"],
        *,
        passphrase: Any = None,
        master_key: Any = None,
        pkcs11: Optional[Mapping[str, Any]] = None,
        read_only: bool = False,
        lock_timeout_ms: int = 0,
    ) -> "Keyring":
        """Open an existing keyring.

        Raises :class:`KeyringPassphraseError` for a wrong passphrase or
        master key, :class:`KeyringTamperedError` for a changed file,
        :class:`aios.InvalidInputError` (``AIOS_E_KEYRING_CORRUPT``) for a
        truncated or malformed one and :class:`KeyringLockedError` when
        another writer holds it (unless ``read_only``: then no lock is
        taken and every change raises :class:`aios.StateError`).
        """
        flags = _KEYRING_READ_ONLY if read_only else 0
        return cls._call(lib.aios_keyring_open, path, passphrase, master_key, pkcs11, 0, 0, flags, lock_timeout_ms)

    # ---- lifetime

    @property
    def path(self) -> str:
        """The file this keyring was created or opened from."""
        return self._path

    def close(self) -> None:
        """Release the writer lock and wipe every key in memory.  Idempotent.

        Keys taken from it stay valid; its :attr:`provider` does not.
        """
        super().close()

    def __reduce__(self) -> Any:
        raise TypeError("aios.Keyring cannot be pickled")

    def __repr__(self) -> str:
        return f"<aios.Keyring {self._path!r}{' closed' if self.closed else ''}>"

    # ---- keys

    @staticmethod
    def _spec(
        exportable: bool,
        attributes: Optional[Mapping[str, str]],
        max_uses: int,
        not_after: Union[int, datetime.datetime],
        purposes: int,
        keep: List[Any],
    ) -> Any:
        spec = _ffi.aios_key_spec()
        lib.aios_key_spec_init(ctypes.byref(spec), _OPTIONS_VERSION)
        spec.purposes = _u32(purposes, "purposes")
        spec.exportable = 1 if exportable else 0
        spec.max_uses = _u64(max_uses, "max_uses")
        spec.not_after = _unix_seconds(not_after, "not_after")
        if attributes:
            pairs = (_ffi.aios_key_attribute_pair * len(attributes))()
            for i, (name, value) in enumerate(attributes.items()):
                n, v = _text_arg(name, "attribute name"), _text_arg(value, "attribute value")
                keep += [n, v]
                pairs[i].name = n
                pairs[i].value = v
            keep.append(pairs)
            spec.attributes = pairs
            spec.attribute_count = len(attributes)
        return spec

    def add(
        self,
        key_id: str,
        type: Union[KeyType, int, str],
        *,
        exportable: bool = False,
        attributes: Optional[Mapping[str, str]] = None,
        max_uses: int = 0,
        not_after: Union[int, datetime.datetime] = 0,
        purposes: int = 0,
    ) -> Key:
        """Generate a new key (version 1, active, primary) and return a handle to it.

        ``purposes`` (:class:`KeyUse` bits, 0: natural for the type),
        ``exportable``, ``attributes`` (name -> value strings, for policy),
        ``max_uses`` (wrap/sign/mac operations per version, 0: no limit)
        and ``not_after`` (unix seconds or datetime after which the version
        only decrypts/verifies, 0: never).  :class:`KeyExistsError` if the
        id is taken.
        """
        keep: List[Any] = []
        spec = self._spec(exportable, attributes, max_uses, not_after, purposes, keep)
        out = _ffi.aios_key_p()
        lib.aios_keyring_add(
            self._handle(), ctypes.byref(out), _text_arg(key_id, "key_id"), int(KeyType.parse(type)),
            ctypes.byref(spec),
        )
        return Key._adopt(out)

    def import_key(
        self,
        key_id: str,
        type: Union[KeyType, int, str],
        material: Union[BytesLike, str],
        *,
        exportable: bool = False,
        attributes: Optional[Mapping[str, str]] = None,
        max_uses: int = 0,
        not_after: Union[int, datetime.datetime] = 0,
        purposes: int = 0,
    ) -> Key:
        """Import existing material as a new key: the raw 32 bytes of a
        symmetric key, or a PKCS#8 PEM private key (a str is accepted for PEM).

        Options as for :meth:`add`.  Pass raw secrets as a bytearray or a
        secure :class:`aios.Buffer` and wipe them afterwards.
        """
        if isinstance(material, str):
            material = material.encode("ascii")
        keep: List[Any] = []
        spec = self._spec(exportable, attributes, max_uses, not_after, purposes, keep)
        pm, nm = _ffi.bytes_in(material)
        out = _ffi.aios_key_p()
        lib.aios_keyring_import(
            self._handle(), ctypes.byref(out), _text_arg(key_id, "key_id"), int(KeyType.parse(type)),
            pm, nm, ctypes.byref(spec),
        )
        return Key._adopt(out)

    def get(self, key_id: str, version: int = 0) -> Key:
        """A handle to a key version; 0 is the primary version.

        :class:`KeyNotFoundError` for an unknown id or version.
        """
        out = _ffi.aios_key_p()
        lib.aios_keyring_get(self._handle(), ctypes.byref(out), _text_arg(key_id, "key_id"), _u32(version, "version"))
        return Key._adopt(out)

    def rotate(self, key_id: str) -> Key:
        """Add a new version and make it primary at once; the previous primary
        becomes decrypt-only.  Returns the new version."""
        out = _ffi.aios_key_p()
        lib.aios_keyring_rotate(self._handle(), ctypes.byref(out), _text_arg(key_id, "key_id"))
        return Key._adopt(out)

    def add_version(self, key_id: str) -> Key:
        """Two-phase rotation, step one: add a PENDING version (decrypt-only
        until :meth:`promote`).  Returns it."""
        out = _ffi.aios_key_p()
        lib.aios_keyring_add_version(self._handle(), ctypes.byref(out), _text_arg(key_id, "key_id"))
        return Key._adopt(out)

    def import_version(self, key_id: str, material: Union[BytesLike, str], pending: bool = False) -> Key:
        """Rotate ``key_id`` to material of your own (bring your own key):
        import it as the key's next version and return that version.

        The material is what :meth:`import_key` takes for the key's type:
        the raw 32 bytes of a symmetric key, or a PKCS#8 PEM private key of
        the same algorithm (a str is accepted for PEM).  By default the new
        version becomes primary at once and the previous primary
        decrypt-only, as with :meth:`rotate`; with ``pending=True`` it is
        added PENDING, as with :meth:`add_version`, for :meth:`promote`
        later.  :class:`InvalidInputError` (``E_FORMAT``) for material of
        the wrong form, :class:`KeyNotFoundError` for an unknown id,
        :class:`KeyExistsError` for material a version of the key already
        holds.  Pass raw secrets as a bytearray or a secure
        :class:`aios.Buffer` and wipe them afterwards.
        """
        if isinstance(material, str):
            material = material.encode("ascii")
        pm, nm = _ffi.bytes_in(material)
        out = _ffi.aios_key_p()
        lib.aios_keyring_import_version(
            self._handle(), ctypes.byref(out), _text_arg(key_id, "key_id"), pm, nm,
            _KEYRING_IMPORT_PENDING if pending else 0,
        )
        return Key._adopt(out)

    def promote(self, key_id: str, version: int) -> None:
        """Two-phase rotation, step two: make ``version`` primary."""
        lib.aios_keyring_promote(self._handle(), _text_arg(key_id, "key_id"), _u32(version, "version"))

    def set_state(self, key_id: str, version: int, state: Union[KeyState, int, str]) -> None:
        """Set one version's state: DISABLED, or back to ACTIVE/DECRYPT_ONLY.

        The primary version cannot be disabled or made decrypt-only (rotate
        first).  Handles already taken see the new state at once.
        """
        lib.aios_keyring_set_state(
            self._handle(), _text_arg(key_id, "key_id"), _u32(version, "version"), int(KeyState.parse(state))
        )

    def disable(self, key_id: str, version: int) -> None:
        """``set_state(key_id, version, KeyState.DISABLED)``."""
        self.set_state(key_id, version, KeyState.DISABLED)

    def enable(self, key_id: str, version: int, state: Union[KeyState, int, str] = KeyState.DECRYPT_ONLY) -> None:
        """Re-enable a disabled version, as DECRYPT_ONLY (what an older
        version is) unless ``state`` says ACTIVE."""
        self.set_state(key_id, version, state)

    def destroy(self, key_id: str, version: int) -> None:
        """Wipe a version's material for good (not the primary's).

        Its metadata stays, so data under it reports
        :class:`KeyDestroyedError` rather than looking corrupt.
        """
        lib.aios_keyring_destroy(self._handle(), _text_arg(key_id, "key_id"), _u32(version, "version"))

    def set_min_decrypt_version(self, key_id: str, version: int) -> None:
        """Versions below ``version`` no longer decrypt (:class:`KeyDisabledError`)."""
        lib.aios_keyring_set_min_decrypt_version(
            self._handle(), _text_arg(key_id, "key_id"), _u32(version, "version")
        )

    def list(self) -> Dict[str, Any]:
        """Every key and version with its metadata (no secret), parsed from
        ``aios_keyring_list_json``::

            {"keys": [{"id", "type", "purposes": [...], "primary",
                       "min_decrypt_version", "attributes": {...},
                       "versions": [{"version", "state", "created_at", "uses"}, ...]}, ...]}
        """
        out = _ffi.aios_buffer_p()
        lib.aios_keyring_list_json(self._handle(), ctypes.byref(out))
        result: Dict[str, Any] = json.loads(_take_bytes(out).rstrip(b"\0").decode("utf-8"))
        return result

    def reload(self) -> None:
        """Read the file again (another process may have changed it).

        Handles already taken keep their material but see state changes.
        """
        lib.aios_keyring_reload(self._handle())

    @property
    def provider(self) -> "Provider":
        """The keyring as a provider (``"local"``), borrowed: it keeps this
        Keyring object alive and is usable until the keyring is closed."""
        return Provider._borrow(lib.aios_keyring_provider(self._handle()), self)


# =====================================================================
# Provider
# =====================================================================


def _unref_provider(handle: Any) -> None:
    lib.aios_provider_unref(handle)


class Provider(_Handle):
    """A key provider (``aios_provider``): where keys live and operations run.

    * :attr:`Keyring.provider`: a keyring's ``"local"`` provider (borrowed).
    * :meth:`pkcs11`: a PKCS#11 token (an HSM, SoftHSM2).
    * :meth:`callback`: Python code, e.g. a cloud KMS client.

    :meth:`get_key` returns :class:`Key` handles.  An owned provider holds
    one reference: :meth:`close` (or ``with``, or the finalizer) drops it;
    keys taken from it keep the C provider alive.  ``copy.copy()`` takes
    another reference.  Providers may be used from any number of threads.
    """

    __slots__ = ("_host", "_owner")

    _closed_message = "aios.Provider: the provider is closed"
    _host: Optional[_HostState]
    _owner: Optional[Keyring]

    def __init__(self) -> None:
        raise TypeError("use aios.Provider.pkcs11(), aios.Provider.callback() or aios.Keyring.provider")

    @classmethod
    def _adopt(cls, handle: Any, host: Optional[_HostState] = None) -> "Provider":
        if not handle:
            raise _ffi.error_for_status(Status.E_INTERNAL, "libaios returned a NULL provider")
        self = object.__new__(cls)
        self._host = host
        self._owner = None
        self._own(handle, _unref_provider)
        return self

    @classmethod
    def _borrow(cls, handle: Any, owner: Keyring) -> "Provider":
        self = object.__new__(cls)
        self._handle_ = handle
        self._host = None
        self._owner = owner
        self._finalizer = None  # not owned: close() does nothing
        return self

    # ---- constructors

    @classmethod
    def pkcs11(cls, module_path: Optional[str], uri: str, pin: Any = None) -> "Provider":
        """Load a PKCS#11 module and log in to the token that the RFC 7512
        ``uri`` names (``token=``, ``serial=``, ``slot-id=``, ...).

        ``module_path`` may be None when the URI has ``module-path``.  ``pin``
        (str, bytes, bytearray, Buffer) may be None when the URI has
        ``pin-source`` or ``pin-value``; the binding wipes its own copy
        after the call.  Keys are found by label (the key id), version 1.
        Raises :class:`Pkcs11PinError` for a refused PIN and
        :class:`aios.AiosIOError` (``AIOS_E_PKCS11``) when the module or
        token fails.
        """
        opts = _ffi.aios_pkcs11_options()
        lib.aios_pkcs11_options_init(ctypes.byref(opts), _OPTIONS_VERSION)
        secret = _CSecret(pin, "pin") if pin is not None else None
        try:
            if secret is not None:
                opts.pin = secret.address
            out = _ffi.aios_provider_p()
            lib.aios_provider_pkcs11(
                ctypes.byref(out),
                None if module_path is None else _path_arg(module_path),
                _text_arg(uri, "uri"),
                ctypes.byref(opts),
            )
        finally:
            if secret is not None:
                secret.wipe()
        return cls._adopt(out)

    @classmethod
    def callback(cls, name: str, host: Any, timeout_ms: int = 0) -> "Provider":
        """A provider ``"callback:<name>"`` whose keys live in Python code.

        ``name``: 1..48 bytes of ``[a-z0-9_.-]``.  ``timeout_ms``: how long
        each host call may take (0: 30 s); past it the operation raises
        :class:`ProviderTimeoutError` while the host call goes on and its
        late result is discarded.

        ``host`` is any object with these methods (``deadline_ms`` is the
        time left before libaios gives up):

        * ``describe(key_id, version, deadline_ms)`` (required): a
          :class:`KeyInfo`, a tuple ``(version, type, purposes, state,
          created_at)`` or a dict with those keys, for ``version`` (0: the
          current one); return None for an unknown key
          (:class:`KeyNotFoundError`).
        * ``wrap(key_id, version, data_key, ad, deadline_ms) -> bytes``
        * ``unwrap(key_id, version, wrapped, ad, deadline_ms) -> bytes``
        * ``sign(key_id, version, message, deadline_ms) -> bytes``
        * ``public_key(key_id, version, deadline_ms) -> bytes``
          (SubjectPublicKeyInfo DER; then libaios verifies locally and
          checks every signature the host returns)

        The capabilities (:attr:`capabilities`) are the optional methods
        the host has.  A key's state is what ``describe`` said when the
        handle was made: get the key again to see a change.  Keys from a
        callback provider are never exportable, and MAC or key agreement
        raise ``AIOS_E_KEY_USAGE`` (no secret is here).  Inputs arrive as ``bytes``, outputs may be any
        bytes-like object; an ``unwrap`` result that is a ``bytearray`` is
        wiped once copied into libaios' secure memory (``data_key`` in
        ``wrap`` is a ``bytes`` copy: a Python host cannot avoid that).

        Methods run on libaios worker threads, several at once: they must
        be thread-safe.  An exception a method raises becomes
        ``AIOS_E_CALLBACK`` and the operation that caused the call raises
        :class:`aios.CallbackError` chained from it (``host_exception`` is
        the original); raising an :class:`aios.AiosError` instead passes
        its status (e.g. :class:`KeyNotFoundError`, or
        :class:`aios.AuthenticationError` from ``unwrap``) and raising
        :class:`aios.CancelledError` gives ``AIOS_E_CANCELLED``.  The
        exception reaches exactly the call that caused it, whatever runs
        at the same time: the binding parks it under a token that libaios
        carries from the worker to the calling thread in the error
        message (``aios_error_set``; the comment above ``_HostState`` in
        this module's source has the details).  libaios' own record names
        the exception's type only, never its text.  At interpreter exit,
        host calls still running are abandoned.
        """
        describe = getattr(host, "describe", None)
        if not callable(describe):
            raise TypeError("Provider.callback: the host needs a describe(key_id, version, deadline_ms) method")
        caps = ProviderCaps.NONE
        for bit, method in (
            (ProviderCaps.WRAP, "wrap"),
            (ProviderCaps.UNWRAP, "unwrap"),
            (ProviderCaps.SIGN, "sign"),
            (ProviderCaps.PUBLIC_KEY, "public_key"),
        ):
            if callable(getattr(host, method, None)):
                caps |= bit
        name_b = _text_arg(name, "name")
        timeout = _u32(timeout_ms, "timeout_ms")
        state = _HostState("callback:" + name_b.decode("utf-8", "replace"), host, caps)
        ops = _ffi.aios_provider_ops()
        ops.size = ctypes.sizeof(_ffi.aios_provider_ops)
        ops.capabilities = int(caps)
        ops.describe = _DESCRIBE_FN
        if caps & ProviderCaps.WRAP:
            ops.wrap = _WRAP_FN
        if caps & ProviderCaps.UNWRAP:
            ops.unwrap = _UNWRAP_FN
        if caps & ProviderCaps.SIGN:
            ops.sign = _SIGN_FN
        if caps & ProviderCaps.PUBLIC_KEY:
            ops.public_key = _PUBLIC_KEY_FN
        ops.release = _RELEASE_FN
        opts = _ffi.aios_provider_options()
        lib.aios_provider_options_init(ctypes.byref(opts), _OPTIONS_VERSION)
        opts.timeout_ms = timeout
        token = next(_TOKENS)
        with _HOSTS_LOCK:
            _HOSTS[token] = state
        out = _ffi.aios_provider_p()
        try:
            lib.aios_provider_callback(
                ctypes.byref(out), name_b, ctypes.byref(ops), ctypes.c_void_p(token), ctypes.byref(opts)
            )
        except BaseException:
            # Not libaios' yet: release will not be called.
            with _HOSTS_LOCK:
                _HOSTS.pop(token, None)
            raise
        return cls._adopt(out, state)

    # ---- lifetime

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran (for a keyring's provider: whether the keyring is closed)."""
        if self._owner is not None:
            return self._owner.closed
        return super().closed

    def _handle(self) -> Any:
        if self._owner is not None:
            if self._owner.closed:
                raise _ffi.error_for_status(Status.E_STATE, "aios.Provider: its keyring is closed")
            return self._handle_
        return super()._handle()

    def close(self) -> None:
        """Drop this reference (``aios_provider_unref``).  Idempotent.

        A keyring's provider is borrowed: closing it does nothing (close
        the keyring).  A callback provider's host is released once the
        last key taken from it is closed and no host call is running.
        """
        super().close()

    def __copy__(self) -> "Provider":
        if self._owner is not None:
            return Provider._borrow(self._handle(), self._owner)
        return Provider._adopt(lib.aios_provider_ref(self._handle()), self._host)

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Provider":
        return self.__copy__()

    def __reduce__(self) -> Any:
        raise TypeError("aios.Provider cannot be pickled")

    # ---- properties and keys

    @property
    def name(self) -> str:
        """``"local"``, ``"pkcs11"`` or ``"callback:<name>"``."""
        return str(lib.aios_provider_name(self._handle()))

    @property
    def capabilities(self) -> Optional[ProviderCaps]:
        """A callback provider's capabilities (from its host's methods); None for others."""
        return self._host.caps if self._host is not None else None

    @property
    def host(self) -> Any:
        """A callback provider's host object (None for others, or once released)."""
        return self._host.host if self._host is not None else None

    def get_key(self, key_id: str, version: int = 0) -> Key:
        """A handle to one of the provider's keys; version 0 is its current version."""
        handle = self._handle()
        kid = _text_arg(key_id, "key_id")
        ver = _u32(version, "version")
        out = _ffi.aios_key_p()
        lib.aios_provider_get_key(handle, ctypes.byref(out), kid, ver)
        return Key._adopt(out)

    def __repr__(self) -> str:
        if self.closed:
            return "<aios.Provider closed>"
        return f"<aios.Provider {self.name}{' (borrowed)' if self._owner is not None else ''}>"


# =====================================================================
# Data-key cache
# =====================================================================


def _free_cache(handle: Any) -> None:
    lib.aios_dkcache_free(handle)


def _release_entry(handle: Any) -> None:
    lib.aios_dkcache_entry_release(handle)


class CacheEntry(_Handle):
    """A data-key cache hit (``aios_dkcache_entry``), the caller's until released.

    :attr:`data_key` is a read-only ``memoryview`` of the cache's secure
    memory (no copy): valid until :meth:`release`, which raises
    ``BufferError`` while such a view is alive (use ``with
    entry.data_key as dk:`` or ``dk.release()``).  ``bytes(entry.data_key)``
    makes a copy on the Python heap that nothing wipes.  :attr:`wrapped`
    is a ``bytes`` copy (not secret).  Entries stay valid after their cache
    is closed.
    """

    __slots__ = ("_exports",)

    _closed_message = "aios.CacheEntry: the entry was released"
    _exports: List["weakref.ReferenceType[Any]"]

    def __init__(self) -> None:
        raise TypeError("entries come from aios.DataKeyCache.get()")

    @classmethod
    def _adopt(cls, handle: Any) -> "CacheEntry":
        self = object.__new__(cls)
        self._exports = []
        self._own(handle, _release_entry)
        return self

    @property
    def released(self) -> bool:
        return self.closed

    @property
    def data_key(self) -> memoryview:
        """The data key: a read-only view of secure memory (see the class doc)."""
        n = ctypes.c_size_t()
        addr = lib.aios_dkcache_entry_data_key(self._handle(), ctypes.byref(n))
        array = (ctypes.c_ubyte * n.value).from_address(addr) if n.value else (ctypes.c_ubyte * 0)()
        array._aios_owner = self  # type: ignore[attr-defined]
        self._exports.append(weakref.ref(array))
        return memoryview(array).cast("B").toreadonly()

    @property
    def wrapped(self) -> bytes:
        """What the data key was wrapped into (``b""`` if it was not stored)."""
        n = ctypes.c_size_t()
        addr = lib.aios_dkcache_entry_wrapped(self._handle(), ctypes.byref(n))
        return _bytes_of(addr, n.value)

    def _check_close(self) -> None:
        self._exports = [ref for ref in self._exports if ref() is not None]
        if self._exports:
            raise BufferError("aios.CacheEntry.release: views from data_key are still alive; release them first")

    def release(self) -> None:
        """Give the entry back to the cache.  Idempotent.

        Raises ``BufferError`` (and keeps the entry) while a view from
        :attr:`data_key` is alive.
        """
        super().close()

    close = release

    def __reduce__(self) -> Any:
        raise TypeError("aios.CacheEntry cannot be pickled (it holds a data key)")

    def __repr__(self) -> str:
        return f"<aios.CacheEntry{' released' if self.released else ''}>"


class DataKeyCache(_Handle):
    """A data-key cache (``aios_dkcache``): unwrapped or freshly generated
    data keys, so a host does not call its KMS for every record.

    Entries are keyed by (key handle's key version, ``context``, ``suite``),
    held in secure memory, evicted least recently used and expired by age
    (``max_age_ms``, 0: 5 minutes), messages (``max_messages``, 0: 2**32)
    and bytes (``max_bytes``, 0: 2**40); ``capacity`` 0 means 1024 entries.
    Internally locked: any number of threads may use one cache.
    """

    __slots__ = ()

    _closed_message = "aios.DataKeyCache: the cache is closed"

    def __init__(self, capacity: int = 0, max_age_ms: int = 0, max_messages: int = 0, max_bytes: int = 0) -> None:
        opts = _ffi.aios_dkcache_options()
        lib.aios_dkcache_options_init(ctypes.byref(opts), _OPTIONS_VERSION)
        opts.capacity = _u32(capacity, "capacity")
        opts.max_age_ms = _u64(max_age_ms, "max_age_ms")
        opts.max_messages = _u64(max_messages, "max_messages")
        opts.max_bytes = _u64(max_bytes, "max_bytes")
        out = _ffi.aios_dkcache_p()
        lib.aios_dkcache_new(ctypes.byref(out), ctypes.byref(opts))
        self._own(out, _free_cache)

    def close(self) -> None:
        """Wipe every entry and free the cache.  Idempotent.  Entries still held stay valid."""
        super().close()

    def __reduce__(self) -> Any:
        raise TypeError("aios.DataKeyCache cannot be pickled")

    def put(self, key: Key, context: BytesLike, suite: int, data_key: BytesLike, wrapped: BytesLike = b"") -> None:
        """Store ``data_key`` (and, optionally, what it was wrapped into) for
        (``key``, ``context``, ``suite``), replacing an older entry."""
        pc, nc = _ffi.bytes_in(context)
        pd, nd = _ffi.bytes_in(data_key)
        pw, nw = _ffi.bytes_in(wrapped)
        lib.aios_dkcache_put(self._handle(), key._handle(), pc, nc, _u32(suite, "suite"), pd, nd, pw, nw)

    def get(self, key: Key, context: BytesLike, suite: int, nbytes: int = 0) -> Optional[CacheEntry]:
        """Look up (``key``, ``context``, ``suite``), counting one message of
        ``nbytes`` bytes against the entry's limits.

        None on a miss or when the entry has expired (it is then evicted).
        Release the :class:`CacheEntry` when done (``with``).
        """
        pc, nc = _ffi.bytes_in(context)
        out = _ffi.aios_dkcache_entry_p()
        try:
            lib.aios_dkcache_get(
                self._handle(), ctypes.byref(out), key._handle(), pc, nc, _u32(suite, "suite"), _u64(nbytes, "nbytes")
            )
        except NotFoundError as exc:
            if exc.status == Status.E_NOT_FOUND:
                return None
            raise
        return CacheEntry._adopt(out)

    def evict_key(self, key: Key) -> None:
        """Drop every entry of ``key`` (all contexts), e.g. after it was disabled."""
        lib.aios_dkcache_evict_key(self._handle(), key._handle())

    def stats(self) -> Dict[str, int]:
        """``{"hits", "misses", "evictions" (by capacity), "expirations"
        (by age, messages or bytes), "entries" (now)}``."""
        st = _ffi.aios_dkcache_stats()
        st.size = ctypes.sizeof(_ffi.aios_dkcache_stats)
        lib.aios_dkcache_get_stats(self._handle(), ctypes.byref(st))
        return {name: int(getattr(st, name)) for name in ("hits", "misses", "evictions", "expirations", "entries")}

    def __repr__(self) -> str:
        if self.closed:
            return "<aios.DataKeyCache closed>"
        return f"<aios.DataKeyCache entries={self.stats()['entries']}>"
