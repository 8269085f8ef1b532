"""Exceptions and status constants of the aios binding.

Every fallible libaios function returns ``AIOS_OK`` (0) or a negative
``aios_status``.  The binding turns a negative status into an exception
whose class follows the status' coarse *kind* (``aios_status_kind()``),
so a status that a newer library adds still lands in the right class:

* :class:`InvalidInputError` (``invalid``), also a :class:`ValueError`
* :class:`AuthenticationError` (``auth``)
* :class:`NotFoundError` (``not_found``), also a :class:`LookupError`
* :class:`PolicyDeniedError` (``denied``), also a :class:`PermissionError`
* :class:`AiosIOError` (``io``), also an :class:`OSError`
* :class:`LimitExceededError` (``limit``)
* :class:`StateError` (``state``)
* :class:`ResourceError` (``resource``), also a :class:`MemoryError`
* :class:`CallbackError` (``callback``), and its subclass
  :class:`CancelledError` for ``AIOS_E_CANCELLED``
* :class:`InternalError` (``internal``)

Some statuses have a class of their own below their kind's class.  The
envelope statuses (-200..-206, ``include/aios/envelope.h``):

* :class:`NoRecipientError` (a NotFoundError): ``AIOS_E_ENVELOPE_NO_RECIPIENT``
* :class:`CommitmentError` (an AuthenticationError): ``AIOS_E_ENVELOPE_COMMITMENT``
* :class:`ContextMismatchError` (an AuthenticationError):
  ``AIOS_E_ENVELOPE_CONTEXT_MISMATCH``
* :class:`TruncatedError` (an AuthenticationError): ``AIOS_E_ENVELOPE_TRUNCATED``
* :class:`TrailingDataError` (an InvalidInputError): ``AIOS_E_ENVELOPE_TRAILING_DATA``
* :class:`UnknownSessionError` (a NotFoundError): ``AIOS_E_ENVELOPE_UNKNOWN_SESSION``
* :class:`EnvelopeModeError` (an InvalidInputError): ``AIOS_E_ENVELOPE_MODE``

The manifest statuses (-300..-315, ``include/aios/manifest.h``; also in
:mod:`aios.manifest`):

* :class:`ManifestMismatchError` (an AuthenticationError):
  ``AIOS_E_MANIFEST_MISMATCH``; ``diff`` holds the :class:`aios.manifest.Diff`
  when the call that raised it produced one
* :class:`ManifestKeyMismatchError`, :class:`ManifestChainError`,
  :class:`ManifestCertUsageError`, :class:`ManifestRootDigestError`
  (AuthenticationErrors)
* :class:`ManifestPredicateError`, :class:`ManifestPathError`,
  :class:`ManifestDuplicateError`, :class:`ManifestSignaturesError`,
  :class:`ManifestSymlinkError`, :class:`ManifestSpecialFileError`,
  :class:`ManifestEmptyError`, :class:`ManifestMethodError`
  (InvalidInputErrors)
* :class:`ManifestNotSignedError` (a NotFoundError),
  :class:`ManifestUnverifiedError` (a StateError),
  :class:`ManifestChangedError` (an AiosIOError)

(the key module's classes live in :mod:`aios.key`).

All of them derive from :class:`AiosError`, which carries ``status``
(int, an :class:`Status` member when known), ``name`` (``"AIOS_E_AUTH"``),
``kind`` (the token) and ``message`` (the per-thread detail message that
libaios recorded for the failing call).

This module itself never calls the shared library: the exceptions keep
everything in plain attributes (and pickle), and later modules register
more specific classes for their codes with :func:`register_status_class`.
"""

from __future__ import annotations

import enum
from typing import Any, Dict, Optional, Tuple, Type

__all__ = [
    "Status",
    "ErrorKind",
    "AiosError",
    "InvalidInputError",
    "AuthenticationError",
    "NotFoundError",
    "PolicyDeniedError",
    "AiosIOError",
    "LimitExceededError",
    "StateError",
    "ResourceError",
    "CallbackError",
    "CancelledError",
    "InternalError",
    "LibraryNotFoundError",
    "LibraryVersionError",
    "NoRecipientError",
    "CommitmentError",
    "ContextMismatchError",
    "TruncatedError",
    "TrailingDataError",
    "UnknownSessionError",
    "EnvelopeModeError",
    "ManifestMismatchError",
    "ManifestKeyMismatchError",
    "ManifestChainError",
    "ManifestCertUsageError",
    "ManifestRootDigestError",
    "ManifestPredicateError",
    "ManifestPathError",
    "ManifestDuplicateError",
    "ManifestSignaturesError",
    "ManifestSymlinkError",
    "ManifestSpecialFileError",
    "ManifestNotSignedError",
    "ManifestUnverifiedError",
    "ManifestChangedError",
    "ManifestEmptyError",
    "ManifestMethodError",
    "error_class",
    "register_status_class",
]


