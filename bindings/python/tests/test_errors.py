"""Status codes, kinds, the exception hierarchy and per-thread error details."""

from __future__ import annotations

import ctypes
import pickle
import re
import threading
from typing import Dict, List, Tuple, Type

import pytest

import aios
from aios import ErrorKind, Status, _ffi

from conftest import header_text, strip_c_comments


def header_enum(enum_name: str, prefix: str) -> Dict[str, int]:
    text = strip_c_comments(header_text("core.h"))
    body = re.search(r"typedef enum %s \{(.*?)\}" % enum_name, text, flags=re.S)
    assert body, enum_name
    members = dict(
        (name, int(value, 0))
        for name, value in re.findall(r"\b(%s\w+)\s*=\s*(-?(?:0x)?[0-9a-fA-F]+)" % prefix, body.group(1))
    )
    return {k: v for k, v in members.items() if "__FORCE32" not in k}


# What the header documents for each code (core.h comments and lib's table).
EXPECTED_KIND: Dict[Status, ErrorKind] = {
    Status.E_INVALID_ARGUMENT: ErrorKind.INVALID,
    Status.E_NOMEM: ErrorKind.RESOURCE,
    Status.E_BUFFER_TOO_SMALL: ErrorKind.INVALID,
    Status.E_STATE: ErrorKind.STATE,
    Status.E_UNSUPPORTED: ErrorKind.INVALID,
    Status.E_FORMAT: ErrorKind.INVALID,
    Status.E_VERSION: ErrorKind.INVALID,
    Status.E_AUTH: ErrorKind.AUTH,
    Status.E_NOT_FOUND: ErrorKind.NOT_FOUND,
    Status.E_DENIED: ErrorKind.DENIED,
    Status.E_IO: ErrorKind.IO,
    Status.E_LIMIT: ErrorKind.LIMIT,
    Status.E_CALLBACK: ErrorKind.CALLBACK,
    Status.E_CANCELLED: ErrorKind.CALLBACK,
    Status.E_INTERNAL: ErrorKind.INTERNAL,
    Status.E_SELFTEST: ErrorKind.INTERNAL,
    # key.h
    Status.E_KEY_NOT_FOUND: ErrorKind.NOT_FOUND,
    Status.E_KEY_VERSION_NOT_FOUND: ErrorKind.NOT_FOUND,
    Status.E_KEY_EXISTS: ErrorKind.STATE,
    Status.E_KEY_DESTROYED: ErrorKind.STATE,
    Status.E_KEY_DISABLED: ErrorKind.STATE,
    Status.E_KEY_DECRYPT_ONLY: ErrorKind.STATE,
    Status.E_KEY_USAGE: ErrorKind.INVALID,
    Status.E_KEY_USAGE_LIMIT: ErrorKind.LIMIT,
    Status.E_KEY_NOT_EXPORTABLE: ErrorKind.STATE,
    Status.E_KEY_EXPIRED: ErrorKind.STATE,
    Status.E_KEYRING_PASSPHRASE: ErrorKind.AUTH,
    Status.E_KEYRING_TAMPERED: ErrorKind.AUTH,
    Status.E_KEYRING_CORRUPT: ErrorKind.INVALID,
    Status.E_KEYRING_LOCKED: ErrorKind.STATE,
    Status.E_PKCS11: ErrorKind.IO,
    Status.E_PKCS11_PIN: ErrorKind.AUTH,
    Status.E_PROVIDER_TIMEOUT: ErrorKind.CALLBACK,
    # envelope.h
    Status.E_ENVELOPE_NO_RECIPIENT: ErrorKind.NOT_FOUND,
    Status.E_ENVELOPE_COMMITMENT: ErrorKind.AUTH,
    Status.E_ENVELOPE_CONTEXT_MISMATCH: ErrorKind.AUTH,
    Status.E_ENVELOPE_TRUNCATED: ErrorKind.AUTH,
    Status.E_ENVELOPE_TRAILING_DATA: ErrorKind.INVALID,
    Status.E_ENVELOPE_UNKNOWN_SESSION: ErrorKind.NOT_FOUND,
    Status.E_ENVELOPE_MODE: ErrorKind.INVALID,
    # manifest.h (docs/ERRORS.md)
    Status.E_MANIFEST_MISMATCH: ErrorKind.AUTH,
    Status.E_MANIFEST_KEY_MISMATCH: ErrorKind.AUTH,
    Status.E_MANIFEST_CHAIN: ErrorKind.AUTH,
    Status.E_MANIFEST_CERT_USAGE: ErrorKind.AUTH,
    Status.E_MANIFEST_ROOT_DIGEST: ErrorKind.AUTH,
    Status.E_MANIFEST_PREDICATE: ErrorKind.INVALID,
    Status.E_MANIFEST_PATH: ErrorKind.INVALID,
    Status.E_MANIFEST_DUPLICATE: ErrorKind.INVALID,
    Status.E_MANIFEST_SIGNATURES: ErrorKind.INVALID,
    Status.E_MANIFEST_SYMLINK: ErrorKind.INVALID,
    Status.E_MANIFEST_SPECIAL_FILE: ErrorKind.INVALID,
    Status.E_MANIFEST_NOT_SIGNED: ErrorKind.NOT_FOUND,
    Status.E_MANIFEST_UNVERIFIED: ErrorKind.STATE,
    Status.E_MANIFEST_CHANGED: ErrorKind.IO,
    Status.E_MANIFEST_EMPTY: ErrorKind.INVALID,
    Status.E_MANIFEST_METHOD: ErrorKind.INVALID,
}

