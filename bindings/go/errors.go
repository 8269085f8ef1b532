package aios

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"sync"
)

// Status mirrors the C enum aios_status: AIOS_OK (0) or a negative code.
// The numbers are stable forever (never renumbered, never reused), so they
// may be stored and compared across versions. Each module owns a block of
// one hundred codes (core -1..-99, key -100..-199, envelope -200..-299,
// manifest -300..-399, policy -400..-499, telemetry -500..-599, audit
// -600..-699).
//
// Status implements error so that errors.Is(err, aios.StatusFormat) can
// test for one exact code; the package itself always returns *Error, never
// a bare Status.
type Status int32

// The core status codes (include/aios/core.h).
const (
	StatusOK              Status = 0   // AIOS_OK
	StatusInvalidArgument Status = -1  // AIOS_E_INVALID_ARGUMENT: a NULL, out-of-range or contradictory argument
	StatusNoMem           Status = -2  // AIOS_E_NOMEM: an allocation failed
	StatusBufferTooSmall  Status = -3  // AIOS_E_BUFFER_TOO_SMALL: caller buffer too small
	StatusState           Status = -4  // AIOS_E_STATE: not allowed in the current state
	StatusUnsupported     Status = -5  // AIOS_E_UNSUPPORTED: not supported by this build, platform or CPU
	StatusFormat          Status = -6  // AIOS_E_FORMAT: malformed or corrupt input data
	StatusVersion         Status = -7  // AIOS_E_VERSION: unknown format, suite or options version
	StatusAuth            Status = -8  // AIOS_E_AUTH: authentication or signature verification failed
	StatusNotFound        Status = -9  // AIOS_E_NOT_FOUND: the named object does not exist
	StatusDenied          Status = -10 // AIOS_E_DENIED: denied by policy
	StatusIO              Status = -11 // AIOS_E_IO: an operating-system I/O call failed
	StatusLimit           Status = -12 // AIOS_E_LIMIT: a size, count or usage limit was exceeded
	StatusCallback        Status = -13 // AIOS_E_CALLBACK: a host callback failed; its error is passed through
	StatusCancelled       Status = -14 // AIOS_E_CANCELLED: a host callback asked to stop
	StatusInternal        Status = -15 // AIOS_E_INTERNAL: a bug or an unexpected failure of a dependency
	StatusSelftest        Status = -16 // AIOS_E_SELFTEST: a cryptographic self-test failed: do not use this build
)

