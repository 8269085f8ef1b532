// Package aios is the Go binding of libaios, the embeddable C library for
// keys, envelopes, signed models, policy and audit in AI workloads.
//
// The package calls the installed C library through cgo and finds it with
// pkg-config (module "aios"): set PKG_CONFIG_PATH to the directory holding
// aios.pc, and LD_LIBRARY_PATH to the library directory if it is not a
// system one. It covers the whole public C API; a test fails if a function
// of lib/libaios.map has no Go counterpart.
//
// # Errors
//
// Every fallible function returns an *Error carrying the C status code
// (Status), its name, its coarse Kind and the library's message, which
// says what failed and why. Branch on the kind with errors.Is and the
// sentinels ErrInvalid, ErrAuth, ErrNotFound, ErrDenied, ErrIO, ErrLimit,
// ErrState, ErrResource, ErrCallback and ErrInternal, or on one exact code
// with errors.Is(err, aios.StatusFormat):
//
//	if errors.Is(err, aios.ErrAuth) { ... } // tampered data, wrong key
//	var e *aios.Error
//	if errors.As(err, &e) { log.Print(e.Name, e.Message) }
//
// libaios keeps error details per OS thread, and a goroutine may change
// threads between two cgo calls, so the binding copies them inside the
// failing call itself (a small C shim per function). LastErrorMessage,
// SetError and friends exist for completeness and are rarely useful from
// Go.
//
// # Callbacks
//
// Where libaios calls back into the host (the self-test callback, key
// providers; telemetry sinks later), the binding passes a runtime/cgo.Handle
// through C and back. A Go callback that returns an error stops the
// library call, which fails with StatusCallback, and the returned *Error
// unwraps to the callback's error unchanged, so errors.Is and errors.As
// reach it. A callback that returns StatusCancelled (or an error wrapping
// it) stops the call cleanly: it fails with StatusCancelled. A callback
// that panics does not unwind through C: the library call stops and the
// panic is raised again, with its original value, in the goroutine that
// made the call.
//
// # Keys
//
// Keyring (CreateKeyring, OpenKeyring) holds named, versioned keys in an
// encrypted file; Key is a handle to one version, for Wrap, Unwrap, Sign,
// Verify, MAC, Agree and the public key; Provider gives keys from a
// PKCS#11 token (NewPKCS11Provider) or from a KMS written in Go
// (NewCallbackProvider); DataKeyCache keeps unwrapped data keys. The key
// statuses (StatusKeyDisabled, StatusKeyringLocked, ...) work with
// errors.Is like the others. A callback provider's methods run on the
// library's worker threads; their errors and panics still come back to
// the goroutine that made the library call (see KMS).
//
// # Handles and memory
//
// Types that wrap a C object (Buffer, Key, Keyring, Provider,
// DataKeyCache, CacheEntry, the envelope handles, Manifest and
// ManifestStream) are released with Close, which is idempotent; a runtime
// cleanup releases a forgotten one when it is garbage collected. Handles
// are safe for concurrent use. Close returns at once, from any goroutine
// (also from a callback of a call on the same handle): calls already
// running finish on the object, which is released when the last of them
// returns; calls made after Close return an error of kind ErrState
// instead of touching freed memory.
//
// Secrets the library returns live in secure Buffers (guarded, locked
// memory, wiped on Close). Buffer.View gives access to them in place;
// Buffer.Bytes copies them into ordinary Go memory, which Go may copy
// again and cannot lock: Wipe copies you make when done.
//
// # Threads
//
// Every function may be called from any goroutine. Init runs once, however
// many goroutines call it; functions that need the library initialise it
// themselves. SetAllocator is the exception: it must run before the
// library is initialised.
package aios
