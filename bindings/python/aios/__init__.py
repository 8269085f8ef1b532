"""aios: Python binding of libaios (ctypes over ``libaios.so.1``).

Importing the package loads the shared library: ``$AIOS_LIBRARY`` if set,
else an installed ``libaios.so.1``, else ``build/`` of the source checkout
the package runs from.  :class:`LibraryNotFoundError` (an ImportError)
lists every place tried.

>>> import aios
>>> aios.library_version()                      # doctest: +SKIP
'0.1.0'
>>> with aios.Buffer.from_bytes(b"secret", secure=True) as buf:
...     aios.ct_equal(buf, b"secret")
True

Errors are exceptions by kind (:class:`InvalidInputError`,
:class:`AuthenticationError`, ...), all subclasses of :class:`AiosError`.

Modules: :mod:`aios.core` (buffers, versions, errors, allocator),
:mod:`aios.key` (:class:`Key`, :class:`Keyring`, :class:`Provider`,
:class:`DataKeyCache`), everything public of both re-exported here, and
:mod:`aios.envelope` (envelope encryption: ``aios.envelope.seal()``,
``aios.envelope.open()``, streams, readers, sessions, JSON fields), used
through its module name; its exception classes are re-exported here, and
:mod:`aios.manifest` (signed model manifests in the OpenSSF Model Signing
format: ``aios.manifest.sign()``, ``verify_key()``,
``verify_certificate()``, :class:`aios.manifest.Manifest`), likewise.
"""

from ._version import __version__
from .errors import (
    AiosError,
    AiosIOError,
    AuthenticationError,
    CallbackError,
    CancelledError,
    CommitmentError,
    ContextMismatchError,
    EnvelopeModeError,
    ErrorKind,
    InternalError,
    InvalidInputError,
    LibraryNotFoundError,
    LibraryVersionError,
    LimitExceededError,
    ManifestMismatchError,
    ManifestKeyMismatchError,
    ManifestChainError,
    ManifestCertUsageError,
    ManifestRootDigestError,
    ManifestPredicateError,
    ManifestPathError,
    ManifestDuplicateError,
    ManifestSignaturesError,
    ManifestSymlinkError,
    ManifestSpecialFileError,
    ManifestNotSignedError,
    ManifestUnverifiedError,
    ManifestChangedError,
    ManifestEmptyError,
    ManifestMethodError,
    NoRecipientError,
    NotFoundError,
    PolicyDeniedError,
    ResourceError,
    StateError,
    Status,
    TrailingDataError,
    TruncatedError,
    UnknownSessionError,
)
from .core import (  # noqa: E402 - loads libaios
    BUFFER_MAX_LEN,
    BUFFER_SECURE_MAX_LEN,
    Allocator,
    Buffer,
    BufferFlags,
    Protection,
    SelftestResult,
    abi_version,
    build_info,
    ct_equal,
    error_clear,
    error_for_status,
    error_kind_name,
    init,
    last_error_message,
    last_error_status,
    library_path,
    library_version,
    library_version_info,
    selftest,
    set_allocator,
    status_kind,
    status_name,
    status_str,
    version_number,
    version_string,
    wipe,
)
from .key import __all__ as _key_all
from .key import (  # noqa: E402
    KEY_DATA_KEY_MAX,
    KEY_MAC_LEN,
    KEY_WRAPPED_MAX,
    CacheEntry,
    DataKeyCache,
    Key,
    KeyDecryptOnlyError,
    KeyDestroyedError,
    KeyDisabledError,
    KeyExistsError,
    KeyInfo,
    KeyNotExportableError,
    KeyNotFoundError,
    Keyring,
    KeyringLockedError,
    KeyringPassphraseError,
    KeyringTamperedError,
    KeyringUnlock,
    KeyState,
    KeyType,
    KeyUsageLimitError,
    KeyUse,
    Pkcs11PinError,
    Provider,
    ProviderCaps,
    ProviderTimeoutError,
)

__all__ = [
    "__version__",
    # errors
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
    "Status",
    "ErrorKind",
    "status_name",
    "status_str",
    "status_kind",
    "error_kind_name",
    "error_for_status",
    "last_error_message",
    "last_error_status",
    "error_clear",
    # core
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
# Everything aios.key exports, listed once, in aios.key.
__all__ += _key_all

from . import envelope  # noqa: E402

__all__ += [
    "envelope",
    # envelope errors (aios.errors; also in aios.envelope)
    "NoRecipientError",
    "CommitmentError",
    "ContextMismatchError",
    "TruncatedError",
    "TrailingDataError",
    "UnknownSessionError",
    "EnvelopeModeError",
]

from . import manifest  # noqa: E402

__all__ += [
    "manifest",
    # manifest errors (aios.errors; also in aios.manifest)
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
]