// The key module's status codes (include/aios/core.h, key.h). Each has a
// kind too, so errors.Is(err, aios.StatusKeyDisabled) tests for the exact
// code and errors.Is(err, aios.ErrState) for the whole class.
const (
	StatusKeyNotFound             Status = -100 // AIOS_E_KEY_NOT_FOUND: no key with that id (ErrNotFound)
	StatusKeyVersionNotFound      Status = -101 // AIOS_E_KEY_VERSION_NOT_FOUND: the key has no such version (ErrNotFound)
	StatusKeyExists               Status = -102 // AIOS_E_KEY_EXISTS: a key (or keyring file) with that name exists (ErrState)
	StatusKeyDestroyed            Status = -103 // AIOS_E_KEY_DESTROYED: the version was destroyed: its material is gone (ErrState)
	StatusKeyDisabled             Status = -104 // AIOS_E_KEY_DISABLED: the version is disabled, or below the minimum (ErrState)
	StatusKeyDecryptOnly          Status = -105 // AIOS_E_KEY_DECRYPT_ONLY: the version may only unwrap or verify (ErrState)
	StatusKeyUsage                Status = -106 // AIOS_E_KEY_USAGE: the key's type or purposes do not allow this (ErrInvalid)
	StatusKeyUsageLimit           Status = -107 // AIOS_E_KEY_USAGE_LIMIT: the version has used up its operations (ErrLimit)
	StatusKeyNotExportable        Status = -108 // AIOS_E_KEY_NOT_EXPORTABLE: the key may not leave its provider (ErrState)
	StatusKeyExpired              Status = -109 // AIOS_E_KEY_EXPIRED: past the version's not-after time (ErrState)
	StatusKeyringPassphrase       Status = -110 // AIOS_E_KEYRING_PASSPHRASE: wrong passphrase or master key (ErrAuth)
	StatusKeyringTampered         Status = -111 // AIOS_E_KEYRING_TAMPERED: the keyring file was changed (ErrAuth)
	StatusKeyringCorrupt          Status = -112 // AIOS_E_KEYRING_CORRUPT: the keyring file is truncated or malformed (ErrInvalid)
	StatusKeyringLocked           Status = -113 // AIOS_E_KEYRING_LOCKED: another writer holds the keyring (ErrState)
	StatusPKCS11                  Status = -114 // AIOS_E_PKCS11: a PKCS#11 module or token failed (ErrIO)
	StatusPKCS11PIN               Status = -115 // AIOS_E_PKCS11_PIN: the token refused the PIN (ErrAuth)
	StatusProviderTimeout         Status = -116 // AIOS_E_PROVIDER_TIMEOUT: a provider did not answer in time (ErrCallback)
	StatusEnvelopeNoRecipient     Status = -200 // AIOS_E_ENVELOPE_NO_RECIPIENT: no recipient record matches a key the caller holds (ErrNotFound)
	StatusEnvelopeCommitment      Status = -201 // AIOS_E_ENVELOPE_COMMITMENT: the data key does not match the key commitment (ErrAuth)
	StatusEnvelopeContextMismatch Status = -202 // AIOS_E_ENVELOPE_CONTEXT_MISMATCH: the encryption context is not the one expected (ErrAuth)
	StatusEnvelopeTruncated       Status = -203 // AIOS_E_ENVELOPE_TRUNCATED: the payload ended before its final chunk (ErrAuth)
	StatusEnvelopeTrailingData    Status = -204 // AIOS_E_ENVELOPE_TRAILING_DATA: bytes follow the final chunk or the header (ErrInvalid)
	StatusEnvelopeUnknownSession  Status = -205 // AIOS_E_ENVELOPE_UNKNOWN_SESSION: a record names a session that is not open (ErrNotFound)
	StatusEnvelopeMode            Status = -206 // AIOS_E_ENVELOPE_MODE: a deterministic record under a session not made for them (ErrInvalid)
	StatusManifestMismatch        Status = -300 // AIOS_E_MANIFEST_MISMATCH: the model's files differ from the signed manifest (the diff says how) (ErrAuth)
	StatusManifestKeyMismatch     Status = -301 // AIOS_E_MANIFEST_KEY_MISMATCH: the bundle names another key, or a certificate does not hold the signing key (ErrAuth)
	StatusManifestChain           Status = -302 // AIOS_E_MANIFEST_CHAIN: the certificate chain does not verify to a trust anchor at the policy time (ErrAuth)
	StatusManifestCertUsage       Status = -303 // AIOS_E_MANIFEST_CERT_USAGE: the leaf certificate allows neither digitalSignature nor code signing (ErrAuth)
	StatusManifestRootDigest      Status = -304 // AIOS_E_MANIFEST_ROOT_DIGEST: the subject digest does not match the resource digests (ErrAuth)
	StatusManifestPredicate       Status = -305 // AIOS_E_MANIFEST_PREDICATE: not an OMS statement: payload type, predicate type or legacy pairing (ErrInvalid)
	StatusManifestPath            Status = -306 // AIOS_E_MANIFEST_PATH: a name or ignore path is not a canonical relative UTF-8 path (ErrInvalid)
	StatusManifestDuplicate       Status = -307 // AIOS_E_MANIFEST_DUPLICATE: two resources have the same name (ErrInvalid)
	StatusManifestSignatures      Status = -308 // AIOS_E_MANIFEST_SIGNATURES: the envelope does not hold exactly one signature (ErrInvalid)
	StatusManifestSymlink         Status = -309 // AIOS_E_MANIFEST_SYMLINK: a symlink where none is allowed, or one that leaves the model, dangles or loops (ErrInvalid)
	StatusManifestSpecialFile     Status = -310 // AIOS_E_MANIFEST_SPECIAL_FILE: a FIFO, socket or device inside the model (ErrInvalid)
	StatusManifestNotSigned       Status = -311 // AIOS_E_MANIFEST_NOT_SIGNED: the file or range is not named by the manifest (ErrNotFound)
	StatusManifestUnverified      Status = -312 // AIOS_E_MANIFEST_UNVERIFIED: the operation needs a verified manifest; this one was only parsed (ErrState)
	StatusManifestChanged         Status = -313 // AIOS_E_MANIFEST_CHANGED: a file changed or was truncated while it was hashed (ErrIO)
	StatusManifestEmpty           Status = -314 // AIOS_E_MANIFEST_EMPTY: no resources, or nothing to sign (ErrInvalid)
	StatusManifestMethod          Status = -315 // AIOS_E_MANIFEST_METHOD: the bundle's verification material is not the method the caller trusts (ErrInvalid)
)

