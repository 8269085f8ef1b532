package aios

import (
	"runtime"
	"sync"
)

// handle owns one libaios object (an aios_buffer, aios_key, aios_keyring,
// aios_provider, aios_dkcache, aios_dkcache_entry, the envelope handles,
// aios_manifest or aios_manifest_stream).  Every Go type that wraps a C
// handle embeds one and follows the same rules:
//
//   - Close is idempotent and never blocks: it marks the handle closed and
//     stops the cleanup at once.  Calls already running finish on the
//     object, which is freed (exactly once) when the last of them returns;
//     if none is running, Close frees it itself.  So Close may be called
//     from any goroutine, also from a callback that a method of the same
//     handle is running.
//   - New calls after Close get an ErrState error instead of a crash.
//   - A runtime cleanup frees the object if the Go value becomes
//     unreachable without Close (a safety net: call Close).
//   - Methods take the handle with read (or write, when the C function
//     writes to the object) for as long as they use the C pointer, and give
//     it back with runlock (or unlock).  Among live calls, readers share an
//     RWMutex and writers hold it alone; Close does not take it.
//   - Methods end with runtime.KeepAlive(owner) after the last use of the
//     pointer, so the cleanup cannot run while C still uses the object.
//
// The design is that of Go's internal/poll fdMutex: a small state mutex
// guards {ptr, users, closed}; read and write first count the caller as a
// user (or fail if closed), then take the RWMutex; runlock and unlock drop
// the RWMutex, then the user, and the last user of a closed handle frees
// the object, outside the state mutex.
//
// P is the C pointer type (*C.aios_buffer); its zero value means no object.
// (cgo's incomplete C struct types cannot be type arguments themselves.)
// A handle that borrows its object (a keyring's Provider) sets ptr
// directly and closes with a free function that does nothing.
type handle[P comparable] struct {
	state  sync.Mutex // guards ptr, users, closed and free
	ptr    P
	users  int     // calls between read/write and runlock/unlock
	closed bool    // Close was called: no new users
	free   func(P) // set by a Close that left the freeing to the last user

	mu      sync.RWMutex // orders readers against writers among users
	cleanup runtime.Cleanup
}

// attachHandle gives h the object p and registers free(p) as the cleanup of
// owner, the Go value that embeds h.  free must not refer to owner.
func attachHandle[O any, P comparable](owner *O, h *handle[P], p P, free func(P)) {
	h.ptr = p
	h.cleanup = runtime.AddCleanup(owner, free, p)
}

// acquire counts the caller as a user and returns the object, or an
// ErrState error naming typ if the handle is closed.  Balance with release.
func (h *handle[P]) acquire(typ string) (P, error) {
	var zero P
	h.state.Lock()
	if h.closed || h.ptr == zero {
		h.state.Unlock()
		return zero, closedError(typ)
	}
	h.users++
	p := h.ptr
	h.state.Unlock()
	return p, nil
}

// release drops a user; the last user of a closed handle frees the object.
func (h *handle[P]) release() {
	var zero P
	var p P
	var free func(P)
	h.state.Lock()
	h.users--
	if h.users == 0 && h.closed && h.free != nil {
		p, free = h.ptr, h.free
		h.ptr, h.free = zero, nil
	}
	h.state.Unlock()
	if free != nil {
		free(p)
	}
}

// isClosed says whether Close was called.
func (h *handle[P]) isClosed() bool {
	h.state.Lock()
	defer h.state.Unlock()
	return h.closed
}

// read returns the object with the read lock held, or an ErrState error
// naming typ if it is closed (also if Close came while the caller waited
// for a writer).  On success the caller must call h.runlock.
func (h *handle[P]) read(typ string) (P, error) {
	p, err := h.acquire(typ)
	if err != nil {
		return p, err
	}
	h.mu.RLock()
	if h.isClosed() {
		h.runlock()
		var zero P
		return zero, closedError(typ)
	}
	return p, nil
}

func (h *handle[P]) runlock() {
	h.mu.RUnlock()
	h.release()
}

// write is read with the write lock; release with h.unlock.
func (h *handle[P]) write(typ string) (P, error) {
	p, err := h.acquire(typ)
	if err != nil {
		return p, err
	}
	h.mu.Lock()
	if h.isClosed() {
		h.unlock()
		var zero P
		return zero, closedError(typ)
	}
	return p, nil
}

func (h *handle[P]) unlock() {
	h.mu.Unlock()
	h.release()
}

// close marks the handle closed and stops the cleanup; it frees the object
// now if no call is using it, else leaves free to the last user's release.
// It never blocks on calls in flight; later calls do nothing.  free may
// refer to the owner (it is not a cleanup).
func (h *handle[P]) close(free func(P)) {
	var zero P
	h.state.Lock()
	if h.closed {
		h.state.Unlock()
		return
	}
	h.closed = true
	p := h.ptr
	if h.users > 0 {
		if p != zero {
			h.free = free
		}
		h.state.Unlock()
		h.cleanup.Stop()
		return
	}
	h.ptr = zero
	h.state.Unlock()
	h.cleanup.Stop()
	if p != zero {
		free(p)
	}
}

func closedError(typ string) error {
	return newError(StatusState, "aios."+typ+": used after Close")
}

func nilError(typ string) error {
	return newError(StatusInvalidArgument, "aios."+typ+": nil receiver")
}