class Status(enum.IntEnum):
    """``aios_status``: the stable status numbers of ``include/aios/*.h``.

    Member names are the C names without the ``AIOS_`` prefix, so
    ``"AIOS_" + Status.E_AUTH.name == "AIOS_E_AUTH"``.  Numbers never change.
    Modules own blocks of one hundred codes (core -1..-99, key -100..-199,
    envelope -200..-299, ...); each module's binding adds its codes here.
    """

    OK = 0
    E_INVALID_ARGUMENT = -1
    E_NOMEM = -2
    E_BUFFER_TOO_SMALL = -3
    E_STATE = -4
    E_UNSUPPORTED = -5
    E_FORMAT = -6
    E_VERSION = -7
    E_AUTH = -8
    E_NOT_FOUND = -9
    E_DENIED = -10
    E_IO = -11
    E_LIMIT = -12
    E_CALLBACK = -13
    E_CANCELLED = -14
    E_INTERNAL = -15
    E_SELFTEST = -16

    # key (include/aios/key.h): -100..-199
    E_KEY_NOT_FOUND = -100
    E_KEY_VERSION_NOT_FOUND = -101
    E_KEY_EXISTS = -102
    E_KEY_DESTROYED = -103
    E_KEY_DISABLED = -104
    E_KEY_DECRYPT_ONLY = -105
    E_KEY_USAGE = -106
    E_KEY_USAGE_LIMIT = -107
    E_KEY_NOT_EXPORTABLE = -108
    E_KEY_EXPIRED = -109
    E_KEYRING_PASSPHRASE = -110
    E_KEYRING_TAMPERED = -111
    E_KEYRING_CORRUPT = -112
    E_KEYRING_LOCKED = -113
    E_PKCS11 = -114
    E_PKCS11_PIN = -115
    E_PROVIDER_TIMEOUT = -116
    E_ENVELOPE_NO_RECIPIENT = -200
    E_ENVELOPE_COMMITMENT = -201
    E_ENVELOPE_CONTEXT_MISMATCH = -202
    E_ENVELOPE_TRUNCATED = -203
    E_ENVELOPE_TRAILING_DATA = -204
    E_ENVELOPE_UNKNOWN_SESSION = -205
    E_ENVELOPE_MODE = -206
    E_MANIFEST_MISMATCH = -300
    E_MANIFEST_KEY_MISMATCH = -301
    E_MANIFEST_CHAIN = -302
    E_MANIFEST_CERT_USAGE = -303
    E_MANIFEST_ROOT_DIGEST = -304
    E_MANIFEST_PREDICATE = -305
    E_MANIFEST_PATH = -306
    E_MANIFEST_DUPLICATE = -307
    E_MANIFEST_SIGNATURES = -308
    E_MANIFEST_SYMLINK = -309
    E_MANIFEST_SPECIAL_FILE = -310
    E_MANIFEST_NOT_SIGNED = -311
    E_MANIFEST_UNVERIFIED = -312
    E_MANIFEST_CHANGED = -313
    E_MANIFEST_EMPTY = -314
    E_MANIFEST_METHOD = -315


class ErrorKind(enum.IntEnum):
    """``aios_error_kind``: the coarse kinds callers branch on.

    ``"AIOS_KIND_" + ErrorKind.AUTH.name == "AIOS_KIND_AUTH"``.
    """

    NONE = 0
    INVALID = 1
    AUTH = 2
    NOT_FOUND = 3
    DENIED = 4
    IO = 5
    LIMIT = 6
    STATE = 7
    RESOURCE = 8
    CALLBACK = 9
    INTERNAL = 10

    @property
    def token(self) -> str:
        """The stable token ``aios_error_kind_name()`` returns ("not_found")."""
        return self.name.lower()


def _status_value(status: int) -> int:
    """``status`` as a :class:`Status` member when it is a known code."""
    try:
        return Status(status)
    except ValueError:
        return int(status)


