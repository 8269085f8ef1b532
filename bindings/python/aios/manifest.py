"""libaios manifest (``include/aios/manifest.h``): signed model manifests.

A model (a directory, or one file) is described by the digest of every
file (method ``"files"``) or of every fixed-size shard of every file
(``"shards"``), listed in an in-toto statement whose subject digest, the
*root digest*, is the model's identity.  The statement is signed in a
DSSE envelope inside a Sigstore bundle: the files the OpenSSF
``model_signing`` tool writes and verifies (``docs/MANIFEST.md``).

* sign: :func:`sign` (any signing :class:`aios.Key`: ECDSA P-256/P-384
  interoperate with ``model_signing``; Ed25519 is a libaios extension),
  with ``chain=`` for the certificate method; :func:`hash` computes the
  same manifest without signing;
* trust: :func:`verify_key`, :func:`verify_certificate` check a bundle
  alone and return a verified :class:`Manifest` (nothing of the model is
  read); :func:`open_bundle` parses without trust; :func:`read_bundle`
  reads a bundle file with the size cap;
* content: :meth:`Manifest.verify_dir` (the whole model; a mismatch
  raises :class:`ManifestMismatchError` whose ``diff`` says how),
  :meth:`Manifest.compare_dir` (the same :class:`Diff` for any manifest,
  without raising on a mismatch), :meth:`Manifest.verify_file`,
  :meth:`Manifest.verify_range` and :meth:`Manifest.stream` (a file read
  through the verifier: :class:`ManifestStream`).

Bytes in, bytes out: bundles are ``bytes`` (JSON), digests ``bytes``.
Paths are ``str``, ``bytes`` or path-like objects.  A model root for the
incremental calls is a descriptor, an object with ``fileno()`` or a path
(opened for the call only).

Threads, as in the C header: a :class:`Manifest` is immutable and may be
used by any number of threads at once; a :class:`ManifestStream` by one
thread at a time.  The calls that hash (:meth:`Manifest.verify_dir`,
:meth:`Manifest.compare_dir`, :meth:`Manifest.verify_file`,
:meth:`Manifest.verify_range`, and :func:`sign` for its key), and
:meth:`Manifest.stream`, :attr:`Manifest.resources` and :func:`verify_key`
(its key), take a reference of their own for the call: the manifest or key
may be closed meanwhile, from another thread or from the progress callback;
the call completes and later use raises :class:`aios.StateError`.  A ``progress`` callback ``progress(done, total, path)``
may run on the library's hashing threads (never two at once); returning
``False`` or raising :class:`aios.CancelledError` stops the operation
with :class:`aios.CancelledError`; any other exception stops it too and
the call raises :class:`aios.CallbackError` chained from it (its
``host_exception``); ``KeyboardInterrupt`` and ``SystemExit`` propagate
as they are.  That includes Ctrl-C while the model is hashed with a
``progress`` callback: Python raises the ``KeyboardInterrupt`` as the
callback is entered on the calling thread, where no code of the callback
can catch it, and ctypes only reports it ("Exception ignored on calling
ctypes callback function") and hands C an undefined value; when C stops
although the callback never asked it to, the call (made on the main
thread) raises ``KeyboardInterrupt``.  Should that value happen to be 0,
the operation goes on and that Ctrl-C is lost.  Without a ``progress``
callback, Ctrl-C takes effect when the call returns.
"""

from __future__ import annotations

import ctypes
import datetime
import enum
import json
import os
import threading
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _ffi
from ._ffi import lib
from ._handle import _Handle
from .core import BytesLike
from .errors import (
    AiosError,
    CancelledError,
    ManifestCertUsageError,
    ManifestChainError,
    ManifestChangedError,
    ManifestDuplicateError,
    ManifestEmptyError,
    ManifestKeyMismatchError,
    ManifestMethodError,
    ManifestMismatchError,
    ManifestNotSignedError,
    ManifestPathError,
    ManifestPredicateError,
    ManifestRootDigestError,
    ManifestSignaturesError,
    ManifestSpecialFileError,
    ManifestSymlinkError,
    ManifestUnverifiedError,
    Status,
)
from .key import Key, _address, _path_arg, _take_bytes, _text_arg, _uint, _unix_seconds

