package aios

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"math"
	"runtime"
	"runtime/cgo"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Provider is a source of keys (aios_provider): a keyring ("local", from
// Keyring.Provider), a PKCS#11 token ("pkcs11", NewPKCS11Provider), or the
// host's own KMS ("callback:<name>", NewCallbackProvider). GetKey returns
// handles to its keys.
//
// Providers are reference counted in the library: Close drops this
// Provider's reference; keys taken from it keep the provider alive, so a
// callback provider's host code may still be called (for their
// operations) after Close. A Provider is safe for concurrent use.
type Provider struct {
	h      handle[*C.aios_provider]
	kms    *kmsState // a callback provider's Go side
	parent *Keyring  // a keyring's borrowed provider: its owner
}

func freeProvider(p *C.aios_provider) { C.aios_provider_unref(p) }
func forgetProvider(*C.aios_provider) {}

func newProvider(p *C.aios_provider, kms *kmsState) *Provider {
	pr := &Provider{kms: kms}
	attachHandle(pr, &pr.h, p, freeProvider)
	return pr
}

// use runs fn with the provider (and its keyring, for a borrowed one)
// read-locked.
func (pr *Provider) use(fn func(p *C.aios_provider)) error {
	if pr == nil {
		return nilError("Provider")
	}
	if pr.parent != nil {
		if _, err := pr.parent.h.read("Keyring"); err != nil {
			return newError(StatusState, "aios.Provider: its Keyring was closed")
		}
		defer pr.parent.h.runlock()
	}
	p, err := pr.h.read("Provider")
	if err != nil {
		return err
	}
	fn(p)
	pr.h.runlock()
	runtime.KeepAlive(pr)
	return nil
}

// Name returns the provider's name: "local", "pkcs11" or
// "callback:<name>" (aios_provider_name); "" after Close.
func (pr *Provider) Name() string {
	var name string
	_ = pr.use(func(p *C.aios_provider) { name = goStringOrEmpty(C.aios_provider_name(p)) })
	return name
}

// Ref returns a new *Provider for the same provider holding a reference of
// its own (aios_provider_ref); both must be closed. The Ref of a
// keyring's borrowed provider is borrowed too.
func (pr *Provider) Ref() (*Provider, error) {
	var out *Provider
	err := pr.use(func(p *C.aios_provider) {
		if pr.parent != nil {
			out = &Provider{parent: pr.parent}
			out.h.ptr = p
			return
		}
		out = newProvider(C.aios_provider_ref(p), pr.kms)
	})
	return out, err
}

// Close drops this Provider's reference (aios_provider_unref); for a
// keyring's borrowed provider it only forgets it. Keys taken from the
// provider stay valid. Idempotent; always nil.
func (pr *Provider) Close() error {
	if pr == nil {
		return nil
	}
	if pr.parent != nil {
		pr.h.close(forgetProvider)
	} else {
		pr.h.close(freeProvider)
	}
	runtime.KeepAlive(pr)
	return nil
}

// GetKey returns a handle to version of key id (aios_provider_get_key);
// version 0 means the current version. For a PKCS#11 token the id is the
// key's CKA_LABEL and the version is 1. For a callback provider this calls
// the host's Describe (and PublicKey, for an asymmetric key): their error
// comes back as described at NewCallbackProvider.
func (pr *Provider) GetKey(id string, version uint32) (*Key, error) {
	cid, err := cString("Provider.GetKey: key id", id)
	if err != nil {
		return nil, err
	}
	defer freeCString(cid)
	var out *C.aios_key
	var rc C.int
	var seq uint64
	e := getCErr()
	defer putCErr(e)
	err = pr.use(func(p *C.aios_provider) {
		seq = pr.kms.begin()
		rc = C.aiosgo_provider_get_key(p, &out, cid, C.uint32_t(version), e)
	})
	if err != nil {
		return nil, err
	}
	if err := pr.kms.finish(seq, rc, e); err != nil {
		return nil, err
	}
	return newKey(out, pr.kms), nil
}

// NewPKCS11Provider loads a PKCS#11 module and logs in to the token an RFC
// 7512 URI names (token=, serial=, slot-id=, ...; aios_provider_pkcs11).
// module "" takes the URI's absolute module-path; pin "" takes the URI's
// pin-value, else its pin-source (file: only). The PIN is copied into
// guarded C memory for the call and wiped after it (a Go string itself
// cannot be wiped).
//
// Keys are found by their CKA_LABEL (GetKey's id) and have version 1 (0
// names it too; others are StatusKeyVersionNotFound). AES keys wrap and
// unwrap inside the token (AES-GCM where it offers it, else AES key wrap
// with padding); EC keys (P-256, P-384) sign inside it and verify here.
// Keys are never exportable. The provider may be used from any number of
// goroutines; a process that forks must open a new provider in the child.
//
// Errors: StatusNotFound when no token matches the URI, StatusInvalidArgument
// when several do, StatusPKCS11 (ErrIO) when the module or token fails,
// StatusPKCS11PIN (ErrAuth) when the token refuses the PIN (or, once this
// process is logged in to the token, when the PIN differs from the first
// one).
func NewPKCS11Provider(module, uri string, pin string) (*Provider, error) {
	var cmod *C.char
	var err error
	if module != "" {
		if cmod, err = cString("NewPKCS11Provider: module", module); err != nil {
			return nil, err
		}
		defer freeCString(cmod)
	}
	curi, err := cString("NewPKCS11Provider: uri", uri)
	if err != nil {
		return nil, err
	}
	defer freeCString(curi)
	hasPin := C.int(0)
	if pin != "" {
		if strings.IndexByte(pin, 0) >= 0 {
			return nil, newError(StatusInvalidArgument, "aios.NewPKCS11Provider: pin contains a NUL byte")
		}
		hasPin = 1
	}
	pp, pn := stringArg(pin)
	var out *C.aios_provider
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_provider_pkcs11(&out, cmod, curi, (*C.uint8_t)(unsafe.Pointer(pp)), pn, hasPin, e)
	runtime.KeepAlive(pin)
	if err := errorFrom(rc, e); err != nil {
		return nil, err
	}
	return newProvider(out, nil), nil
}

// ------------------------------------------------- callback providers

// ProviderKeyInfo is what a KMS reports about one of its keys
// (aios_provider_key_info).
type ProviderKeyInfo struct {
	// Version is the version the host resolved (>= 1). 0 means the
	// version asked for, which is only valid when one was asked for.
	Version   uint32
	Type      KeyType
	Purposes  KeyUse    // 0: the type's natural purposes
	State     KeyState  // 0: KeyActive
	CreatedAt time.Time // zero: unknown
}

// A callback provider's key keeps the State its Describe reported when
// the handle was made: get the key again to see a change. Its keys are
// never exportable.

// KMS is a key provider written in Go: a cloud KMS, Vault transit, a test
// fake. Describe is required; what else the provider can do follows from
// the optional interfaces the value also implements: Wrapper, Unwrapper,
// Signer and PublicKeyer (AIOS_PROVIDER_CAN_*). A key operation the KMS
// cannot do fails with StatusUnsupported.
//
// The library calls these methods on its own worker threads, one per
// call, several at once, so they must be safe for concurrent use. ctx
// carries the deadline: the time left before the library gives up on the
// call (it then fails with StatusProviderTimeout and the late result is
// discarded). Pass it on to your KMS client.
//
// Byte slices given to the methods alias library memory that is valid
// only until the method returns: copy what you keep. Secrets among them
// (Wrap's dataKey) live in guarded memory.
//
// Errors: return nil or an error. An error makes the library call fail
// with StatusCallback, and the *Error it returns unwraps to your error,
// unchanged, so errors.Is and errors.As reach it. To fail with a
// particular status instead, return an aios Status or *Error (or an error
// wrapping one): Unwrap returning aios.StatusAuth makes Key.Unwrap fail
// with StatusAuth (ErrAuth), again with your error attached if it is more
// than the bare Status. The *Error's Message is the library's, with your
// error's text in it: "callback:<name>: unwrap of key '<id>': <text>"
// (cut if long; Error() then adds the whole text). A panic is recovered
// on the worker thread (it would otherwise kill the process), the call
// fails, and the panic is raised again, with its value, in the goroutine
// that made the library call; see LateFailureHandler for calls nobody
// waits for any more. Each error or panic goes back to the library call
// that made the host call, even among identical requests in flight at
// once: the binding files it under a token of its own and puts the token
// in the worker thread's error message (SetError), which the library
// carries back to the calling thread.
type KMS interface {
	Describe(ctx context.Context, keyID string, version uint32) (ProviderKeyInfo, error)
}

// Wrapper is implemented by a KMS that can wrap data keys
// (AIOS_PROVIDER_CAN_WRAP); the result is at most KeyWrappedMax bytes.
type Wrapper interface {
	Wrap(ctx context.Context, keyID string, version uint32, dataKey, ad []byte) ([]byte, error)
}

// Unwrapper is implemented by a KMS that can unwrap data keys
// (AIOS_PROVIDER_CAN_UNWRAP); the result is at most KeyDataKeyMax bytes.
// The binding copies it into guarded memory and then wipes the returned
// slice: return a slice of your own that you no longer need.
type Unwrapper interface {
	Unwrap(ctx context.Context, keyID string, version uint32, wrapped, ad []byte) ([]byte, error)
}

// Signer is implemented by a KMS that can sign (AIOS_PROVIDER_CAN_SIGN):
// Ed25519 (64 bytes) or DER ECDSA over the curve's hash of msg, at most
// 1024 bytes. When the KMS is also a PublicKeyer, the library checks each
// signature against the public key before returning it (a KMS that signs
// with another key fails with StatusCallback).
type Signer interface {
	Sign(ctx context.Context, keyID string, version uint32, msg []byte) ([]byte, error)
}

// PublicKeyer is implemented by a KMS that can return the public key of
// an asymmetric key as SubjectPublicKeyInfo DER, at most 4096 bytes
// (AIOS_PROVIDER_CAN_PUBLIC_KEY). GetKey asks for it, so that Verify,
// PublicPEM and PublicRaw work on the key.
type PublicKeyer interface {
	PublicKey(ctx context.Context, keyID string, version uint32) ([]byte, error)
}

// LateFailureHandler is implemented by a KMS that wants to hear of the
// failures of its calls that no library call waits for any more: the
// library gave up on them (StatusProviderTimeout) before they failed.
// LateFailure is called, once per failure, when the host call fails or
// at the latest when the last library call on the provider that began
// before the failure returns; the binding keeps nothing of it after
// that. err is the method's error, or a *PanicError for a panic. Without
// it, late errors are dropped and late panics are logged with the
// standard log package. op is "describe", "wrap", "unwrap", "sign" or
// "public_key".
type LateFailureHandler interface {
	LateFailure(op, keyID string, version uint32, err error)
}

// PanicError is a panic recovered from a KMS method, as given to
// LateFailureHandler.
type PanicError struct {
	Value any    // what the method panicked with
	Stack []byte // the goroutine's stack at the panic
}

func (p *PanicError) Error() string { return fmt.Sprintf("aios: a KMS method panicked: %v", p.Value) }

// Unwrap returns the panic value if it is an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// kmsOp names a host call.
type kmsOp int

const (
	kmsNone      kmsOp = iota // a key operation that never calls the host
	kmsWrap                   // AIOSGO_OP_WRAP
	kmsUnwrap                 // AIOSGO_OP_UNWRAP
	kmsSign                   // AIOSGO_OP_SIGN
	kmsPublicKey              // AIOSGO_OP_PUBLIC_KEY (part of GetKey)
	kmsDescribe               // describe (part of GetKey)
)

// kmsOpNames are the library's names of the host calls (cb_op_names in
// lib/key/callback.c), which it puts in its messages.
var kmsOpNames = map[kmsOp]string{
	kmsWrap: "wrap", kmsUnwrap: "unwrap", kmsSign: "sign",
	kmsPublicKey: "public_key", kmsDescribe: "describe",
}

// How a host's error finds its way back.
//
// The library runs each host call on a worker thread of its own, while
// the goroutine that made the library call waits in C on another thread,
// and the payload is per provider, not per call. What the library does
// carry from the worker to the calling thread is the worker's error
// message (aios_error_set; see core.h), after a prefix of its own. So a
// failing host call files its Go error (or panic) in the provider's
// failures table under a fresh token (an increasing uint64) and records
// "<the error's text> [aios-go-err:<token>]" on the worker thread; the
// library call's shim copies the message on the calling thread in the
// same cgo call, and finish takes the token out of it and the error out
// of the table. Each failure has a token of its own, so concurrent
// identical requests each get their own host's error. The text is cut so
// that the library's prefix, the text and the token fit in its 511-byte
// message with room to spare, so the token is never cut off; finish takes
// the last token in the message (the host's text may hold another from a
// nested library call) and only one newer than its own library call.
//
// Nothing is left behind. Tokens and library calls are numbered from one
// counter (kmsSeq); a library call registers its number in inflight
// before it enters C and removes it in finish. A host call runs on
// behalf of a library call that began before it, so a failure can only
// be collected while some library call that began before its token is
// still in flight: failed files it only then (otherwise it goes straight
// to LateFailureHandler), and every finish hands the failures no
// in-flight call can collect any more (the library gave up on the call,
// a StatusProviderTimeout, or did not pass the message on) to
// LateFailureHandler and deletes them. Release hands over whatever is
// left.
type hostFailure struct {
	op      kmsOp
	keyID   string
	version uint32
	err     error  // the method's error, or a *PanicError
	panic   bool   // err is a *PanicError to raise again
	text    string // the text given to the library, when it is the whole of err's
}

// The token in a host failure's message; the digits and "]" follow.
const tokenTag = "[aios-go-err:"

const (
	// libMessageMax is the longest message libaios keeps (512 bytes,
	// NUL included); a longer one is cut, and the token with it.
	libMessageMax = 511
	// messageReserve is left free for context the library may put in
	// front of the message besides the callback provider's own prefix.
	messageReserve = 64
)

// kmsOutputCap is the most the library accepts from each host call
// (aios_provider_callback): a larger result is not retried.
var kmsOutputCap = map[kmsOp]int{
	kmsWrap: KeyWrappedMax, kmsUnwrap: KeyDataKeyMax, kmsSign: 1024, kmsPublicKey: 4096,
}

// kmsSeq numbers library calls (inflight) and host failures (tokens).
var kmsSeq atomic.Uint64

// stashed is a host result too large for the library's first buffer,
// kept for the library's retry with the size asked for, which happens at
// once on the same worker thread with the same inputs. The key holds an
// HMAC of the inputs as well as the thread: a thread id may be reused
// once the worker has exited, so a result the library never came back
// for (its deadline passed) must not be given to another request.
type stashKey struct {
	thread  uint64
	op      kmsOp
	keyID   string
	version uint32
	digest  [sha256.Size]byte
}

type stashed struct {
	data []byte
	at   time.Time
}

const stashMaxAge = 30 * time.Second

// kmsState is the Go side of one callback provider; the library holds a
// cgo.Handle to it as payload until it calls release.
type kmsState struct {
	name   string
	host   KMS
	wrap   Wrapper
	unwrap Unwrapper
	sign   Signer
	pub    PublicKeyer
	late   LateFailureHandler
	salt   [32]byte // keys the stash's input digests, so they say nothing about secret inputs

	mu       sync.Mutex
	inflight map[uint64]struct{}    // library calls in C, by their kmsSeq number
	failures map[uint64]hostFailure // host failures not yet collected, by token
	stash    map[stashKey]stashed

	released atomic.Bool
}

// stashKeyFor a host call on the calling (worker) thread.
func (s *kmsState) stashKeyFor(op kmsOp, keyID string, version uint32, in, ad []byte) stashKey {
	k := stashKey{thread: uint64(C.aiosgo_thread_id()), op: op, keyID: keyID, version: version}
	m := hmac.New(sha256.New, s.salt[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(in)))
	m.Write(n[:])
	m.Write(in)
	binary.BigEndian.PutUint64(n[:], uint64(len(ad)))
	m.Write(n[:])
	m.Write(ad)
	m.Sum(k.digest[:0])
	return k
}

// begin registers a library call that may reach the host before it
// enters C and returns its number for finish; nil-safe (0 for nil).
func (s *kmsState) begin() uint64 {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	seq := kmsSeq.Add(1)
	s.inflight[seq] = struct{}{}
	s.mu.Unlock()
	return seq
}

// finish turns the result of library call seq (from begin) into a Go
// error, attaching the host's error (or raising the host's panic) when
// the message names one. With seq 0 it is errorFrom.
func (s *kmsState) finish(seq uint64, rc C.int, e *cErr) error {
	if seq == 0 {
		return errorFrom(rc, e)
	}
	var out *Error
	var token uint64
	if rc != C.AIOS_OK {
		out = makeError(rc, e)
		out.Message, token = cutToken(out.Message)
	}
	var got hostFailure
	var found bool
	s.mu.Lock()
	delete(s.inflight, seq)
	if token > seq { // a host call of this library call started after it
		if got, found = s.failures[token]; found {
			delete(s.failures, token)
		}
	}
	orphans := s.orphansLocked()
	s.mu.Unlock()
	for _, f := range orphans {
		s.reportLate(f)
	}
	if out == nil {
		return nil
	}
	if !found {
		return out
	}
	if got.panic {
		panic(got.err.(*PanicError).Value)
	}
	if st, ok := got.err.(Status); !ok || st != out.Status {
		out.cause = got.err // a bare Status says nothing the status does not
		out.causeShown = got.text != "" && strings.HasSuffix(out.Message, got.text)
	}
	return out
}

// oldestLocked is the number of the oldest library call in flight, or
// the largest uint64 when there is none.
func (s *kmsState) oldestLocked() uint64 {
	oldest := uint64(math.MaxUint64)
	for seq := range s.inflight {
		oldest = min(oldest, seq)
	}
	return oldest
}

// orphansLocked removes and returns, oldest first, the failures that no
// library call in flight can collect any more.
func (s *kmsState) orphansLocked() []hostFailure {
	if len(s.failures) == 0 {
		return nil
	}
	oldest := s.oldestLocked()
	var tokens []uint64
	for t := range s.failures {
		if t < oldest {
			tokens = append(tokens, t)
		}
	}
	slices.Sort(tokens)
	out := make([]hostFailure, 0, len(tokens))
	for _, t := range tokens {
		out = append(out, s.failures[t])
		delete(s.failures, t)
	}
	return out
}

// failed runs on the worker thread when a host method failed (err) or
// panicked (err is a *PanicError): it files the failure under a fresh
// token for the library call waiting for it, records the message
// "<err's text> [aios-go-err:<token>]" on this thread (aios_error_set),
// and returns the status to give the library.
func (s *kmsState) failed(op kmsOp, keyID string, version uint32, err error, panicked bool) C.int {
	rc := C.int(C.AIOS_E_CALLBACK)
	if !panicked {
		rc = hostStatus(err)
	}
	f := hostFailure{op: op, keyID: keyID, version: version, err: err, panic: panicked}
	full := errorText(err)
	if st, ok := err.(Status); (ok && C.int(st) == rc) || full == "" {
		full = StatusString(Status(rc)) // *Error.Error() adds the name
	}
	// The library's prefix, the text and the token must fit in its
	// message, with room to spare, or the token would be cut off.
	tokenLen := len(" " + tokenTag + "18446744073709551615]")
	msg := clipMessage(full, libMessageMax-messageReserve-s.prefixLen(op, keyID)-tokenLen)
	if msg == full {
		f.text = msg // the message says all err says: Error() need not repeat it
	}

	s.mu.Lock()
	token := kmsSeq.Add(1)
	waiting := s.oldestLocked() < token
	if waiting {
		s.failures[token] = f
	}
	s.mu.Unlock()
	if waiting {
		if msg != "" {
			msg += " "
		}
		msg += tokenTag + strconv.FormatUint(token, 10) + "]"
	} else {
		// The library call gave up on this host call already.
		s.reportLate(f)
	}
	SetError(Status(rc), msg)
	return rc
}

// prefixLen is the length of what the library puts in front of a host
// call's message: "<provider>: <op> of key '<id>': ".
func (s *kmsState) prefixLen(op kmsOp, keyID string) int {
	return len(s.name) + len(": ") + len(kmsOpNames[op]) + len(" of key '") + len(keyID) + len("': ")
}

// cutToken removes the last token from a library message and returns it
// (0 when there is none).
func cutToken(msg string) (string, uint64) {
	i := strings.LastIndex(msg, tokenTag)
	if i < 0 {
		return msg, 0
	}
	digits := msg[i+len(tokenTag):]
	j := strings.IndexByte(digits, ']')
	if j <= 0 {
		return msg, 0
	}
	token, err := strconv.ParseUint(digits[:j], 10, 64)
	if err != nil || token == 0 {
		return msg, 0
	}
	head := strings.TrimSuffix(msg[:i], " ")
	return head + msg[i+len(tokenTag)+j+1:], token
}

// errorText is err's text for the library's message, or a placeholder
// if its Error method panics (this runs on a worker thread, where a
// panic would end the process).
func errorText(err error) (text string) {
	defer func() {
		if recover() != nil {
			text = "the host's error (its Error method panicked)"
		}
	}()
	switch e := err.(type) {
	case *PanicError:
		return "a KMS method panicked: " + fmt.Sprint(e.Value)
	case Status: // its Error() is only the name
		return StatusString(e) + " (" + e.Name() + ")"
	}
	return err.Error()
}

// clipMessage cuts text at its first NUL byte and, if it is longer than
// room bytes, to room bytes ending in "...", on a UTF-8 boundary.
func clipMessage(text string, room int) string {
	if i := strings.IndexByte(text, 0); i >= 0 {
		text = text[:i]
	}
	if len(text) <= room {
		return text
	}
	if room < len("x...") {
		return ""
	}
	n := room - len("...")
	for n > 0 && !utf8.RuneStart(text[n]) {
		n--
	}
	return text[:n] + "..."
}

func (s *kmsState) reportLate(f hostFailure) {
	name := kmsOpNames[f.op]
	if s.late != nil {
		func() {
			defer func() {
				if r := recover(); r != nil {
					log.Printf("aios: %s: LateFailure panicked: %v", s.name, r)
				}
			}()
			s.late.LateFailure(name, f.keyID, f.version, f.err)
		}()
		return
	}
	if f.panic {
		p := f.err.(*PanicError)
		log.Printf("aios: %s: %s of key %q version %d panicked after the library call gave up: %v\n%s",
			s.name, name, f.keyID, f.version, p.Value, p.Stack)
	}
}

// hostStatus is the status to give the library for a host's error: the
// status of an aios *Error or Status in its chain, else AIOS_E_CALLBACK
// (also when the error's own methods panic).
func hostStatus(err error) (rc C.int) {
	defer func() {
		if recover() != nil {
			rc = C.AIOS_E_CALLBACK
		}
	}()
	var s Status
	var ae *Error
	switch {
	case errors.As(err, &ae):
		s = ae.Status
	case errors.As(err, &s):
	default:
		return C.AIOS_E_CALLBACK
	}
	// OK, codes the library does not know, and BUFFER_TOO_SMALL (which
	// the binding itself manages) cannot pass.
	if s >= 0 || s == StatusBufferTooSmall || StatusName(s) == "AIOS_E_UNKNOWN" {
		return C.AIOS_E_CALLBACK
	}
	return C.int(s)
}

// protect runs a host method, turning a panic into a *PanicError.
func protect(fn func() error) (err error, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			err, panicked = &PanicError{Value: r, Stack: debug.Stack()}, true
		}
	}()
	return fn(), false
}