EXPECTED_CLASS: Dict[ErrorKind, Tuple[Type[aios.AiosError], Tuple[type, ...]]] = {
    ErrorKind.INVALID: (aios.InvalidInputError, (ValueError,)),
    ErrorKind.AUTH: (aios.AuthenticationError, ()),
    ErrorKind.NOT_FOUND: (aios.NotFoundError, (LookupError,)),
    ErrorKind.DENIED: (aios.PolicyDeniedError, (PermissionError,)),
    ErrorKind.IO: (aios.AiosIOError, (OSError,)),
    ErrorKind.LIMIT: (aios.LimitExceededError, ()),
    ErrorKind.STATE: (aios.StateError, ()),
    ErrorKind.RESOURCE: (aios.ResourceError, (MemoryError,)),
    ErrorKind.CALLBACK: (aios.CallbackError, ()),
    ErrorKind.INTERNAL: (aios.InternalError, ()),
}

# Statuses with a class of their own, below their kind's class.
EXPECTED_STATUS_CLASS: Dict[Status, Type[aios.AiosError]] = {
    Status.E_CANCELLED: aios.CancelledError,
    # key.h (aios/key.py registers them)
    Status.E_KEY_NOT_FOUND: aios.KeyNotFoundError,
    Status.E_KEY_VERSION_NOT_FOUND: aios.KeyNotFoundError,
    Status.E_KEY_EXISTS: aios.KeyExistsError,
    Status.E_KEY_DESTROYED: aios.KeyDestroyedError,
    Status.E_KEY_DISABLED: aios.KeyDisabledError,
    Status.E_KEY_DECRYPT_ONLY: aios.KeyDecryptOnlyError,
    Status.E_KEY_EXPIRED: aios.KeyDecryptOnlyError,
    Status.E_KEY_NOT_EXPORTABLE: aios.KeyNotExportableError,
    Status.E_KEY_USAGE_LIMIT: aios.KeyUsageLimitError,
    Status.E_KEYRING_PASSPHRASE: aios.KeyringPassphraseError,
    Status.E_KEYRING_TAMPERED: aios.KeyringTamperedError,
    Status.E_KEYRING_LOCKED: aios.KeyringLockedError,
    Status.E_PKCS11_PIN: aios.Pkcs11PinError,
    Status.E_PROVIDER_TIMEOUT: aios.ProviderTimeoutError,
    # envelope.h (aios/errors.py)
    Status.E_ENVELOPE_NO_RECIPIENT: aios.NoRecipientError,
    Status.E_ENVELOPE_COMMITMENT: aios.CommitmentError,
    Status.E_ENVELOPE_CONTEXT_MISMATCH: aios.ContextMismatchError,
    Status.E_ENVELOPE_TRUNCATED: aios.TruncatedError,
    Status.E_ENVELOPE_TRAILING_DATA: aios.TrailingDataError,
    Status.E_ENVELOPE_UNKNOWN_SESSION: aios.UnknownSessionError,
    Status.E_ENVELOPE_MODE: aios.EnvelopeModeError,
    # manifest.h (aios/errors.py)
    Status.E_MANIFEST_MISMATCH: aios.ManifestMismatchError,
    Status.E_MANIFEST_KEY_MISMATCH: aios.ManifestKeyMismatchError,
    Status.E_MANIFEST_CHAIN: aios.ManifestChainError,
    Status.E_MANIFEST_CERT_USAGE: aios.ManifestCertUsageError,
    Status.E_MANIFEST_ROOT_DIGEST: aios.ManifestRootDigestError,
    Status.E_MANIFEST_PREDICATE: aios.ManifestPredicateError,
    Status.E_MANIFEST_PATH: aios.ManifestPathError,
    Status.E_MANIFEST_DUPLICATE: aios.ManifestDuplicateError,
    Status.E_MANIFEST_SIGNATURES: aios.ManifestSignaturesError,
    Status.E_MANIFEST_SYMLINK: aios.ManifestSymlinkError,
    Status.E_MANIFEST_SPECIAL_FILE: aios.ManifestSpecialFileError,
    Status.E_MANIFEST_NOT_SIGNED: aios.ManifestNotSignedError,
    Status.E_MANIFEST_UNVERIFIED: aios.ManifestUnverifiedError,
    Status.E_MANIFEST_CHANGED: aios.ManifestChangedError,
    Status.E_MANIFEST_EMPTY: aios.ManifestEmptyError,
    Status.E_MANIFEST_METHOD: aios.ManifestMethodError,
}