class AiosError(Exception):
    """Base class of every error libaios reports.

    Attributes:
        status: the negative ``aios_status`` (a :class:`Status` member when
            this binding knows the code, else a plain int).
        name: the C name of the status, e.g. ``"AIOS_E_AUTH"``.
        kind: the kind token, e.g. ``"auth"`` (``aios_error_kind_name()``).
        message: what failed and why, as libaios recorded it for the
            calling thread (``aios_last_error_message()``); never contains
            key bytes, plaintext or PINs.
        host_exception: when a Python callback raised during the C call,
            the exception it raised (also the ``__cause__``); else None.
    """

    #: The kind this class stands for (class attribute).
    kind_id: ErrorKind = ErrorKind.INTERNAL
    #: The status used when the exception is built without one.
    default_status: Status = Status.E_INTERNAL

    status: int
    name: str
    kind: str
    message: str
    host_exception: Optional[BaseException]

    def __init__(
        self,
        message: str = "",
        status: Optional[int] = None,
        name: Optional[str] = None,
        kind: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.status = _status_value(self.default_status if status is None else status)
        if name is None:
            name = "AIOS_" + self.status.name if isinstance(self.status, Status) else "AIOS_E_UNKNOWN"
        self.name = name
        self.kind = self.kind_id.token if kind is None else kind
        self.message = message
        self.host_exception = None

    def __str__(self) -> str:
        if self.message:
            return f"{self.message} [{self.name}]"
        return self.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={int(self.status)}, name={self.name!r})"


class InvalidInputError(AiosError, ValueError):
    """Invalid input: a bad argument, malformed, unknown-version or unsupported data."""

    kind_id = ErrorKind.INVALID
    default_status = Status.E_INVALID_ARGUMENT


class AuthenticationError(AiosError):
    """Authentication or signature verification failed."""

    kind_id = ErrorKind.AUTH
    default_status = Status.E_AUTH


class NotFoundError(AiosError, LookupError):
    """No such key, file, version, ..."""

    kind_id = ErrorKind.NOT_FOUND
    default_status = Status.E_NOT_FOUND


class PolicyDeniedError(AiosError, PermissionError):
    """Denied by policy."""

    kind_id = ErrorKind.DENIED
    default_status = Status.E_DENIED


class AiosIOError(AiosError, OSError):
    """The operating system reported an I/O error (the message says which call and why)."""

    kind_id = ErrorKind.IO
    default_status = Status.E_IO


class LimitExceededError(AiosError):
    """A size, count or usage limit was exceeded."""

    kind_id = ErrorKind.LIMIT
    default_status = Status.E_LIMIT


class StateError(AiosError):
    """Not allowed in the current state (closed buffer, too late to set the allocator, ...)."""

    kind_id = ErrorKind.STATE
    default_status = Status.E_STATE


class ResourceError(AiosError, MemoryError):
    """Out of memory."""

    kind_id = ErrorKind.RESOURCE
    default_status = Status.E_NOMEM


class CallbackError(AiosError):
    """A host callback failed or cancelled the operation.

    When the callback was Python code that raised, ``host_exception`` (and
    ``__cause__``) is that exception.
    """

    kind_id = ErrorKind.CALLBACK
    default_status = Status.E_CALLBACK


class CancelledError(CallbackError):
    """A host callback asked to stop the operation (``AIOS_E_CANCELLED``).

    Also the signal: a Python callback that raises ``aios.CancelledError``
    (e.g. a :func:`aios.selftest` progress callback) stops the C operation
    cleanly, which then raises this error; the signal is its
    ``host_exception``.
    """

    default_status = Status.E_CANCELLED


class InternalError(AiosError):
    """A bug in libaios or a dependency (or a failed self-test); report it."""

    kind_id = ErrorKind.INTERNAL
    default_status = Status.E_INTERNAL