func deadlineCtx(ms C.uint32_t) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Duration(ms)*time.Millisecond)
}

// cView is a slice over C memory, valid during the host call.
func cView(p *C.uint8_t, n C.size_t) []byte {
	if p == nil || n == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

func kmsFrom(payload C.uintptr_t) *kmsState {
	return cgo.Handle(payload).Value().(*kmsState)
}

//export aiosgoProviderDescribe
func aiosgoProviderDescribe(payload C.uintptr_t, keyID *C.char, version C.uint32_t, info *C.aiosgo_key_info, deadlineMs C.uint32_t) C.int {
	s := kmsFrom(payload)
	id := C.GoString(keyID)
	ctx, cancel := deadlineCtx(deadlineMs)
	defer cancel()
	var ki ProviderKeyInfo
	err, panicked := protect(func() error {
		var err error
		ki, err = s.host.Describe(ctx, id, uint32(version))
		return err
	})
	if err != nil {
		return s.failed(kmsDescribe, id, uint32(version), err, panicked)
	}
	if ki.Version == 0 {
		ki.Version = uint32(version)
	}
	if ki.State == 0 {
		ki.State = KeyActive
	}
	var created int64
	if !ki.CreatedAt.IsZero() {
		created = ki.CreatedAt.Unix()
	}
	info.version = C.uint32_t(ki.Version)
	info._type = C.int32_t(ki.Type)
	info.purposes = C.uint32_t(ki.Purposes)
	info.state = C.int32_t(ki.State)
	info.created_at = C.int64_t(created)
	return C.AIOS_OK
}

//export aiosgoProviderCall
func aiosgoProviderCall(payload C.uintptr_t, cop C.int, keyID *C.char, version C.uint32_t,
	in *C.uint8_t, inLen C.size_t, ad *C.uint8_t, adLen C.size_t,
	out *C.uint8_t, outCap C.size_t, outLen *C.size_t, deadlineMs C.uint32_t) C.int {
	s := kmsFrom(payload)
	var op kmsOp
	switch cop {
	case C.AIOSGO_OP_WRAP:
		op = kmsWrap
	case C.AIOSGO_OP_UNWRAP:
		op = kmsUnwrap
	case C.AIOSGO_OP_SIGN:
		op = kmsSign
	case C.AIOSGO_OP_PUBLIC_KEY:
		op = kmsPublicKey
	default:
		return C.AIOS_E_INTERNAL
	}
	id := C.GoString(keyID)
	ver := uint32(version)
	inB, adB := cView(in, inLen), cView(ad, adLen)
	secret := op == kmsUnwrap

	// The library's retry, with the size the first try asked for? Secret
	// results are never stashed.
	var sk stashKey
	var st stashed
	var retry bool
	if !secret {
		sk = s.stashKeyFor(op, id, ver, inB, adB)
		s.mu.Lock()
		if st, retry = s.stash[sk]; retry {
			delete(s.stash, sk)
		}
		s.mu.Unlock()
	}

	var res []byte
	if retry {
		res = st.data
	} else {
		ctx, cancel := deadlineCtx(deadlineMs)
		err, panicked := protect(func() error {
			var err error
			switch op {
			case kmsWrap:
				res, err = s.wrap.Wrap(ctx, id, ver, inB, adB)
			case kmsUnwrap:
				res, err = s.unwrap.Unwrap(ctx, id, ver, inB, adB)
			case kmsSign:
				res, err = s.sign.Sign(ctx, id, ver, inB)
			case kmsPublicKey:
				res, err = s.pub.PublicKey(ctx, id, ver)
			}
			return err
		})
		cancel()
		if err != nil {
			if secret {
				Wipe(res)
			}
			return s.failed(op, id, ver, err, panicked)
		}
	}
	if secret {
		defer Wipe(res)
	}
	*outLen = C.size_t(len(res))
	if C.size_t(len(res)) > outCap {
		// The library retries once with a buffer of the size asked for, as
		// long as it is within its limit for the operation; keep the
		// result for that retry rather than asking the host again.
		if !secret && !retry && len(res) <= kmsOutputCap[op] {
			keep := append([]byte(nil), res...)
			now := time.Now()
			s.mu.Lock()
			for k, v := range s.stash {
				if now.Sub(v.at) > stashMaxAge {
					delete(s.stash, k)
				}
			}
			s.stash[sk] = stashed{data: keep, at: now}
			s.mu.Unlock()
		}
		return C.AIOS_E_BUFFER_TOO_SMALL
	}
	if len(res) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(out)), int(outCap)), res)
	}
	return C.AIOS_OK
}