ERROR_STATUSES = [s for s in Status if s != Status.OK]


def test_status_enum_mirrors_header() -> None:
    header = header_enum("aios_status", "AIOS_")
    assert {"AIOS_" + s.name: int(s) for s in Status} == header


def test_error_kind_enum_mirrors_header() -> None:
    header = header_enum("aios_error_kind", "AIOS_KIND_")
    assert {"AIOS_KIND_" + k.name: int(k) for k in ErrorKind} == header


def test_every_status_is_classified_in_this_test() -> None:
    assert set(EXPECTED_KIND) == set(ERROR_STATUSES)


@pytest.mark.parametrize("status", list(Status))
def test_status_name_str_kind(status: Status) -> None:
    assert aios.status_name(status) == "AIOS_" + status.name
    text = aios.status_str(status)
    assert text and text != "unknown status"
    expected = ErrorKind.NONE if status == Status.OK else EXPECTED_KIND[status]
    assert aios.status_kind(status) is expected


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_error_kind_name(kind: ErrorKind) -> None:
    assert aios.error_kind_name(kind) == kind.token


@pytest.mark.parametrize("status", ERROR_STATUSES)
def test_status_maps_to_exception_class(status: Status) -> None:
    kind = EXPECTED_KIND[status]
    kind_cls, builtins = EXPECTED_CLASS[kind]
    cls = EXPECTED_STATUS_CLASS.get(status, kind_cls)
    assert issubclass(cls, kind_cls)
    exc = aios.error_for_status(status)
    assert type(exc) is cls
    assert isinstance(exc, aios.AiosError)
    for base in builtins:
        assert isinstance(exc, base)
    assert exc.status == status and isinstance(exc.status, Status)
    assert exc.name == "AIOS_" + status.name
    assert exc.kind == kind.token
    assert exc.message == aios.status_str(status)
    assert exc.name in str(exc) and exc.message in str(exc)
    # The hierarchy is independent of the library: the same class maps back.
    assert cls.kind_id is kind


@pytest.mark.parametrize("status", ERROR_STATUSES)
def test_exceptions_pickle(status: Status) -> None:
    exc = aios.error_for_status(status, "some context")
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is type(exc)
    assert (copy.status, copy.name, copy.kind, copy.message) == (exc.status, exc.name, exc.kind, exc.message)


@pytest.mark.parametrize("code", [-99, -117, -199, -207, -299, -12345, 1, 42])
def test_unknown_status(code: int) -> None:
    assert aios.status_name(code) == "AIOS_E_UNKNOWN"
    assert aios.status_str(code) == "unknown status"
    assert aios.status_kind(code) is ErrorKind.INTERNAL


def test_unknown_negative_status_becomes_internal_error() -> None:
    exc = aios.error_for_status(-199, "from a newer module")
    assert type(exc) is aios.InternalError
    assert exc.status == -199 and not isinstance(exc.status, Status)
    assert exc.name == "AIOS_E_UNKNOWN" and exc.kind == "internal"
    assert exc.message == "from a newer module"


def test_register_status_class(monkeypatch: pytest.MonkeyPatch) -> None:
    from aios import errors

    monkeypatch.setattr(errors, "_CLASS_BY_STATUS", {})

    class BufferTooSmallError(aios.InvalidInputError):
        pass

    errors.register_status_class(Status.E_BUFFER_TOO_SMALL, BufferTooSmallError)
    exc = aios.error_for_status(Status.E_BUFFER_TOO_SMALL)
    assert type(exc) is BufferTooSmallError and isinstance(exc, ValueError)
    assert exc.name == "AIOS_E_BUFFER_TOO_SMALL"
    assert type(aios.error_for_status(Status.E_FORMAT)) is aios.InvalidInputError
    # A class outside the kind's branch never replaces the kind's class.
    errors.register_status_class(Status.E_AUTH, BufferTooSmallError)
    assert type(aios.error_for_status(Status.E_AUTH)) is aios.AuthenticationError
    with pytest.raises(TypeError):
        errors.register_status_class(Status.E_AUTH, ValueError)  # type: ignore[arg-type]