// Name is the C constant's name, for example "AIOS_E_AUTH"
// (aios_status_name). An unknown code yields "AIOS_E_UNKNOWN".
func (s Status) Name() string { return StatusName(s) }

// String returns s.Name().
func (s Status) String() string { return StatusName(s) }

// Kind is the coarse kind of s (aios_status_kind).
func (s Status) Kind() Kind { return StatusKind(s) }

// Error makes a Status usable as an errors.Is target. It returns the name,
// like String, so a Status prints the same with every fmt verb.
func (s Status) Error() string { return StatusName(s) }

// StatusName returns the name of a status code, for example "AIOS_E_AUTH"
// (aios_status_name); "AIOS_E_UNKNOWN" for a code this library does not
// know.
func StatusName(s Status) string {
	return C.GoString(C.aios_status_name(C.int(s)))
}

// StatusString returns a short English description of a status code, for
// example "authentication failed" (aios_status_str).
func StatusString(s Status) string {
	return C.GoString(C.aios_status_str(C.int(s)))
}

// StatusKind returns the coarse kind of a status code (aios_status_kind);
// KindInternal for a code this library does not know.
func StatusKind(s Status) Kind {
	return Kind(C.aios_status_kind(C.int(s)))
}

// Kind mirrors the C enum aios_error_kind: the few coarse classes callers
// branch on without knowing every status code. Test for a kind with
// errors.Is and its sentinel (errors.Is(err, aios.ErrAuth)), or compare
// (*Error).Kind.
type Kind int32

// The error kinds (include/aios/core.h).
const (
	KindNone     Kind = 0  // AIOS_KIND_NONE: success
	KindInvalid  Kind = 1  // AIOS_KIND_INVALID: arguments, malformed or unsupported data
	KindAuth     Kind = 2  // AIOS_KIND_AUTH: authentication or verification failed
	KindNotFound Kind = 3  // AIOS_KIND_NOT_FOUND: no such key, file, version, ...
	KindDenied   Kind = 4  // AIOS_KIND_DENIED: denied by policy
	KindIO       Kind = 5  // AIOS_KIND_IO: the operating system reported an I/O error
	KindLimit    Kind = 6  // AIOS_KIND_LIMIT: a size, count or usage limit was exceeded
	KindState    Kind = 7  // AIOS_KIND_STATE: wrong state or usage
	KindResource Kind = 8  // AIOS_KIND_RESOURCE: out of memory
	KindCallback Kind = 9  // AIOS_KIND_CALLBACK: a host callback failed or cancelled the operation
	KindInternal Kind = 10 // AIOS_KIND_INTERNAL: a bug in libaios or a dependency
)

// Sentinel errors, one per kind, for errors.Is. Every error this package
// returns is an *Error whose Is method matches the sentinel of its kind.
var (
	ErrInvalid  error = kindError(KindInvalid)  // invalid input: arguments, malformed or unsupported data
	ErrAuth     error = kindError(KindAuth)     // authentication or verification failed
	ErrNotFound error = kindError(KindNotFound) // no such key, file, version, ...
	ErrDenied   error = kindError(KindDenied)   // denied by policy
	ErrIO       error = kindError(KindIO)       // the operating system reported an I/O error
	ErrLimit    error = kindError(KindLimit)    // a size, count or usage limit was exceeded
	ErrState    error = kindError(KindState)    // wrong state or usage (closed handle, too late, ...)
	ErrResource error = kindError(KindResource) // out of memory
	ErrCallback error = kindError(KindCallback) // a host callback failed or cancelled the operation
	ErrInternal error = kindError(KindInternal) // a bug in libaios or a dependency; report it
)