class LibraryNotFoundError(ImportError):
    """libaios.so.1 could not be found or loaded.

    ``tried`` lists ``(place, outcome)`` pairs in search order.
    """

    def __init__(self, message: str, tried: Tuple[Tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.tried = tried


class LibraryVersionError(LibraryNotFoundError):
    """A libaios.so.1 was found but is older than this binding needs."""


# ---- envelope (include/aios/envelope.h): -200..-299


class NoRecipientError(NotFoundError):
    """No recipient record of the message matches a key or provider the
    caller holds (``AIOS_E_ENVELOPE_NO_RECIPIENT``)."""

    default_status = Status.E_ENVELOPE_NO_RECIPIENT


class CommitmentError(AuthenticationError):
    """The unwrapped data key does not match the message's key commitment
    (``AIOS_E_ENVELOPE_COMMITMENT``): the message was made to open
    differently for different recipients."""

    default_status = Status.E_ENVELOPE_COMMITMENT


class ContextMismatchError(AuthenticationError):
    """The message's encryption context is not the one expected
    (``AIOS_E_ENVELOPE_CONTEXT_MISMATCH``; checked before any key is used)."""

    default_status = Status.E_ENVELOPE_CONTEXT_MISMATCH


class TruncatedError(AuthenticationError):
    """The message ended before its final chunk (``AIOS_E_ENVELOPE_TRUNCATED``).

    Plaintext already released by a stream must not be used."""

    default_status = Status.E_ENVELOPE_TRUNCATED


class TrailingDataError(InvalidInputError):
    """Bytes follow the final chunk or the header (``AIOS_E_ENVELOPE_TRAILING_DATA``)."""

    default_status = Status.E_ENVELOPE_TRAILING_DATA


class UnknownSessionError(NotFoundError):
    """A record names a session that is not open here
    (``AIOS_E_ENVELOPE_UNKNOWN_SESSION``); the message names the field
    when a JSON document holds it."""

    default_status = Status.E_ENVELOPE_UNKNOWN_SESSION


class EnvelopeModeError(InvalidInputError):
    """A deterministic record or field under a session not made for them
    (``AIOS_E_ENVELOPE_MODE``)."""

    default_status = Status.E_ENVELOPE_MODE


# ---- manifest (include/aios/manifest.h): -300..-399


class ManifestMismatchError(AuthenticationError):
    """The model's files differ from the signed manifest
    (``AIOS_E_MANIFEST_MISMATCH``): missing, extra or modified files, or
    a file, range or stream whose bytes are not the signed ones.

    ``diff`` is the :class:`aios.manifest.Diff` that says how when the
    raising call produced one (``verify_dir``), else None.
    """

    default_status = Status.E_MANIFEST_MISMATCH
    diff: Optional[Any] = None


class ManifestKeyMismatchError(AuthenticationError):
    """The bundle names another key, or the certificate does not hold the
    signing key (``AIOS_E_MANIFEST_KEY_MISMATCH``)."""

    default_status = Status.E_MANIFEST_KEY_MISMATCH


class ManifestChainError(AuthenticationError):
    """The certificate chain does not verify to a trust anchor at the
    policy's time (``AIOS_E_MANIFEST_CHAIN``)."""

    default_status = Status.E_MANIFEST_CHAIN


class ManifestCertUsageError(AuthenticationError):
    """The leaf certificate allows neither digitalSignature nor code signing
    (``AIOS_E_MANIFEST_CERT_USAGE``)."""

    default_status = Status.E_MANIFEST_CERT_USAGE


class ManifestRootDigestError(AuthenticationError):
    """The subject digest does not match the resource digests
    (``AIOS_E_MANIFEST_ROOT_DIGEST``)."""

    default_status = Status.E_MANIFEST_ROOT_DIGEST


class ManifestPredicateError(InvalidInputError):
    """Not an OMS statement: payload type, predicate type or legacy pairing
    (``AIOS_E_MANIFEST_PREDICATE``)."""

    default_status = Status.E_MANIFEST_PREDICATE


class ManifestPathError(InvalidInputError):
    """A name or ignore path is not a canonical relative UTF-8 path
    (``AIOS_E_MANIFEST_PATH``)."""

    default_status = Status.E_MANIFEST_PATH


class ManifestDuplicateError(InvalidInputError):
    """Two resources have the same name (``AIOS_E_MANIFEST_DUPLICATE``)."""

    default_status = Status.E_MANIFEST_DUPLICATE


class ManifestSignaturesError(InvalidInputError):
    """The envelope does not hold exactly one signature (``AIOS_E_MANIFEST_SIGNATURES``)."""

    default_status = Status.E_MANIFEST_SIGNATURES


class ManifestSymlinkError(InvalidInputError):
    """A symlink where none is allowed, or one that leaves the model,
    dangles or loops (``AIOS_E_MANIFEST_SYMLINK``)."""

    default_status = Status.E_MANIFEST_SYMLINK


class ManifestSpecialFileError(InvalidInputError):
    """A FIFO, socket or device inside the model (``AIOS_E_MANIFEST_SPECIAL_FILE``)."""

    default_status = Status.E_MANIFEST_SPECIAL_FILE


class ManifestNotSignedError(NotFoundError):
    """The file or range is not named by the manifest (``AIOS_E_MANIFEST_NOT_SIGNED``)."""

    default_status = Status.E_MANIFEST_NOT_SIGNED


class ManifestUnverifiedError(StateError):
    """The operation needs a verified manifest; this one was only parsed
    or hashed (``AIOS_E_MANIFEST_UNVERIFIED``)."""

    default_status = Status.E_MANIFEST_UNVERIFIED


class ManifestChangedError(AiosIOError):
    """A file changed or was truncated while it was hashed (``AIOS_E_MANIFEST_CHANGED``)."""

    default_status = Status.E_MANIFEST_CHANGED


class ManifestEmptyError(InvalidInputError):
    """No resources, or nothing to sign (``AIOS_E_MANIFEST_EMPTY``)."""

    default_status = Status.E_MANIFEST_EMPTY


class ManifestMethodError(InvalidInputError):
    """The bundle's verification material is not the method the caller
    trusts (``AIOS_E_MANIFEST_METHOD``): a certificate bundle given to
    ``verify_key``, or the reverse."""

    default_status = Status.E_MANIFEST_METHOD


_CLASS_BY_KIND: Dict[int, Type[AiosError]] = {
    cls.kind_id: cls
    for cls in (
        InvalidInputError,
        AuthenticationError,
        NotFoundError,
        PolicyDeniedError,
        AiosIOError,
        LimitExceededError,
        StateError,
        ResourceError,
        CallbackError,
        InternalError,
    )
}

# Statuses that deserve a more specific class than their kind's (later
# modules register theirs with register_status_class()).
_CLASS_BY_STATUS: Dict[int, Type[AiosError]] = {
    Status.E_CANCELLED: CancelledError,
    Status.E_ENVELOPE_NO_RECIPIENT: NoRecipientError,
    Status.E_ENVELOPE_COMMITMENT: CommitmentError,
    Status.E_ENVELOPE_CONTEXT_MISMATCH: ContextMismatchError,
    Status.E_ENVELOPE_TRUNCATED: TruncatedError,
    Status.E_ENVELOPE_TRAILING_DATA: TrailingDataError,
    Status.E_ENVELOPE_UNKNOWN_SESSION: UnknownSessionError,
    Status.E_ENVELOPE_MODE: EnvelopeModeError,
    Status.E_MANIFEST_MISMATCH: ManifestMismatchError,
    Status.E_MANIFEST_KEY_MISMATCH: ManifestKeyMismatchError,
    Status.E_MANIFEST_CHAIN: ManifestChainError,
    Status.E_MANIFEST_CERT_USAGE: ManifestCertUsageError,
    Status.E_MANIFEST_ROOT_DIGEST: ManifestRootDigestError,
    Status.E_MANIFEST_PREDICATE: ManifestPredicateError,
    Status.E_MANIFEST_PATH: ManifestPathError,
    Status.E_MANIFEST_DUPLICATE: ManifestDuplicateError,
    Status.E_MANIFEST_SIGNATURES: ManifestSignaturesError,
    Status.E_MANIFEST_SYMLINK: ManifestSymlinkError,
    Status.E_MANIFEST_SPECIAL_FILE: ManifestSpecialFileError,
    Status.E_MANIFEST_NOT_SIGNED: ManifestNotSignedError,
    Status.E_MANIFEST_UNVERIFIED: ManifestUnverifiedError,
    Status.E_MANIFEST_CHANGED: ManifestChangedError,
    Status.E_MANIFEST_EMPTY: ManifestEmptyError,
    Status.E_MANIFEST_METHOD: ManifestMethodError,
}


def register_status_class(status: int, cls: Type[AiosError]) -> None:
    """Raise ``cls`` for ``status``; it must derive from the class of the status' kind.

    A class that does not is ignored when the error is built, so the
    kind-based contract (``except aios.NotFoundError``) always holds.
    """
    if not (isinstance(cls, type) and issubclass(cls, AiosError)):
        raise TypeError(f"{cls!r} is not a subclass of AiosError")
    _CLASS_BY_STATUS[int(status)] = cls


def error_class(status: int, kind: int) -> Type[AiosError]:
    """The exception class for ``status`` whose kind (per libaios) is ``kind``."""
    by_kind = _CLASS_BY_KIND.get(int(kind), AiosError)
    cls = _CLASS_BY_STATUS.get(int(status))
    if cls is not None and issubclass(cls, by_kind):
        return cls
    return by_kind