def test_ok_is_not_an_error() -> None:
    with pytest.raises(ValueError):
        aios.error_for_status(Status.OK)


# ------------------------------------------------- real failures from C


def test_c_failure_limit() -> None:
    aios.error_clear()
    with pytest.raises(aios.LimitExceededError) as info:
        aios.Buffer.new(aios.BUFFER_MAX_LEN + 1)
    exc = info.value
    assert exc.status == Status.E_LIMIT and exc.kind == "limit" and exc.name == "AIOS_E_LIMIT"
    assert "aios_buffer_new" in exc.message and "2^40" in exc.message
    assert aios.last_error_status() == Status.E_LIMIT
    assert aios.last_error_message() == exc.message
    aios.error_clear()
    assert aios.last_error_status() == Status.OK
    assert aios.last_error_message() == ""


def test_c_failure_invalid_argument_through_ffi() -> None:
    out = _ffi.aios_buffer_p()
    with pytest.raises(aios.InvalidInputError) as info:
        _ffi.lib.aios_buffer_new(ctypes.byref(out), 4, 0x80)
    assert info.value.status == Status.E_INVALID_ARGUMENT
    assert "unknown flags 0x80" in info.value.message
    assert isinstance(info.value, ValueError)
    assert not out  # nothing to free


def test_c_failure_unsupported_is_invalid_input() -> None:
    with aios.Buffer.new(8) as buf:
        with pytest.raises(aios.InvalidInputError) as info:
            buf.protect("readonly")
    assert info.value.status == Status.E_UNSUPPORTED
    assert info.value.name == "AIOS_E_UNSUPPORTED"
    assert "secure" in info.value.message


def test_c_failure_state_set_allocator_after_init() -> None:
    aios.init()
    with pytest.raises(aios.StateError) as info:
        aios.set_allocator(None)
    assert info.value.status == Status.E_STATE
    assert "before aios_init" in info.value.message


def test_stale_record_is_not_reused() -> None:
    # A failure leaves a record; a later binding-side error must not pick it up.
    with pytest.raises(aios.LimitExceededError):
        aios.Buffer.new(aios.BUFFER_MAX_LEN + 1)
    with pytest.raises(aios.InvalidInputError) as info:
        aios.Buffer.new(-1)
    assert "2^40" not in info.value.message
    assert "must be >= 0" in info.value.message


# ----------------------------------------------------- per-thread details


def test_error_details_are_per_thread() -> None:
    aios.error_clear()
    barrier = threading.Barrier(2, timeout=30)
    seen: Dict[str, Tuple[int, str, str]] = {}
    failures: List[BaseException] = []

    def limit_worker() -> None:
        try:
            try:
                aios.Buffer.new(aios.BUFFER_MAX_LEN + 1)
            except aios.LimitExceededError as exc:
                msg = exc.message
            barrier.wait()  # the other thread fails now
            barrier.wait()
            seen["limit"] = (aios.last_error_status(), aios.last_error_message(), msg)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    def unsupported_worker() -> None:
        try:
            barrier.wait()
            with aios.Buffer.new(1) as buf:
                try:
                    buf.protect("noaccess")
                except aios.InvalidInputError as exc:
                    msg = exc.message
            barrier.wait()
            seen["unsupported"] = (aios.last_error_status(), aios.last_error_message(), msg)
        except BaseException as exc:  # pragma: no cover
            failures.append(exc)

    threads = [threading.Thread(target=limit_worker), threading.Thread(target=unsupported_worker)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    status, message, exc_message = seen["limit"]
    assert status == Status.E_LIMIT and "2^40" in message and message == exc_message
    status, message, exc_message = seen["unsupported"]
    assert status == Status.E_UNSUPPORTED and "secure" in message and message == exc_message
    # The main thread saw neither failure.
    assert aios.last_error_status() == Status.OK
    assert aios.last_error_message() == ""


def test_exception_messages_under_concurrency() -> None:
    errors: List[str] = []

    def worker(i: int) -> None:
        for _ in range(300):
            try:
                if i % 2:
                    aios.Buffer.new(aios.BUFFER_MAX_LEN + 1 + i)
                else:
                    out = _ffi.aios_buffer_p()
                    _ffi.lib.aios_buffer_new(ctypes.byref(out), 1, 0x100 << i)
            except aios.LimitExceededError as exc:
                if str(aios.BUFFER_MAX_LEN + 1 + i) not in exc.message:
                    errors.append(exc.message)
            except aios.InvalidInputError as exc:
                if "0x%x" % (0x100 << i) not in exc.message:
                    errors.append(exc.message)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