// kindError is the type of the sentinels: one comparable value per kind.
type kindError Kind

func (k kindError) Error() string { return "aios: " + ErrorKindName(Kind(k)) + " error" }

// Sentinel returns the sentinel error of k (ErrAuth for KindAuth, ...), or
// nil for KindNone.
func (k Kind) Sentinel() error {
	if k == KindNone {
		return nil
	}
	return kindError(k)
}

// ErrorKindName returns the stable token of a kind: "invalid", "auth",
// "not_found", ... (aios_error_kind_name); "unknown" for anything else.
func ErrorKindName(k Kind) string {
	return C.GoString(C.aios_error_kind_name(C.aios_error_kind(k)))
}

// String returns ErrorKindName(k).
func (k Kind) String() string { return ErrorKindName(k) }

// Error is the error every failing function of this package returns.
//
// Status, Name and Kind identify the failure; Message is libaios' own
// description of it (what failed and why, with context such as a file
// name), taken on the thread that failed, in the same cgo call. Messages
// never contain key bytes, plaintext, passphrases or PINs.
//
// When a Go callback (a key provider, a telemetry sink, a self-test
// callback) returns an error, the library call stops and fails with
// StatusCallback, and Unwrap returns the callback's error unchanged, so
// errors.Is and errors.As reach it. A callback that returns StatusCancelled
// (or an error wrapping it) stops the call with StatusCancelled instead.
type Error struct {
	Status  Status // the exact code, for example StatusAuth
	Name    string // the code's name, for example "AIOS_E_AUTH"
	Kind    Kind   // the coarse kind, for example KindAuth
	Message string // libaios' description of this failure; may be empty

	cause      error // a host callback's error (StatusCallback, StatusCancelled)
	causeShown bool  // Message already ends with the whole of cause's text
}

// Error formats the failure as "aios: <message> (<name>)", followed by
// ": <cause>" when a host callback's error is attached and Message does
// not already end with its text (a callback provider's message carries
// the host's error text).
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = StatusString(e.Status)
	}
	s := "aios: " + msg + " (" + e.Name + ")"
	if e.cause != nil && !e.causeShown {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap returns the error of the host callback that made the call fail,
// or nil.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is the sentinel of e's kind (ErrAuth, ...) or
// e's exact Status (StatusAuth, ...).
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case kindError:
		return e.Kind == Kind(t)
	case Status:
		return e.Status == t
	}
	return false
}

// cErr is the C-side error record that every shim fills on failure.  It is
// about 1 KiB, so records are pooled rather than allocated per call.
type cErr = C.aiosgo_err

var cErrPool = sync.Pool{New: func() any { return new(cErr) }}

func getCErr() *cErr  { return cErrPool.Get().(*cErr) }
func putCErr(e *cErr) { cErrPool.Put(e) }

// errorFrom converts a shim's result into a Go error: nil for AIOS_OK,
// else an *Error built from what the shim copied in the same cgo call.
func errorFrom(rc C.int, e *cErr) error {
	if rc == C.AIOS_OK {
		return nil
	}
	return makeError(rc, e)
}

func makeError(rc C.int, e *cErr) *Error {
	out := &Error{
		Status:  Status(rc),
		Kind:    Kind(e.kind),
		Message: C.GoString(&e.message[0]),
	}
	if e.name != nil {
		out.Name = C.GoString(e.name)
	} else {
		out.Name = StatusName(out.Status)
	}
	return out
}

// newError builds an *Error for a failure detected on the Go side (a
// closed handle, a negative length) in the same shape as libaios' own.
func newError(s Status, message string) *Error {
	return &Error{Status: s, Name: StatusName(s), Kind: StatusKind(s), Message: message}
}