__all__ = [
    "Profile",
    "Method",
    "TimePolicy",
    "Change",
    "Flags",
    "Resource",
    "DiffItem",
    "Diff",
    "Manifest",
    "ManifestStream",
    "sign",
    "hash",
    "verify_key",
    "verify_certificate",
    "verify_sigstore",
    "open_bundle",
    "read_bundle",
    "BUNDLE_MAX",
    "RESOURCES_MAX",
    "IGNORE_PATHS_MAX",
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

# ---- constants (manifest.h; BUNDLE_MAX and RESOURCES_MAX are also
# functions of the library, checked against these by the tests)

#: Largest bundle (``AIOS_MANIFEST_BUNDLE_MAX``, ``aios_manifest_bundle_max()``).
BUNDLE_MAX = 64 << 20
#: Most resources of a manifest (``AIOS_MANIFEST_RESOURCES_MAX``).
RESOURCES_MAX = 1 << 20
#: Most ignore paths of one call (``aios_manifest_hash_options.ignore_paths_len``).
IGNORE_PATHS_MAX = 1024

_OPTIONS_VERSION = 1  # every AIOS_MANIFEST_*_OPTIONS_VERSION this binding fills
_NO_GIT_DEFAULTS = 0x1  # AIOS_MANIFEST_NO_GIT_DEFAULTS
_VERIFY_IGNORE_HINT = 0x1  # AIOS_MANIFEST_VERIFY_IGNORE_HINT
_VERIFY_IGNORE_UNSIGNED = 0x2  # AIOS_MANIFEST_VERIFY_IGNORE_UNSIGNED
_VERIFY_STRICT_EMPTY = 0x4  # AIOS_MANIFEST_VERIFY_STRICT_EMPTY
_VERIFY_NO_LEGACY = 0x8  # AIOS_MANIFEST_VERIFY_NO_LEGACY
_U32_MAX = (1 << 32) - 1
_U64_MAX = (1 << 64) - 1
_SIZE_MAX = (1 << (8 * ctypes.sizeof(ctypes.c_size_t))) - 1
#: How much :meth:`ManifestStream.read` asks for when told to read everything.
_READ_ALL_BLOCK = 1 << 20

PathLike = Union[str, bytes, "os.PathLike[Any]"]
RootArg = Union[int, PathLike, Any]  # a descriptor, an object with fileno(), or a path
ProgressFn = Callable[[int, int, str], Any]


# =====================================================================
# Enums
# =====================================================================


def _parse(cls: Any, value: Any, what: str, tokens: Mapping[str, Any]) -> Any:
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in tokens:
            return tokens[text]
        for member in cls:
            if text.upper().replace("-", "_").replace(".", "_") == member.name:
                return member
        raise _ffi.error_for_status(
            Status.E_INVALID_ARGUMENT, f"unknown {what} {value!r}: use one of {', '.join(tokens)}"
        )
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{what} must be a {cls.__name__}, an int or a str, not {type(value).__name__}")
    try:
        return cls(value.__index__())
    except ValueError:
        raise _ffi.error_for_status(Status.E_INVALID_ARGUMENT, f"unknown {what} {value!r}") from None


class Profile(enum.IntEnum):
    """``aios_manifest_profile`` (MANIFEST.md section 14)."""

    MODEL_SIGNING_1 = 0  #: what the released model_signing 1.x accepts (default)
    OMS_1_0 = 1  #: the OMS specification v1.0

    @property
    def token(self) -> str:
        """``"model-signing-1"`` or ``"oms-1.0"``."""
        return "model-signing-1" if self is Profile.MODEL_SIGNING_1 else "oms-1.0"

    @classmethod
    def parse(cls, value: Union["Profile", int, str]) -> "Profile":
        """A member from itself, its number, its name or its token."""
        result: Profile = _parse(cls, value, "profile", {m.token: m for m in cls})
        return result


class Method(enum.IntEnum):
    """``aios_manifest_method``: one digest per file, or per shard."""

    FILES = 0
    SHARDS = 1

    @property
    def token(self) -> str:
        """``"files"`` or ``"shards"``."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: Union["Method", int, str]) -> "Method":
        """A member from itself, its number or its name (``"files"``, ``"shards"``)."""
        result: Method = _parse(cls, value, "method", {m.token: m for m in cls})
        return result


class TimePolicy(enum.IntEnum):
    """``aios_manifest_time``: when a certificate chain must be valid (MANIFEST.md 7.4)."""

    PROFILE = 0  #: the leaf's notBefore (model-signing-1) or now (oms-1.0)
    LEAF_NOT_BEFORE = 1
    NOW = 2
    FIXED = 3  #: ``fixed_time``

    @classmethod
    def parse(cls, value: Union["TimePolicy", int, str]) -> "TimePolicy":
        """A member from itself, its number or its name (``"now"``, ``"leaf-not-before"``, ...)."""
        tokens = {m.name.lower().replace("_", "-"): m for m in cls}
        result: TimePolicy = _parse(cls, value, "time policy", tokens)
        return result


class Change(enum.IntEnum):
    """``aios_manifest_change``: one entry of a :class:`Diff`."""

    MISSING = 1  #: named by the manifest, absent
    EXTRA = 2  #: present, not named
    MODIFIED = 3  #: named and present, other bytes
    EXTRA_EMPTY = 4  #: shards: an empty file no shard can name (no failure unless strict_empty)

    @property
    def token(self) -> str:
        """The key of :meth:`Diff.as_dict`: ``"missing"``, ``"extra_empty"``, ..."""
        return self.name.lower()


class Flags(enum.IntFlag):
    """``aios_manifest_flags()`` bits."""

    VERIFIED = 0x1  #: the signature was verified against the caller's trust
    SIGNED = 0x2  #: made by :func:`sign` in this process
    LEGACY = 0x4  #: a model_signing 0.2 (Digests/v0.1) bundle
    KEYLESS = 0x8  #: a Sigstore keyless bundle (verified only by :func:`verify_sigstore`)
    ALLOW_SYMLINKS = 0x10  #: signed with symlinks allowed
    SINGLE_FILE = 0x20  #: the model is one file


# =====================================================================
# Plain results
# =====================================================================


class Resource(NamedTuple):
    """One resource of a manifest, as listed."""

    name: str  #: ``"path"`` (files) or ``"path:start:end"`` (shards)
    start: int  #: first byte (files: 0)
    end: int  #: one past the last byte (files: 2**64-1, the size being unknown)
    digest: bytes


class DiffItem(NamedTuple):
    """One change of a :class:`Diff`."""

    kind: Change
    path: str
    #: for a modified file, the start of the first differing shard (0 for files), else 0
    first_bad_offset: int


class Diff:
    """How a model differs from a manifest (``aios_manifest_diff``), in path order.

    A plain, immutable Python object (copied out of the C diff, which is
    freed at once): :attr:`items`, the lists :attr:`missing`,
    :attr:`extra`, :attr:`modified` and :attr:`extra_empty`, :attr:`ok`
    (nothing but extra empty files), :meth:`to_json` (libaios' JSON text)
    and :meth:`as_dict`.  ``len(diff)`` counts every item; iterating yields
    :class:`DiffItem`.
    """

    __slots__ = ("_items", "_json")

    def __init__(self, items: Iterable[DiffItem] = (), json_text: Optional[str] = None) -> None:
        self._items: Tuple[DiffItem, ...] = tuple(items)
        if json_text is None:
            groups: Dict[str, List[Any]] = {c.token: [] for c in (Change.MISSING, Change.EXTRA, Change.MODIFIED,
                                                                    Change.EXTRA_EMPTY)}
            for item in self._items:
                if item.kind is Change.MODIFIED:
                    groups["modified"].append({"path": item.path, "first_bad_offset": item.first_bad_offset})
                else:
                    groups[item.kind.token].append(item.path)
            json_text = json.dumps(groups, separators=(",", ":"), ensure_ascii=False)
        self._json: str = json_text

    @classmethod
    def _take(cls, handle: Any) -> "Diff":
        """Copy a C diff out and free it."""
        try:
            items = []
            n = lib.aios_manifest_diff_count(handle)
            for i in range(n):
                kind = ctypes.c_int()
                path = ctypes.c_char_p()
                off = ctypes.c_uint64()
                lib.aios_manifest_diff_at(handle, i, ctypes.byref(kind), ctypes.byref(path), ctypes.byref(off))
                items.append(DiffItem(Change(kind.value), _name(path.value), int(off.value)))
            out = _ffi.aios_buffer_p()
            lib.aios_manifest_diff_json(handle, ctypes.byref(out))
            text = _take_bytes(out).rstrip(b"\0").decode("utf-8", "surrogateescape")
        finally:
            lib.aios_manifest_diff_free(handle)
        return cls(items, text)

    @property
    def items(self) -> Tuple[DiffItem, ...]:
        """Every change, in path order."""
        return self._items

    def _paths(self, kind: Change) -> List[str]:
        return [item.path for item in self._items if item.kind is kind]

    @property
    def missing(self) -> List[str]:
        """Files the manifest names that are absent."""
        return self._paths(Change.MISSING)

    @property
    def extra(self) -> List[str]:
        """Files present that the manifest does not name."""
        return self._paths(Change.EXTRA)

    @property
    def modified(self) -> List[str]:
        """Files whose bytes differ."""
        return self._paths(Change.MODIFIED)

    @property
    def extra_empty(self) -> List[str]:
        """Shards method: empty files no shard can name (not a failure by default)."""
        return self._paths(Change.EXTRA_EMPTY)

    @property
    def ok(self) -> bool:
        """True when nothing is missing, extra or modified."""
        return all(item.kind is Change.EXTRA_EMPTY for item in self._items)

    def to_json(self) -> str:
        """``aios_manifest_diff_json()``: ``{"missing":[path...],"extra":[...],
        "modified":[{"path":...,"first_bad_offset":N}...],"extra_empty":[...]}``."""
        return self._json

    def as_dict(self) -> Dict[str, Any]:
        """:meth:`to_json` parsed."""
        result: Dict[str, Any] = json.loads(self._json)
        return result

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Any:
        return iter(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Diff) and other._items == self._items

    def __hash__(self) -> int:
        return tuple.__hash__(self._items)

    def __reduce__(self) -> Any:
        return (Diff, (self._items, self._json))

    def __repr__(self) -> str:
        counts = ", ".join(f"{c.token}={len(self._paths(c))}" for c in Change if self._paths(c))
        return f"<aios.manifest.Diff {counts or 'empty'}>"


# =====================================================================
# Argument helpers
# =====================================================================


def _invalid(message: str) -> AiosError:
    return _ffi.error_for_status(Status.E_INVALID_ARGUMENT, message)


def _name(raw: Optional[bytes]) -> str:
    return "" if raw is None else raw.decode("utf-8", "surrogateescape")


def _opt_text(value: Optional[str], what: str) -> Optional[bytes]:
    return None if value is None else _text_arg(value, what)


def _opt_path(value: Optional[PathLike]) -> Optional[bytes]:
    return None if value is None else _path_arg(value)


class _Progress:
    """A Python progress callback as an ``aios_manifest_progress_cb``.

    libaios may call it on its hashing threads, where the binding's
    per-thread callback slot of the calling thread cannot be reached: the
    first exception is kept here (any thread), the callback returns
    non-zero (libaios stops with ``AIOS_E_CANCELLED``) and :meth:`check`
    raises, on the calling thread, what the C call should.  The CFUNCTYPE
    object lives as long as this object, which the call keeps.

    libaios never runs the callback on two threads at once, so ``stopped``
    and ``exc`` need no lock.  :meth:`_call` makes no Python call outside
    its ``try`` (a pending signal is raised at the next call or function
    entry), so an exception raised after its first line is always kept.
    One raised *at* its entry is not: the main thread runs a pending
    signal's handler (SIGINT: ``KeyboardInterrupt``) as the frame starts,
    before the ``try``; ctypes then reports it to ``sys.unraisablehook``
    ("Exception ignored on calling ctypes callback function"), drops it and
    gives C an undefined int.  :meth:`check` recognises that case when C
    stopped with ``AIOS_E_CANCELLED`` although the callback never asked
    to: on the main thread it raises ``KeyboardInterrupt``.

    A module-level ``sys.unraisablehook`` that picks out our callbacks
    would catch the exception itself, but a library should not replace a
    process-wide hook (pytest and others swap it per test, so it would not
    even run there), and Python 3.13 reports a ctypes callback's exception
    with ``object=None`` and the callable only in the message text.
    """

    __slots__ = ("fn", "exc", "stopped", "cfunc")

    def __init__(self, fn: ProgressFn) -> None:
        if not callable(fn):
            raise TypeError(f"progress must be callable, not {type(fn).__name__}")
        self.fn = fn
        self.exc: Optional[BaseException] = None
        self.stopped = False  # the callback asked to stop, or raised
        self.cfunc = _ffi.aios_manifest_progress_cb(self._call)

    def _call(self, done: int, total: int, path: Optional[bytes], payload: Any) -> int:
        # Everything that calls (and so may run a signal handler) stays inside
        # the try; the handler only stores attributes.
        try:
            if self.stopped:
                return 1
            go_on = self.fn(int(done), int(total), _name(path))
            if go_on is False:
                self.stopped = True
                return 1
            return 0
        except BaseException as exc:  # noqa: BLE001 - nothing may unwind through C
            self.stopped = True
            if self.exc is None:
                self.exc = exc
            return 1

    def check(self, error: Optional[AiosError]) -> None:
        """After the C call: raise what it must (``error``: what the errcheck raised, or None)."""
        exc = self.exc
        if exc is None:
            if error is None:
                return
            if error.status == Status.E_CANCELLED and not self.stopped:
                self._escaped(error)
            raise error
        self.exc = None
        if not isinstance(exc, Exception):
            raise exc  # KeyboardInterrupt, SystemExit: not ours to wrap
        base = error.message if error is not None and error.message else "aios_manifest: the operation stopped"
        if isinstance(exc, CancelledError):
            reason = exc.message or str(exc)
            err = _ffi.error_for_status(Status.E_CANCELLED, f"{base}: {reason}" if reason else base)
        else:
            err = _ffi.error_for_status(
                Status.E_CALLBACK, f"{base}: a Python callback raised {type(exc).__name__}: {exc}"
            )
        err.host_exception = exc
        raise err from exc

    def _escaped(self, error: AiosError) -> None:
        """C cancelled, yet the callback neither asked to nor raised in its
        body: an exception escaped as it was entered (see the class doc)."""
        self.stopped = True
        if threading.current_thread() is threading.main_thread():
            # Only the main thread runs signal handlers: in practice Ctrl-C.
            raise KeyboardInterrupt from None
        err = _ffi.error_for_status(
            Status.E_CALLBACK,
            f"{error.message}: the progress callback raised before its first line ran "
            "(Python reported it as an exception ignored in a ctypes callback)",
        )
        raise err from None


def _run(progress: Optional[_Progress], call: Callable[[], Any]) -> Any:
    """Run ``call`` (a C call) and raise what a progress callback asked for."""
    if progress is None:
        return call()
    try:
        result = call()
    except AiosError as error:
        progress.check(error)
        raise
    progress.check(None)
    return result


def _hash_options(
    opts: Any,
    threads: int,
    read_size: int,
    ignore_paths: Sequence[PathLike],
    include_git: bool,
    progress: Optional[ProgressFn],
    keep: List[Any],
) -> Optional[_Progress]:
    """Fill ``opts`` (an initialised ``aios_manifest_hash_options``); the progress wrapper."""
    opts.threads = _uint(threads, "threads", _U32_MAX)
    opts.read_size = _uint(read_size, "read_size", _U32_MAX)
    opts.flags = _NO_GIT_DEFAULTS if include_git else 0
    if isinstance(ignore_paths, (str, bytes, os.PathLike)):
        ignore_paths = [ignore_paths]
    paths = [_path_arg(p) for p in ignore_paths]
    if paths:
        array = (ctypes.c_char_p * len(paths))(*paths)
        keep += [paths, array]
        opts.ignore_paths = ctypes.cast(array, ctypes.POINTER(ctypes.c_char_p))
    opts.ignore_paths_len = len(paths)
    if progress is None:
        return None
    wrapper = _Progress(progress)
    keep.append(wrapper)
    opts.progress = wrapper.cfunc
    return wrapper


def _bare_hash_options(
    threads: int, read_size: int, progress: Optional[ProgressFn], keep: List[Any]
) -> Tuple[Any, Optional[_Progress]]:
    opts = _ffi.aios_manifest_hash_options()
    lib.aios_manifest_hash_options_init(ctypes.byref(opts), _OPTIONS_VERSION)
    wrapper = _hash_options(opts, threads, read_size, (), False, progress, keep)
    return opts, wrapper


def _sign_options(
    keep: List[Any],
    *,
    profile: Union[Profile, int, str],
    method: Union[Method, int, str],
    shard_size: Optional[int],
    hash_type: Optional[str],
    allow_symlinks: bool,
    subject_name: Optional[str],
    bundle_path: Optional[PathLike],
    provenance: Optional[Union[Mapping[str, Any], str, bytes]],
    chain: Optional[Sequence[BytesLike]],
    stat_cache_path: Optional[PathLike],
    threads: int,
    read_size: int,
    ignore_paths: Sequence[PathLike],
    include_git: bool,
    progress: Optional[ProgressFn],
) -> Tuple[Any, Optional[_Progress]]:
    opts = _ffi.aios_manifest_sign_options()
    lib.aios_manifest_sign_options_init(ctypes.byref(opts), _OPTIONS_VERSION)
    opts.profile = int(Profile.parse(profile))
    opts.method = int(Method.parse(method))
    if hash_type is not None:
        opts.hash_type = _text_arg(hash_type, "hash_type")
    opts.shard_size = 0 if shard_size is None else _uint(shard_size, "shard_size", _U64_MAX)
    if opts.shard_size and opts.method != Method.SHARDS:
        # as the CLI refuses --shard-size without --method shards (0, what
        # Manifest.shard_size says of a files manifest, is "not given")
        raise _invalid("shard_size needs method='shards'")
    opts.allow_symlinks = 1 if allow_symlinks else 0
    opts.subject_name = _opt_text(subject_name, "subject_name")
    opts.bundle_path = _opt_path(bundle_path)
    if provenance is not None:
        if isinstance(provenance, Mapping):
            text = json.dumps(dict(provenance), separators=(",", ":"), ensure_ascii=False)
        elif isinstance(provenance, (str, bytes, bytearray)):
            try:
                text = provenance.decode("utf-8") if isinstance(provenance, (bytes, bytearray)) else provenance
            except UnicodeDecodeError as exc:
                raise _invalid(f"provenance is not UTF-8: {exc.reason} at byte {exc.start}") from None
        else:
            raise TypeError(f"provenance must be a mapping or JSON text, not {type(provenance).__name__}")
        opts.provenance_json = _text_arg(text, "provenance")
    if chain is not None:
        if isinstance(chain, (bytes, bytearray, memoryview)):
            raise TypeError("chain must be a sequence of DER certificates (leaf first), not one bytes object")
        certs = [_ffi.bytes_in(c) for c in chain]
        if certs:
            ptrs = (ctypes.c_void_p * len(certs))(*[_address(a) for a, _ in certs])
            lens = (ctypes.c_size_t * len(certs))(*[n for _, n in certs])
            keep += [certs, ptrs, lens]
            opts.chain_der = ctypes.cast(ptrs, ctypes.POINTER(ctypes.c_void_p))
            opts.chain_der_lens = ctypes.cast(lens, ctypes.POINTER(ctypes.c_size_t))
        opts.chain_len = len(certs)
    opts.stat_cache_path = _opt_path(stat_cache_path)
    wrapper = _hash_options(opts.hash, threads, read_size, ignore_paths, include_git, progress, keep)
    return opts, wrapper


def _verify_options(
    keep: List[Any],
    *,
    profile: Union[Profile, int, str] = Profile.MODEL_SIGNING_1,
    time_policy: Union[TimePolicy, int, str] = TimePolicy.PROFILE,
    fixed_time: Optional[Union[int, datetime.datetime]] = None,
    ignore_hint: bool = False,
    ignore_unsigned: bool = False,
    strict_empty: bool = False,
    no_legacy: bool = False,
    bundle_max: int = 0,
    bundle_path: Optional[PathLike] = None,
    stat_cache_path: Optional[PathLike] = None,
    threads: int = 0,
    read_size: int = 0,
    ignore_paths: Sequence[PathLike] = (),
    include_git: bool = False,
    progress: Optional[ProgressFn] = None,
) -> Tuple[Any, Optional[_Progress]]:
    opts = _ffi.aios_manifest_verify_options()
    lib.aios_manifest_verify_options_init(ctypes.byref(opts), _OPTIONS_VERSION)
    opts.profile = int(Profile.parse(profile))
    policy = TimePolicy.parse(time_policy)
    if fixed_time is not None:
        if policy is TimePolicy.PROFILE:
            policy = TimePolicy.FIXED
        elif policy is not TimePolicy.FIXED:
            # a time the chosen policy would ignore: say so, as Go does
            raise _invalid(f"fixed_time given with time_policy {policy.name}, which does not use it")
        opts.fixed_time = _unix_seconds(fixed_time, "fixed_time")
    elif policy is TimePolicy.FIXED:
        raise _invalid("time_policy FIXED needs fixed_time")
    opts.time_policy = int(policy)
    opts.flags = (
        (_VERIFY_IGNORE_HINT if ignore_hint else 0)
        | (_VERIFY_IGNORE_UNSIGNED if ignore_unsigned else 0)
        | (_VERIFY_STRICT_EMPTY if strict_empty else 0)
        | (_VERIFY_NO_LEGACY if no_legacy else 0)
    )
    opts.bundle_max = _uint(bundle_max, "bundle_max", _SIZE_MAX)
    opts.bundle_path = _opt_path(bundle_path)
    opts.stat_cache_path = _opt_path(stat_cache_path)
    wrapper = _hash_options(opts.hash, threads, read_size, ignore_paths, include_git, progress, keep)
    return opts, wrapper


class _Root:
    """The model root descriptor for an incremental call: an int or
    ``fileno()`` as is, or a path opened (read-only, close-on-exec) for the
    call and closed after it."""

    def __init__(self, root: RootArg) -> None:
        self.owned = -1
        if isinstance(root, bool):
            raise TypeError("root must be a descriptor, a file object or a path, not bool")
        if hasattr(root, "__index__"):
            self.fd = int(root.__index__())
        elif isinstance(root, (str, bytes, os.PathLike)):
            self.owned = os.open(_path_arg(root), os.O_RDONLY | os.O_CLOEXEC)
            self.fd = self.owned
        elif callable(getattr(root, "fileno", None)):
            self.fd = int(root.fileno())
        else:
            raise TypeError(f"root must be a descriptor, a file object or a path, not {type(root).__name__}")

    def __enter__(self) -> int:
        return self.fd

    def __exit__(self, *exc: Any) -> None:
        if self.owned >= 0:
            os.close(self.owned)
            self.owned = -1


# =====================================================================
# The manifest
# =====================================================================


def _unref_manifest(handle: Any) -> None:
    lib.aios_manifest_unref(handle)


class Manifest(_Handle):
    """A parsed, hashed or signed manifest (``aios_manifest``): immutable, shareable.

    Comes from :func:`sign`, :func:`hash`, :func:`verify_key`,
    :func:`verify_certificate` or :func:`open_bundle`.  Only a *verified*
    manifest (:attr:`verified`) can check a model's content with
    :meth:`verify_dir`, :meth:`verify_file`, :meth:`verify_range` and
    :meth:`stream`; others raise :class:`ManifestUnverifiedError` there
    (:meth:`compare_dir` works for any).  ``copy.copy()`` takes another
    reference; a ``with`` block or :meth:`close` drops this one.
    """

    __slots__ = ("_resources",)

    _closed_message = "aios.manifest.Manifest: the manifest is closed"
    _resources: Optional[Tuple[Resource, ...]]

    def __init__(self) -> None:
        raise TypeError("manifests come from aios.manifest.sign(), hash(), verify_key(), "
                        "verify_certificate() or open_bundle()")

    @classmethod
    def _adopt(cls, handle: Any) -> "Manifest":
        if not handle:
            raise _ffi.error_for_status(Status.E_INTERNAL, "libaios returned a NULL manifest")
        self = object.__new__(cls)
        self._resources = None
        self._own(handle, _unref_manifest)
        return self

    # ---- lifetime

    def close(self) -> None:
        """Drop this reference (``aios_manifest_unref``).  Idempotent."""
        super().close()

    def _ref(self) -> Any:
        """A reference of the caller's own for a call that may outlive this
        object's (a progress callback, or another thread, may close it
        meanwhile): drop it with ``aios_manifest_unref`` in a ``finally``."""
        return self._borrow(lib.aios_manifest_ref)

    def __copy__(self) -> "Manifest":
        return Manifest._adopt(self._ref())

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Manifest":
        return self.__copy__()  # immutable: another reference is a deep copy

    def __reduce__(self) -> Any:
        raise TypeError("aios.manifest.Manifest cannot be pickled (keep its bundle instead)")

    # ---- what it says

    @property
    def verified(self) -> bool:
        """Whether the signature was verified against the caller's trust."""
        return bool(lib.aios_manifest_is_verified(self._handle()))

    @property
    def flags(self) -> Flags:
        """The :class:`Flags` bits."""
        return Flags(lib.aios_manifest_flags(self._handle()))

    @property
    def root_digest(self) -> bytes:
        """The OMS subject digest (32 bytes): the model's identity."""
        out = (ctypes.c_ubyte * 32)()
        lib.aios_manifest_root_digest(self._handle(), out)
        return bytes(out)

    @property
    def statement_digest(self) -> bytes:
        """SHA-256 of the signed statement bytes (binds names, ranges and options)."""
        out = (ctypes.c_ubyte * 32)()
        lib.aios_manifest_statement_digest(self._handle(), out)
        return bytes(out)

    @property
    def subject_name(self) -> str:
        """The statement's subject name (by default the model's basename)."""
        name: Optional[str] = lib.aios_manifest_subject_name(self._handle())
        return name or ""

    @property
    def method(self) -> Method:
        """:attr:`Method.FILES` or :attr:`Method.SHARDS`."""
        return Method(lib.aios_manifest_get_method(self._handle()))

    @property
    def profile(self) -> Profile:
        """The :class:`Profile` it was made or read under."""
        return Profile(lib.aios_manifest_get_profile(self._handle()))

    @property
    def hash_type(self) -> str:
        """``"sha256"`` or ``"blake2b"``."""
        name: Optional[str] = lib.aios_manifest_hash_type(self._handle())
        return name or ""

    @property
    def shard_size(self) -> int:
        """The shard size in bytes (0 for the files method)."""
        return int(lib.aios_manifest_shard_size(self._handle()))

    @property
    def resources(self) -> Tuple[Resource, ...]:
        """Every :class:`Resource`, as listed (read once, then cached)."""
        if self._resources is None:
            h = self._ref()  # up to a million calls: another thread may close meanwhile
            try:
                n = lib.aios_manifest_resource_count(h)
                items = []
                name = ctypes.c_char_p()
                start = ctypes.c_uint64()
                end = ctypes.c_uint64()
                digest = ctypes.c_void_p()
                dlen = ctypes.c_size_t()
                for i in range(n):
                    lib.aios_manifest_resource_at(
                        h, i, ctypes.byref(name), ctypes.byref(start), ctypes.byref(end),
                        ctypes.byref(digest), ctypes.byref(dlen),
                    )
                    items.append(Resource(_name(name.value), int(start.value), int(end.value),
                                          ctypes.string_at(digest.value, dlen.value) if dlen.value else b""))
            finally:
                lib.aios_manifest_unref(h)
            self._resources = tuple(items)
        return self._resources

    def __len__(self) -> int:
        return int(lib.aios_manifest_resource_count(self._handle()))

    def __bool__(self) -> bool:
        return True  # a manifest is never "empty" in a truth test (len() counts resources)

    @property
    def provenance(self) -> Optional[Dict[str, Any]]:
        """The signed provenance object (MANIFEST.md 5.7), or None."""
        out = _ffi.aios_buffer_p()
        try:
            lib.aios_manifest_provenance_json(self._handle(), ctypes.byref(out))
        except AiosError as exc:
            if exc.status == Status.E_NOT_FOUND:
                return None
            raise
        result: Dict[str, Any] = json.loads(_take_bytes(out).rstrip(b"\0").decode("utf-8"))
        return result

    @property
    def signer(self) -> Dict[str, Any]:
        """Who signed (``aios_manifest_signer_json``), as a dict.

        Its first member, ``"trust"``, says what the others rest on:

        * ``"verified"``: the signature was verified against the caller's
          trust (:func:`verify_key`, :func:`verify_certificate`,
          :func:`verify_sigstore`);
        * ``"signed-here"``: made by :func:`sign` in this process (the
          signer's own view);
        * ``"unverified"``: parsed by :func:`open_bundle`; the members only
          repeat what the bundle claims: never trust them.

        Then ``"method"``: ``"key"``, with ``"hint"`` (hex SHA-256 of the
        signer's public key PEM, MANIFEST.md 4.3) when the bundle has one;
        or ``"certificate"`` / ``"keyless"``, with the leaf certificate's
        ``"subject"``, ``"issuer"``, ``"not_before"`` and ``"not_after"``
        (unix seconds), ``"chain"`` (certificates in the bundle) and, only
        once the chain was verified, ``"checked_at"``: the time (unix
        seconds) it was found valid at, as the time policy chose it
        (MANIFEST.md 7.4: by default the leaf's notBefore).  A keyless
        bundle verified by :func:`verify_sigstore` adds ``"identity"``,
        ``"oidc_issuer"``, ``"log_index"``, ``"integrated_time"`` (Rekor
        v1) and ``"timestamp"`` (when an RFC 3161 timestamp verified).
        A manifest from :func:`hash` has no signer:
        :class:`aios.NotFoundError`."""
        out = _ffi.aios_buffer_p()
        lib.aios_manifest_signer_json(self._handle(), ctypes.byref(out))
        result: Dict[str, Any] = json.loads(_take_bytes(out).rstrip(b"\0").decode("utf-8"))
        return result

    def to_json(self) -> str:
        """Everything above as one JSON object (``aios manifest show``)."""
        out = _ffi.aios_buffer_p()
        lib.aios_manifest_to_json(self._handle(), ctypes.byref(out))
        return _take_bytes(out).rstrip(b"\0").decode("utf-8", "surrogateescape")

    def as_dict(self) -> Dict[str, Any]:
        """:meth:`to_json` parsed."""
        result: Dict[str, Any] = json.loads(self.to_json())
        return result

    # ---- the model's content

    def _dir(self, fn: Any, model_path: PathLike, opts: Dict[str, Any]) -> Diff:
        keep: List[Any] = []
        vo, progress = _verify_options(keep, **opts)
        path = _path_arg(model_path)
        out = _ffi.aios_manifest_diff_p()
        handle = self._ref()
        try:
            _run(progress, lambda: fn(handle, path, ctypes.byref(out), ctypes.byref(vo)))
        except ManifestMismatchError as exc:
            if out:
                exc.diff = Diff._take(out)
            raise
        except BaseException:
            if out:
                lib.aios_manifest_diff_free(out)
            raise
        finally:
            lib.aios_manifest_unref(handle)
        return Diff._take(out) if out else Diff()

    def verify_dir(
        self,
        model_path: PathLike,
        *,
        ignore_unsigned: bool = False,
        strict_empty: bool = False,
        bundle_path: Optional[PathLike] = None,
        stat_cache_path: Optional[PathLike] = None,
        ignore_paths: Sequence[PathLike] = (),
        include_git: bool = False,
        threads: int = 0,
        read_size: int = 0,
        progress: Optional[ProgressFn] = None,
        profile: Union[Profile, int, str] = Profile.MODEL_SIGNING_1,
    ) -> Diff:
        """Verify the model at ``model_path`` (verified manifests only): walk,
        hash in parallel, compare.

        Returns the :class:`Diff` (empty, or only ``extra_empty`` entries of
        a shard manifest) when every file matches; raises
        :class:`ManifestMismatchError` with ``.diff`` when files are
        missing, extra or modified.  ``ignore_unsigned``: files the
        manifest does not name are not reported; ``strict_empty``: an
        extra empty file fails too; ``bundle_path``: the bundle's file, if
        inside the model, is not an extra file; ``stat_cache_path``: after a
        clean result, write the stat cache so that re-signing later hashes
        only what changed; ``ignore_paths``: paths
        (relative, canonical) left out; ``include_git``: also hash
        ``.git``, ``.gitattributes``, ``.github``, ``.gitignore``.
        """
        diff = self._dir(lib.aios_manifest_verify_dir, model_path, dict(
            ignore_unsigned=ignore_unsigned, strict_empty=strict_empty, bundle_path=bundle_path,
            stat_cache_path=stat_cache_path,
            ignore_paths=ignore_paths, include_git=include_git, threads=threads, read_size=read_size,
            progress=progress, profile=profile))
        return diff

    def compare_dir(
        self,
        model_path: PathLike,
        *,
        ignore_unsigned: bool = False,
        strict_empty: bool = False,
        bundle_path: Optional[PathLike] = None,
        ignore_paths: Sequence[PathLike] = (),
        include_git: bool = False,
        threads: int = 0,
        read_size: int = 0,
        progress: Optional[ProgressFn] = None,
        profile: Union[Profile, int, str] = Profile.MODEL_SIGNING_1,
    ) -> Diff:
        """The same comparison for any manifest, verified or not (inspection).

        Returns the :class:`Diff` whether or not the model matches
        (:attr:`Diff.ok`); raises only when the comparison cannot be made.
        """
        try:
            diff = self._dir(lib.aios_manifest_compare_dir, model_path, dict(
                ignore_unsigned=ignore_unsigned, strict_empty=strict_empty, bundle_path=bundle_path,
                ignore_paths=ignore_paths, include_git=include_git, threads=threads, read_size=read_size,
                progress=progress, profile=profile))
        except ManifestMismatchError as exc:
            if exc.diff is None:
                raise
            return exc.diff  # type: ignore[no-any-return]
        return diff

    def verify_file(
        self,
        root: RootArg,
        rel_path: PathLike,
        *,
        threads: int = 0,
        read_size: int = 0,
        progress: Optional[ProgressFn] = None,
    ) -> None:
        """Verify one signed file (verified manifests only).

        ``root``: the model directory (a descriptor, a file object or a
        path; for a single-file model the file itself and ``rel_path``
        ``"."``); ``rel_path`` is opened beneath it without following any
        symlink.  :class:`ManifestNotSignedError` for a file the manifest
        does not name, :class:`ManifestMismatchError` for other bytes.
        """
        keep: List[Any] = []
        opts, wrapper = _bare_hash_options(threads, read_size, progress, keep)
        rel = _path_arg(rel_path)
        with _Root(root) as fd:
            handle = self._ref()
            try:
                _run(wrapper, lambda: lib.aios_manifest_verify_file(handle, fd, rel, ctypes.byref(opts)))
            finally:
                lib.aios_manifest_unref(handle)

    def verify_range(
        self,
        root: RootArg,
        rel_path: PathLike,
        offset: int,
        length: int,
        *,
        threads: int = 0,
        read_size: int = 0,
        progress: Optional[ProgressFn] = None,
    ) -> None:
        """Verify the bytes ``[offset, offset+length)`` of a signed file: only
        the shards that cover them are hashed (files method: the whole
        file).  A range past the signed shards: :class:`ManifestNotSignedError`."""
        keep: List[Any] = []
        opts, wrapper = _bare_hash_options(threads, read_size, progress, keep)
        rel = _path_arg(rel_path)
        off = _uint(offset, "offset", _U64_MAX)
        n = _uint(length, "length", _U64_MAX)
        with _Root(root) as fd:
            handle = self._ref()
            try:
                _run(wrapper, lambda: lib.aios_manifest_verify_range(handle, fd, rel, off, n,
                                                                     ctypes.byref(opts)))
            finally:
                lib.aios_manifest_unref(handle)

    def stream(self, root: RootArg, rel_path: PathLike, *, threads: Optional[int] = 1) -> "ManifestStream":
        """Open a signed file for reading through the verifier (:class:`ManifestStream`).

        ``threads=1`` (the default) reads and hashes on the calling thread;
        more (``None`` or 0: every online CPU) let the stream hash on
        threads of its own while it reads (``aios_manifest_stream_new``)."""
        return ManifestStream(self, root, rel_path, threads=threads)

    def __repr__(self) -> str:
        if self.closed:
            return "<aios.manifest.Manifest closed>"
        state = "verified" if self.verified else "unverified"
        return (f"<aios.manifest.Manifest {self.subject_name!r} {self.method.token} "
                f"{len(self)} resources {state} root={self.root_digest.hex()[:16]}>")


# =====================================================================
# Streams
# =====================================================================


def _free_stream(handle: Any) -> None:
    lib.aios_manifest_stream_free(handle)


class ManifestStream(_Handle):
    """A signed file read through the verifier (``aios_manifest_stream``), on one descriptor.

    Two ways to read, not to be mixed on one stream:

    * :meth:`read` / :meth:`readinto` hand out bytes as they are read and
      hash them; :meth:`finish` then says whether they were the signed
      bytes (it reads and checks whatever was not read).  Do not use any
      byte before :meth:`finish` returns.
    * :meth:`read_verified` returns only verified bytes: whole units (a
      shard, or with the files method the whole file), checked before
      they are handed out; ``b""`` at the end.

    With ``threads`` other than 1 the stream hashes on threads of its own
    while it reads: :meth:`read_verified` hashes several units at once
    (give it a buffer of several units), and :meth:`read` returns before
    its bytes are hashed, so a mismatch surfaces at a later read or at
    :meth:`finish`.

    After a mismatch (:class:`ManifestMismatchError`) the stream stays
    failed.  A file-like object: ``with``, :meth:`fileno` (the stream's
    own descriptor, borrowed), :attr:`size`, :attr:`unit_size`,
    :meth:`readable`.  One thread at a time.
    """

    __slots__ = ("_manifest",)

    _closed_message = "aios.manifest.ManifestStream: the stream is closed"
    _manifest: Manifest

    def __init__(self, manifest: Manifest, root: RootArg, rel_path: PathLike, *,
                 threads: Optional[int] = 1) -> None:
        if not isinstance(manifest, Manifest):
            raise TypeError(f"manifest must be an aios.manifest.Manifest, not {type(manifest).__name__}")
        rel = _path_arg(rel_path)
        out = _ffi.aios_manifest_stream_p()
        opts = None
        if threads != 1:
            opts = _ffi.aios_manifest_stream_options()
            lib.aios_manifest_stream_options_init(ctypes.byref(opts), _OPTIONS_VERSION)
            opts.threads = _uint(threads or 0, "threads", _U32_MAX)
        with _Root(root) as fd:
            # The stream takes a reference of its own; ours covers the call
            # (another thread may close the manifest meanwhile).
            handle = manifest._ref()
            try:
                if opts is None:
                    lib.aios_manifest_stream_open(ctypes.byref(out), handle, fd, rel)
                else:
                    lib.aios_manifest_stream_new(ctypes.byref(out), handle, fd, rel, ctypes.byref(opts))
            finally:
                lib.aios_manifest_unref(handle)
        self._manifest = manifest
        self._own(out, _free_stream)

    @property
    def size(self) -> int:
        """The file's size in bytes."""
        return int(lib.aios_manifest_stream_size(self._handle()))

    @property
    def unit_size(self) -> int:
        """The largest unit :meth:`read_verified` hands out (a shard, or the file)."""
        return int(lib.aios_manifest_stream_unit_size(self._handle()))

    @property
    def manifest(self) -> Manifest:
        """The manifest the stream verifies against."""
        return self._manifest

    def fileno(self) -> int:
        """The stream's descriptor (borrowed: do not close it, do not move its offset)."""
        return int(lib.aios_manifest_stream_fd(self._handle()))

    def readable(self) -> bool:
        """True while open."""
        return not self.closed

    def readinto(self, buf: Any) -> int:
        """Read into a writable buffer (``aios_manifest_stream_read``); 0 at the end."""
        arg, cap = _ffi.bytes_out(buf)
        n = ctypes.c_size_t()
        lib.aios_manifest_stream_read(self._handle(), arg, cap, ctypes.byref(n))
        return int(n.value)

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all the rest when negative); ``b""`` at the end.

        Unverified until :meth:`finish` returns: do not use them before.
        """
        if size is None or size < 0:
            parts = []
            while True:
                chunk = self.read(_READ_ALL_BLOCK)
                if not chunk:
                    return b"".join(parts)
                parts.append(chunk)
        if size == 0:
            return b""
        buf = (ctypes.c_ubyte * size)()
        n = ctypes.c_size_t()
        lib.aios_manifest_stream_read(self._handle(), buf, size, ctypes.byref(n))
        return ctypes.string_at(buf, n.value) if n.value else b""

    def read_verified(self, buf: Optional[Any] = None) -> Union[bytes, int]:
        """The next verified unit (``aios_manifest_stream_read_verified``).

        Without ``buf``: returns it as ``bytes`` (``b""`` at the end).  With a
        writable buffer (at least :attr:`unit_size` bytes, else
        :class:`aios.InvalidInputError`): fills it and returns the count
        (0 at the end).  A unit whose bytes are not the signed ones raises
        :class:`ManifestMismatchError`; nothing of it is handed out.
        """
        n = ctypes.c_size_t()
        if buf is None:
            cap = self.unit_size
            if cap > _SIZE_MAX:
                raise _ffi.error_for_status(Status.E_LIMIT, f"a unit of {cap} bytes does not fit in memory")
            out = (ctypes.c_ubyte * max(cap, 1))()
            lib.aios_manifest_stream_read_verified(self._handle(), out, max(cap, 1), ctypes.byref(n))
            return ctypes.string_at(out, n.value) if n.value else b""
        arg, cap = _ffi.bytes_out(buf)
        lib.aios_manifest_stream_read_verified(self._handle(), arg, cap, ctypes.byref(n))
        return int(n.value)

    def iter_verified(self) -> Any:
        """Yield verified units until the end."""
        while True:
            chunk = self.read_verified()
            if not chunk:
                return
            yield chunk

    def finish(self) -> None:
        """Check that what :meth:`read` handed out (and the rest of the file)
        are the signed bytes; :class:`ManifestMismatchError` if not."""
        lib.aios_manifest_stream_finish(self._handle())

    def close(self) -> None:
        """Release the stream and its descriptor.  Idempotent."""
        super().close()

    def __reduce__(self) -> Any:
        raise TypeError("aios.manifest.ManifestStream cannot be pickled")

    def __repr__(self) -> str:
        if self.closed:
            return "<aios.manifest.ManifestStream closed>"
        return f"<aios.manifest.ManifestStream size={self.size} unit={self.unit_size}>"


# =====================================================================
# Sign, hash, verify
# =====================================================================


def sign(
    model_path: PathLike,
    key: Key,
    *,
    profile: Union[Profile, int, str] = Profile.MODEL_SIGNING_1,
    method: Union[Method, int, str] = Method.FILES,
    shard_size: Optional[int] = None,
    hash_type: Optional[str] = None,
    allow_symlinks: bool = False,
    subject_name: Optional[str] = None,
    bundle_path: Optional[PathLike] = None,
    provenance: Optional[Union[Mapping[str, Any], str, bytes]] = None,
    chain: Optional[Sequence[BytesLike]] = None,
    stat_cache_path: Optional[PathLike] = None,
    threads: int = 0,
    read_size: int = 0,
    ignore_paths: Sequence[PathLike] = (),
    include_git: bool = False,
    progress: Optional[ProgressFn] = None,
) -> Tuple[bytes, Manifest]:
    """Hash the model at ``model_path`` (a directory or a file) and sign it with ``key``.

    Returns ``(bundle, manifest)``: the bundle JSON and the signed
    manifest (flags SIGNED, not VERIFIED: the signer's own view).
    ``method``: ``"files"`` or ``"shards"`` (``shard_size``, for shards
    only: default 1 000 000 000, 1 MiB .. 2**40); ``hash_type``: ``"sha256"`` (default)
    or ``"blake2b"``; ``subject_name``: default the model's basename;
    ``bundle_path``: also write the bundle there, atomically (inside the
    model it is excluded and recorded in the ignore paths);
    ``provenance``: a JSON object (mapping or text) signed with the
    statement (MANIFEST.md 5.7); ``chain``: DER certificates, leaf first
    (whose public key is ``key``'s), no root: the certificate method;
    ``stat_cache_path``: re-sign incrementally, hashing only files whose
    device, inode, size, mtime or ctime changed (only a cache owned by this
    user and writable by no one else is used: its digests are signed
    unread).
    """
    if not isinstance(key, Key):
        raise TypeError(f"key must be an aios.Key, not {type(key).__name__}")
    keep: List[Any] = []
    opts, progress_w = _sign_options(
        keep, profile=profile, method=method, shard_size=shard_size, hash_type=hash_type,
        allow_symlinks=allow_symlinks, subject_name=subject_name, bundle_path=bundle_path,
        provenance=provenance, chain=chain, stat_cache_path=stat_cache_path, threads=threads,
        read_size=read_size, ignore_paths=ignore_paths, include_git=include_git, progress=progress,
    )
    path = _path_arg(model_path)
    bundle = _ffi.aios_buffer_p()
    out = _ffi.aios_manifest_p()
    # A reference of our own: the progress callback (or another thread)
    # may close the Key while the model is hashed, before C signs with it.
    kh = key._borrow(lib.aios_key_ref)
    try:
        _run(progress_w, lambda: lib.aios_manifest_sign(
            ctypes.byref(bundle), ctypes.byref(out), path, kh, ctypes.byref(opts)))
    except BaseException:
        if bundle:
            lib.aios_buffer_free(bundle)
        if out:
            lib.aios_manifest_unref(out)
        raise
    finally:
        lib.aios_key_unref(kh)
    manifest = Manifest._adopt(out)
    return _take_bytes(bundle), manifest


def hash(  # noqa: A001 - aios.manifest.hash mirrors aios_manifest_hash
    model_path: PathLike,
    *,
    profile: Union[Profile, int, str] = Profile.MODEL_SIGNING_1,
    method: Union[Method, int, str] = Method.FILES,
    shard_size: Optional[int] = None,
    hash_type: Optional[str] = None,
    allow_symlinks: bool = False,
    subject_name: Optional[str] = None,
    bundle_path: Optional[PathLike] = None,
    stat_cache_path: Optional[PathLike] = None,
    threads: int = 0,
    read_size: int = 0,
    ignore_paths: Sequence[PathLike] = (),
    include_git: bool = False,
    progress: Optional[ProgressFn] = None,
) -> Manifest:
    """Hash without signing (``aios manifest digest``): an unsigned manifest
    (flags 0) with the resources and root digest :func:`sign` would produce
    given the same arguments.

    ``bundle_path``: where the bundle is (or will be) written, as for
    :func:`sign`: a bundle inside the model is left out and recorded in the
    ignore paths (nothing is written).  Without it, a ``model.sig`` already
    in the model is hashed as one of its files, and the root differs from
    the signed one."""
    keep: List[Any] = []
    opts, progress_w = _sign_options(
        keep, profile=profile, method=method, shard_size=shard_size, hash_type=hash_type,
        allow_symlinks=allow_symlinks, subject_name=subject_name, bundle_path=bundle_path, provenance=None,
        chain=None, stat_cache_path=stat_cache_path, threads=threads, read_size=read_size,
        ignore_paths=ignore_paths, include_git=include_git, progress=progress,
    )
    path = _path_arg(model_path)
    out = _ffi.aios_manifest_p()
    try:
        _run(progress_w, lambda: lib.aios_manifest_hash(ctypes.byref(out), path, ctypes.byref(opts)))
    except BaseException:
        if out:
            lib.aios_manifest_unref(out)
        raise
    return Manifest._adopt(out)


def verify_key(
    bundle: BytesLike,
    public_key: Key,
    *,
    profile: Union[Profile, int, str] = Profile.MODEL_SIGNING_1,
    ignore_hint: bool = False,
    no_legacy: bool = False,
    bundle_max: int = 0,
) -> Manifest:
    """Verify a bundle's signature with ``public_key`` and parse its statement.

    Nothing on disk is read.  Returns a verified :class:`Manifest`.  A
    bundle of another key: :class:`ManifestKeyMismatchError`; a bad
    signature: :class:`aios.AuthenticationError`; a certificate bundle:
    :class:`ManifestMethodError`; malformed: :class:`aios.InvalidInputError`.
    ``ignore_hint``: do not compare the bundle's key hint; ``no_legacy``:
    refuse model_signing 0.2 bundles; ``bundle_max``: a lower size cap.
    """
    if not isinstance(public_key, Key):
        raise TypeError(f"public_key must be an aios.Key, not {type(public_key).__name__}")
    keep: List[Any] = []
    opts, _ = _verify_options(keep, profile=profile, ignore_hint=ignore_hint, no_legacy=no_legacy,
                              bundle_max=bundle_max)
    pb, nb = _ffi.bytes_in(bundle)
    out = _ffi.aios_manifest_p()
    kh = public_key._borrow(lib.aios_key_ref)  # another thread may close the Key meanwhile
    try:
        lib.aios_manifest_verify_key(ctypes.byref(out), pb, nb, kh, ctypes.byref(opts))
    finally:
        lib.aios_key_unref(kh)
    return Manifest._adopt(out)


def verify_certificate(
    bundle: BytesLike,
    anchors: Union[BytesLike, str, Sequence[Union[BytesLike, str]]],
    *,
    time_policy: Union[TimePolicy, int, str] = TimePolicy.PROFILE,
    fixed_time: Optional[Union[int, datetime.datetime]] = None,
    profile: Union[Profile, int, str] = Profile.MODEL_SIGNING_1,
    no_legacy: bool = False,
    bundle_max: int = 0,
) -> Manifest:
    """The certificate method: the bundle's chain must verify to one of
    ``anchors`` (each PEM or DER certificate; every one is trusted) at the
    time ``time_policy`` names (``fixed_time``: unix seconds or a datetime,
    implies :attr:`TimePolicy.FIXED`), and the leaf must allow
    digitalSignature or code signing.

    Returns a verified :class:`Manifest`.  :class:`ManifestChainError`,
    :class:`ManifestCertUsageError`, :class:`ManifestMethodError` (a key
    bundle) and the errors of :func:`verify_key`.
    """
    if isinstance(anchors, (bytes, bytearray, memoryview, str)):
        anchors = [anchors]
    items = [a.encode("ascii") if isinstance(a, str) else a for a in anchors]
    if not items:
        raise _invalid("at least one trust anchor is needed")
    keep: List[Any] = []
    opts, _ = _verify_options(keep, profile=profile, time_policy=time_policy, fixed_time=fixed_time,
                              no_legacy=no_legacy, bundle_max=bundle_max)
    args = [_ffi.bytes_in(a) for a in items]
    ptrs = (ctypes.c_void_p * len(args))(*[_address(a) for a, _ in args])
    lens = (ctypes.c_size_t * len(args))(*[n for _, n in args])
    keep += [args, ptrs, lens]
    pb, nb = _ffi.bytes_in(bundle)
    out = _ffi.aios_manifest_p()
    lib.aios_manifest_verify_certificate(
        ctypes.byref(out), pb, nb, ptrs, lens, len(args), ctypes.byref(opts))
    return Manifest._adopt(out)


def verify_sigstore(
    bundle: BytesLike,
    trusted_root: Union[BytesLike, str],
    *,
    identity: str,
    oidc_issuer: str,
    profile: Union[Profile, int, str] = Profile.MODEL_SIGNING_1,
    bundle_max: int = 0,
) -> Manifest:
    """Sigstore keyless bundles (``model_signing sign sigstore``, its default).

    ``trusted_root`` is a Sigstore TrustedRoot JSON document (bytes or
    text), such as the one the Sigstore clients ship, or a ClientTrustConfig
    holding one (the file ``model_signing verify sigstore --trust_config``
    takes); libaios fetches nothing.  The log entry (Rekor v1: its signed entry timestamp; v1 or
    v2: its inclusion proof and checkpoint) must verify with a log key of
    that root and name this signature and certificate; its time (v1's
    integrated time, and any RFC 3161 timestamp that verifies with a
    timestamp authority of the root; a v2 entry needs one) must be proven;
    the certificate must chain to a Fulcio CA of the root at that time; its
    SubjectAltName must equal
    ``identity`` and its OIDC issuer ``oidc_issuer``, exactly, and one of
    its embedded SCTs must verify with a CT log key of the root.

    Returns a verified :class:`Manifest` (:attr:`Manifest.signer` holds the
    identity, issuer, log index, ``integrated_time`` for Rekor v1 and
    ``timestamp`` when an RFC 3161 timestamp verified).  :class:`aios.AuthenticationError`
    (the log entry or the signature), :class:`ManifestChainError`,
    :class:`ManifestKeyMismatchError` (another identity or issuer),
    :class:`ManifestMethodError` (not a keyless bundle), and the errors
    of :func:`verify_key`.
    """
    keep: List[Any] = []
    opts, _ = _verify_options(keep, profile=profile, bundle_max=bundle_max)
    root = trusted_root.encode("utf-8") if isinstance(trusted_root, str) else trusted_root
    pb, nb = _ffi.bytes_in(bundle)
    pr, nr = _ffi.bytes_in(root)
    out = _ffi.aios_manifest_p()
    lib.aios_manifest_verify_sigstore(
        ctypes.byref(out), pb, nb, pr, nr, _text_arg(identity, "identity"),
        _text_arg(oidc_issuer, "oidc_issuer"), ctypes.byref(opts))
    return Manifest._adopt(out)


def open_bundle(
    bundle: BytesLike,
    *,
    profile: Union[Profile, int, str] = Profile.MODEL_SIGNING_1,
    no_legacy: bool = False,
    bundle_max: int = 0,
) -> Manifest:
    """Parse a bundle without trust (inspection, Sigstore keyless bundles):
    an unverified :class:`Manifest` (:attr:`Manifest.verified` is False)."""
    keep: List[Any] = []
    opts, _ = _verify_options(keep, profile=profile, no_legacy=no_legacy, bundle_max=bundle_max)
    pb, nb = _ffi.bytes_in(bundle)
    out = _ffi.aios_manifest_p()
    lib.aios_manifest_open(ctypes.byref(out), pb, nb, ctypes.byref(opts))
    return Manifest._adopt(out)


def read_bundle(path: PathLike, *, bundle_max: int = 0) -> bytes:
    """Read a bundle file, refusing one larger than the cap before reading it
    (:class:`aios.LimitExceededError`)."""
    keep: List[Any] = []
    opts, _ = _verify_options(keep, bundle_max=bundle_max)
    out = _ffi.aios_buffer_p()
    lib.aios_manifest_read_bundle(ctypes.byref(out), _path_arg(path), ctypes.byref(opts))
    return _take_bytes(out)
