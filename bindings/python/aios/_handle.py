"""The lifecycle shared by every class that owns a libaios handle (private).

:class:`aios.Buffer`, :class:`aios.Key`, :class:`aios.Keyring`,
:class:`aios.Provider`, :class:`aios.CacheEntry` and
:class:`aios.DataKeyCache` wrap one C object each.  :class:`_Handle` gives
them the same life:

* ``self._own(handle, release)``, called once the C object exists, arms a
  ``weakref.finalize`` that runs ``release(handle)`` exactly once: on
  :meth:`_Handle.close`, or as a safety net when the object is garbage
  collected (or at interpreter exit) without having been closed;
* :attr:`_Handle.closed`; ``_handle()`` returns the C handle, or raises
  :class:`aios.StateError` with the class's ``_closed_message`` once closed
  (``close`` sets ``_handle_`` to None, so a hot path may read that slot
  itself and raise ``_closed_error()`` on None);
* :meth:`_Handle.close` is idempotent; a subclass may refuse it by raising
  ``BufferError`` from ``_check_close()`` (memoryviews still alive);
* ``self._borrow(ref)`` takes a reference of its own to a reference-counted
  C object (``ref`` is ``aios_<x>_ref``) for a call during which the
  Python object may be closed: from a callback that the call runs, or from
  another thread.  The caller drops it (``aios_<x>_unref``) in a
  ``finally``; a close meanwhile only drops the object's own reference.
  A lock orders it against a close's clearing of the slot, so a borrow
  either raises StateError or gets a reference that outlives the close;
* ``with`` enters only while open and closes on exit, never hiding the
  exception in flight behind a ``BufferError`` from a refused close (the
  finalizer releases the handle later).
"""

from __future__ import annotations

import threading
import weakref
from types import TracebackType
from typing import Any, Callable, ClassVar, Optional, Type, TypeVar

from . import _ffi
from .errors import Status

_H = TypeVar("_H", bound="_Handle")

#: Orders ``_borrow`` (read the slot, take a reference) against the
#: finalizer's clearing of the slot.  Held for an atomic increment at most;
#: re-entrant, since a garbage collection on the borrowing thread may run
#: some other object's finalizer.
_slot_lock = threading.RLock()


def _release(release: Callable[[Any], Any], handle: Any, ref: "weakref.ReferenceType[_Handle]") -> None:
    """The finalizer: clear the owner's slot first (hot paths read
    ``_handle_`` directly, None saying closed), then release."""
    owner = ref()
    if owner is not None:
        with _slot_lock:
            owner._handle_ = None
    release(handle)


class _Handle:
    """Base of the handle classes; see the module doc."""

    __slots__ = ("_handle_", "_finalizer", "__weakref__")

    #: The StateError message of any use after close, e.g.
    #: ``"aios.Key: the key handle is closed"`` (kept whole so it can be grepped).
    _closed_message: ClassVar[str] = "aios: the handle is closed"

    _handle_: Any
    #: Runs the release function once; None for a handle this object does
    #: not own (a borrowed :class:`aios.Provider`, which overrides
    #: :attr:`closed` and ``_handle()``).
    _finalizer: Optional["weakref.finalize[[Any], _Handle]"]

    def _own(self, handle: Any, release: Callable[[Any], Any]) -> None:
        """Take ownership of ``handle``: ``release(handle)`` runs exactly once."""
        self._handle_ = handle
        # The callback must not refer to self, or the object would never
        # die: a weak reference lets it clear the slot (at close, and at
        # interpreter exit while the object is still alive).
        self._finalizer = weakref.finalize(self, _release, release, handle, weakref.ref(self))

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran."""
        return self._finalizer is None or not self._finalizer.alive

    def _handle(self) -> Any:
        """The handle for passing to C; StateError once closed."""
        handle = self._handle_   # None once closed (see close)
        if handle is None:
            raise self._closed_error()
        return handle

    def _borrow(self, ref: Callable[[Any], Any]) -> Any:
        """``ref(handle)``: a reference of the caller's own, to drop in a
        ``finally`` with the matching unref; StateError once closed."""
        with _slot_lock:
            handle = self._handle_
            if handle is not None:
                return ref(handle)
        raise self._closed_error()

    def _closed_error(self) -> Exception:
        """The StateError of a use after close."""
        return _ffi.error_for_status(Status.E_STATE, self._closed_message)

    def _check_close(self) -> None:
        """Raise (``BufferError``) to refuse :meth:`close`; runs only while open."""

    def close(self) -> None:
        """Release the handle.  Idempotent."""
        finalizer = self._finalizer
        if finalizer is None or not finalizer.alive:
            return
        self._check_close()
        finalizer()   # clears _handle_ (see _release)

    def __enter__(self: _H) -> _H:
        self._handle()
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if exc_type is None:
            self.close()
            return
        try:
            self.close()
        except BufferError:
            # Do not hide the exception in flight; the finalizer releases
            # the handle once the last view is gone.
            pass