//export aiosgoProviderRelease
func aiosgoProviderRelease(payload C.uintptr_t) {
	h := cgo.Handle(payload)
	s := h.Value().(*kmsState)
	h.Delete()
	s.released.Store(true)
	// Every failure is collected or handed to LateFailureHandler by the
	// finish of the last library call that could collect it; this only
	// makes sure of it.
	s.mu.Lock()
	s.stash = map[stashKey]stashed{}
	orphans := s.orphansLocked()
	s.mu.Unlock()
	for _, f := range orphans {
		s.reportLate(f)
	}
}

// kmsCapabilities makes the Go state of a callback provider and its
// capability bits, from the interfaces host implements.
func kmsCapabilities(host KMS) (caps C.uint32_t, s *kmsState) {
	s = &kmsState{host: host, inflight: map[uint64]struct{}{}, failures: map[uint64]hostFailure{},
		stash: map[stashKey]stashed{}}
	if w, ok := host.(Wrapper); ok {
		s.wrap, caps = w, caps|C.AIOS_PROVIDER_CAN_WRAP
	}
	if u, ok := host.(Unwrapper); ok {
		s.unwrap, caps = u, caps|C.AIOS_PROVIDER_CAN_UNWRAP
	}
	if g, ok := host.(Signer); ok {
		s.sign, caps = g, caps|C.AIOS_PROVIDER_CAN_SIGN
	}
	if p, ok := host.(PublicKeyer); ok {
		s.pub, caps = p, caps|C.AIOS_PROVIDER_CAN_PUBLIC_KEY
	}
	if l, ok := host.(LateFailureHandler); ok {
		s.late = l
	}
	return caps, s
}

