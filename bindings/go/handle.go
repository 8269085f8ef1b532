package aios

import (
	"runtime"
	"sync"
)

// handle owns one libaios object (an aios_buffer, aios_key, aios_keyring,
// aios_provider, aios_dkcache or aios_dkcache_entry; envelopes and
// manifests later).  Every Go type that wraps a C handle
// embeds one and follows the same rules:
//
//   - Close is idempotent: it frees the object once and stops the cleanup.
//   - A runtime cleanup frees the object if the Go value becomes
//     unreachable without Close (a safety net: call Close).
//   - Methods take the read lock (or the write lock when the C function
//     writes to the object) for as long as they use the C pointer, so a
//     Close racing with a call waits for it instead of freeing memory under
//     it, and a use after Close gets an ErrState error instead of a crash.
//   - Methods end with runtime.KeepAlive(owner) after the last use of the
//     pointer, so the cleanup cannot run while C still uses the object.
//
// P is the C pointer type (*C.aios_buffer); its zero value means closed.
// (cgo's incomplete C struct types cannot be type arguments themselves.)
type handle[P comparable] struct {
	mu      sync.RWMutex
	ptr     P
	cleanup runtime.Cleanup
}

// attachHandle gives h the object p and registers free(p) as the cleanup of
// owner, the Go value that embeds h.  free must not refer to owner.
func attachHandle[O any, P comparable](owner *O, h *handle[P], p P, free func(P)) {
	h.ptr = p
	h.cleanup = runtime.AddCleanup(owner, free, p)
}

// read returns the object with the read lock held, or an ErrState error
// naming typ if it is closed.  On success the caller must call h.runlock.
func (h *handle[P]) read(typ string) (P, error) {
	var zero P
	h.mu.RLock()
	if h.ptr == zero {
		h.mu.RUnlock()
		return zero, closedError(typ)
	}
	return h.ptr, nil
}

func (h *handle[P]) runlock() { h.mu.RUnlock() }

// write is read with the write lock; release with h.unlock.
func (h *handle[P]) write(typ string) (P, error) {
	var zero P
	h.mu.Lock()
	if h.ptr == zero {
		h.mu.Unlock()
		return zero, closedError(typ)
	}
	return h.ptr, nil
}

func (h *handle[P]) unlock() { h.mu.Unlock() }

// close frees the object once; later calls do nothing.
func (h *handle[P]) close(free func(P)) {
	var zero P
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ptr == zero {
		return
	}
	h.cleanup.Stop()
	free(h.ptr)
	h.ptr = zero
}

func closedError(typ string) error {
	return newError(StatusState, "aios."+typ+": used after Close")
}

func nilError(typ string) error {
	return newError(StatusInvalidArgument, "aios."+typ+": nil receiver")
}