// NewCallbackProvider makes host's KMS a key provider named
// "callback:<name>" (aios_provider_callback); name is 1..48 bytes of
// [a-z0-9_.-]. Its capabilities follow from the interfaces host implements
// (see KMS). timeout bounds each call to the host (rounded up to whole
// milliseconds; 0: the library's default of 30 s): past it the library
// call fails with StatusProviderTimeout while the host's method runs on.
//
// Keys come from GetKey, which calls Describe. host stays referenced until
// the provider and every key taken from it are closed and no host call is
// running any more.
func NewCallbackProvider(name string, host KMS, timeout time.Duration) (*Provider, error) {
	if host == nil {
		return nil, newError(StatusInvalidArgument, "aios.NewCallbackProvider: host is nil")
	}
	ms, err := millis("NewCallbackProvider: timeout", timeout)
	if err != nil {
		return nil, err
	}
	cname, err := cString("NewCallbackProvider: name", name)
	if err != nil {
		return nil, err
	}
	defer freeCString(cname)
	caps, s := kmsCapabilities(host)
	s.name = "callback:" + name
	if _, err := rand.Read(s.salt[:]); err != nil {
		return nil, newError(StatusInternal, "aios.NewCallbackProvider: no randomness: "+err.Error())
	}
	h := cgo.NewHandle(s)
	var out *C.aios_provider
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_provider_callback(&out, cname, caps, C.uintptr_t(h), ms, e)
	if err := errorFrom(rc, e); err != nil {
		// The library did not take the payload: release is not called.
		h.Delete()
		return nil, err
	}
	return newProvider(out, s), nil
}
