package aios

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"unsafe"
)

// Suite mirrors aios_envelope_suite: the AEAD a message is sealed with
// (docs/FORMAT.md section 4).
type Suite int32

// The suites.
const (
	// SuiteAuto picks AES-256-GCM where the CPU has AES-NI and PCLMUL,
	// XChaCha20-Poly1305 otherwise (AIOS_ENVELOPE_SUITE_AUTO).
	SuiteAuto              Suite = C.AIOS_ENVELOPE_SUITE_AUTO
	SuiteAES256GCM         Suite = C.AIOS_ENVELOPE_SUITE_AES256GCM
	SuiteXChaCha20Poly1305 Suite = C.AIOS_ENVELOPE_SUITE_XCHACHA20POLY1305
	// SuiteAES256SIV is for deterministic records only (sessions made
	// with SessionOptions.Deterministic use it for deterministic fields).
	SuiteAES256SIV Suite = C.AIOS_ENVELOPE_SUITE_AES256SIV
	// SuitePortable is XChaCha20-Poly1305 always, for readers without AES
	// instructions (AIOS_ENVELOPE_SUITE_PORTABLE).
	SuitePortable Suite = C.AIOS_ENVELOPE_SUITE_PORTABLE
)

// Name returns the suite's token: "aes256gcm", "xchacha20poly1305",
// "aes256siv", "auto", "portable"; "unknown" otherwise
// (aios_envelope_suite_name).
func (s Suite) Name() string {
	return goStringOrEmpty(C.aios_envelope_suite_name(C.aios_envelope_suite(s)))
}

// String returns s.Name(), or "Suite(n)" for a value the library does not
// know.
func (s Suite) String() string {
	if n := s.Name(); n != "" && n != "unknown" {
		return n
	}
	return "Suite(" + strconv.FormatInt(int64(s), 10) + ")"
}

// Envelope limits (include/aios/envelope.h).
const (
	EnvelopeChunkSizeMin     = C.AIOS_ENVELOPE_CHUNK_SIZE_MIN     // 4096
	EnvelopeChunkSizeMax     = C.AIOS_ENVELOPE_CHUNK_SIZE_MAX     // 16 MiB
	EnvelopeChunkSizeDefault = C.AIOS_ENVELOPE_CHUNK_SIZE_DEFAULT // 65536
	EnvelopeHeaderMax        = C.AIOS_ENVELOPE_HEADER_MAX         // the largest message or session header
	EnvelopeRecipientsMax    = C.AIOS_ENVELOPE_RECIPIENTS_MAX     // 64
	EnvelopeContextMax       = C.AIOS_ENVELOPE_CONTEXT_MAX        // 128 entries
	EnvelopeRecordOverhead   = C.AIOS_ENVELOPE_RECORD_OVERHEAD    // 74: a session record's bytes beyond its plaintext
	EnvelopeRecordMax        = C.AIOS_ENVELOPE_RECORD_MAX         // the largest session record plaintext
	EnvelopeRecordADMax      = C.AIOS_ENVELOPE_RECORD_AD_MAX      // the largest record associated data
	EnvelopeSessionIDLen     = C.AIOS_ENVELOPE_SESSION_ID_LEN     // 32
)

// EnvelopeHeaderMaxLen returns the loaded library's largest header
// (aios_envelope_header_max): the run-time twin of EnvelopeHeaderMax.
func EnvelopeHeaderMaxLen() int { return int(C.aios_envelope_header_max()) }

// EnvelopeRecordOverheadLen returns the loaded library's session record
// overhead (aios_envelope_record_overhead): the run-time twin of
// EnvelopeRecordOverhead.
func EnvelopeRecordOverheadLen() int { return int(C.aios_envelope_record_overhead()) }

// ContextMode mirrors aios_envelope_context_mode: how OpenOptions'
// ExpectedContext is compared with a message's context (FORMAT.md 7.3).
// Reserved "aios." entries are outside both comparisons.
type ContextMode int32

// The context modes.
const (
	ContextAny    ContextMode = C.AIOS_ENVELOPE_CONTEXT_ANY    // no check
	ContextExact  ContextMode = C.AIOS_ENVELOPE_CONTEXT_EXACT  // the message's context is exactly the expected one
	ContextSubset ContextMode = C.AIOS_ENVELOPE_CONTEXT_SUBSET // every expected pair is in the message's context
)

// ------------------------------------------------------------ contexts

// cContext is an encryption context copied into C memory (an aiosgo_ctx),
// for as long as a call or an object that borrows it needs it.
type cContext struct {
	p       *C.aiosgo_ctx
	cleanup runtime.Cleanup
}

func freeCContext(p *C.aiosgo_ctx) { C.aiosgo_ctx_free(p) }

// newCContext copies m (sorted by key, so the library always sees the
// same order) into C memory; nil for a nil or empty map. Keys and values
// must not hold NUL bytes.
func newCContext(what string, m map[string]string) (*cContext, error) {
	if len(m) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, k := range names {
		v := m[k]
		if strings.IndexByte(k, 0) >= 0 || strings.IndexByte(v, 0) >= 0 {
			return nil, newError(StatusInvalidArgument, "aios: "+what+": context entry "+strconv.Quote(k)+" contains a NUL byte")
		}
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(v)
		b.WriteByte(0)
	}
	text := b.Bytes()
	p := C.aiosgo_ctx_new((*C.char)(unsafe.Pointer(&text[0])), C.size_t(len(text)), C.size_t(len(names)))
	runtime.KeepAlive(text)
	if p == nil {
		return nil, newError(StatusNoMem, "aios: "+what+": out of memory for the context")
	}
	c := &cContext{p: p}
	c.cleanup = runtime.AddCleanup(c, freeCContext, p)
	return c, nil
}

// ptr returns the C context, or NULL for a nil *cContext.
func (c *cContext) ptr() *C.aiosgo_ctx {
	if c == nil {
		return nil
	}
	return c.p
}

// free releases the C copy now (nil-safe). Nothing may use it after.
func (c *cContext) free() {
	if c == nil || c.p == nil {
		return
	}
	c.cleanup.Stop()
	C.aiosgo_ctx_free(c.p)
	c.p = nil
}

// packStrings returns strs as "s\0s\0...", or an error if one holds a NUL.
func packStrings(what string, strs []string) ([]byte, error) {
	var b bytes.Buffer
	for _, s := range strs {
		if strings.IndexByte(s, 0) >= 0 {
			return nil, newError(StatusInvalidArgument, "aios: "+what+" "+strconv.Quote(s)+" contains a NUL byte")
		}
		b.WriteString(s)
		b.WriteByte(0)
	}
	return b.Bytes(), nil
}

// ------------------------------------------------------------ key lists

// lockedKeys holds the read locks of a list of keys for one call.
type lockedKeys struct {
	ptrs  []*C.aios_key
	kms   []*kmsState
	owned []*Key // each locked once
}

// lockKeys read-locks every key of list (each *Key once, however often it
// is listed) and returns their C pointers in order. Release with unlock.
func lockKeys(what string, list []*Key) (*lockedKeys, error) {
	lk := &lockedKeys{ptrs: make([]*C.aios_key, 0, len(list))}
	seen := make(map[*Key]*C.aios_key, len(list))
	for i, k := range list {
		if k == nil {
			lk.unlock()
			return nil, newError(StatusInvalidArgument, "aios: "+what+"["+strconv.Itoa(i)+"] is nil")
		}
		if p, ok := seen[k]; ok {
			lk.ptrs = append(lk.ptrs, p)
			continue
		}
		p, err := k.h.read("Key")
		if err != nil {
			lk.unlock()
			return nil, newError(StatusState, "aios: "+what+"["+strconv.Itoa(i)+"] was closed")
		}
		seen[k] = p
		lk.owned = append(lk.owned, k)
		lk.ptrs = append(lk.ptrs, p)
		if k.kms != nil {
			lk.kms = append(lk.kms, k.kms)
		}
	}
	return lk, nil
}

// arg returns the array and its length for C (NULL, 0 when empty).
func (lk *lockedKeys) arg() (**C.aios_key, C.size_t) {
	if lk == nil || len(lk.ptrs) == 0 {
		return nil, 0
	}
	return &lk.ptrs[0], C.size_t(len(lk.ptrs))
}

func (lk *lockedKeys) unlock() {
	if lk == nil {
		return
	}
	for _, k := range lk.owned {
		k.h.runlock()
		runtime.KeepAlive(k)
	}
	lk.owned = nil
}

// ------------------------------------------------------------ host errors

// kmsCalls follows one library call that may reach the host code of
// several callback providers (recipients, a key set's keys and
// providers): the multi-provider twin of kmsState.begin and finish, so
// that a host's error comes back through the envelope call's error.
type kmsCalls struct {
	states []*kmsState
	seqs   []uint64
}

// beginKMS registers the call with each distinct provider state.
func beginKMS(groups ...[]*kmsState) kmsCalls {
	var c kmsCalls
	for _, g := range groups {
		for _, s := range g {
			if s == nil {
				continue
			}
			dup := false
			for _, t := range c.states {
				if t == s {
					dup = true
					break
				}
			}
			if dup {
				continue
			}
			c.states = append(c.states, s)
			c.seqs = append(c.seqs, s.begin())
		}
	}
	return c
}

// finish turns the call's result into an error, with the host's error
// attached (or its panic raised again) when the message names one.
func (c kmsCalls) finish(rc C.int, e *cErr) error {
	if len(c.states) == 0 {
		return errorFrom(rc, e)
	}
	if len(c.states) == 1 {
		return c.states[0].finish(c.seqs[0], rc, e)
	}
	var out *Error
	var token uint64
	if rc != C.AIOS_OK {
		out = makeError(rc, e)
		out.Message, token = cutToken(out.Message)
	}
	var got hostFailure
	found := false
	for i, s := range c.states {
		s.mu.Lock()
		delete(s.inflight, c.seqs[i])
		if !found && token > c.seqs[i] {
			if got, found = s.failures[token]; found {
				delete(s.failures, token)
			}
		}
		orphans := s.orphansLocked()
		s.mu.Unlock()
		for _, f := range orphans {
			s.reportLate(f)
		}
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
		out.cause = got.err
		out.causeShown = got.text != "" && strings.HasSuffix(out.Message, got.text)
	}
	return out
}

// ------------------------------------------------------------ key sets

// EnvelopeKeys is the set of keys an opener holds (aios_envelope_keys):
// key handles, matched against a message's recipient records by provider,
// key id and version or by X25519 public key, and providers, asked for
// the key a KEK record names.
//
// The set takes its own reference to every key and provider added: they
// may be closed afterwards. Add everything before sharing the set; after
// that it is read-only and safe for use by any number of goroutines.
// Close releases it; a cleanup does so if it is garbage collected
// unclosed.
type EnvelopeKeys struct {
	h   handle[*C.aios_envelope_keys]
	kms []*kmsState // callback providers whose host code opening may call
}

func freeEnvelopeKeys(p *C.aios_envelope_keys) { C.aios_envelope_keys_free(p) }

// NewEnvelopeKeys returns a key set holding keys and providers
// (aios_envelope_keys_new, _add_key, _add_provider). Either may be empty.
// At most 256 keys and 16 providers (ErrLimit).
func NewEnvelopeKeys(keys []*Key, providers []*Provider) (*EnvelopeKeys, error) {
	var p *C.aios_envelope_keys
	e := getCErr()
	defer putCErr(e)
	if err := errorFrom(C.aiosgo_envelope_keys_new(&p, e), e); err != nil {
		return nil, err
	}
	ks := &EnvelopeKeys{}
	attachHandle(ks, &ks.h, p, freeEnvelopeKeys)
	for _, k := range keys {
		if err := ks.AddKey(k); err != nil {
			ks.Close()
			return nil, err
		}
	}
	for _, pr := range providers {
		if err := ks.AddProvider(pr); err != nil {
			ks.Close()
			return nil, err
		}
	}
	return ks, nil
}

// AddKey adds a key handle to the set (aios_envelope_keys_add_key).
func (ks *EnvelopeKeys) AddKey(k *Key) error {
	if ks == nil {
		return nilError("EnvelopeKeys")
	}
	if k == nil {
		return newError(StatusInvalidArgument, "aios.EnvelopeKeys.AddKey: nil key")
	}
	p, err := ks.h.write("EnvelopeKeys")
	if err != nil {
		return err
	}
	defer ks.h.unlock()
	kp, err := k.h.read("Key")
	if err != nil {
		return err
	}
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_envelope_keys_add_key(p, kp, e)
	k.h.runlock()
	runtime.KeepAlive(k)
	runtime.KeepAlive(ks)
	if err := errorFrom(rc, e); err != nil {
		return err
	}
	if k.kms != nil {
		ks.kms = append(ks.kms, k.kms)
	}
	return nil
}

// AddProvider adds a provider to the set
// (aios_envelope_keys_add_provider): a KEK record naming it by name is
// resolved with its GetKey.
func (ks *EnvelopeKeys) AddProvider(pr *Provider) error {
	if ks == nil {
		return nilError("EnvelopeKeys")
	}
	if pr == nil {
		return newError(StatusInvalidArgument, "aios.EnvelopeKeys.AddProvider: nil provider")
	}
	p, err := ks.h.write("EnvelopeKeys")
	if err != nil {
		return err
	}
	defer ks.h.unlock()
	e := getCErr()
	defer putCErr(e)
	var rc C.int
	if err := pr.use(func(pp *C.aios_provider) { rc = C.aiosgo_envelope_keys_add_provider(p, pp, e) }); err != nil {
		return err
	}
	runtime.KeepAlive(ks)
	if err := errorFrom(rc, e); err != nil {
		return err
	}
	if pr.kms != nil {
		ks.kms = append(ks.kms, pr.kms)
	}
	return nil
}

// Close releases the set and its references (aios_envelope_keys_free).
// Idempotent; always nil.
func (ks *EnvelopeKeys) Close() error {
	if ks == nil {
		return nil
	}
	ks.h.close(freeEnvelopeKeys)
	runtime.KeepAlive(ks)
	return nil
}

// read returns the C set read-locked (release with ks.h.runlock).
func (ks *EnvelopeKeys) read(what string) (*C.aios_envelope_keys, error) {
	if ks == nil {
		return nil, newError(StatusInvalidArgument, "aios: "+what+": nil EnvelopeKeys")
	}
	return ks.h.read("EnvelopeKeys")
}

// ------------------------------------------------------------ options

// SealOptions tunes sealing (aios_envelope_seal_options); nil means the
// defaults.
type SealOptions struct {
	Suite     Suite  // SuiteAuto (0), SuiteAES256GCM, SuiteXChaCha20Poly1305 or SuitePortable
	ChunkSize uint32 // 0: 65536; else EnvelopeChunkSizeMin..EnvelopeChunkSizeMax
	Threads   uint32 // worker threads for chunks (0: 1; at most 64)
}

func (o *SealOptions) c() *C.aiosgo_seal_opts {
	if o == nil {
		return nil
	}
	return &C.aiosgo_seal_opts{suite: C.int32_t(o.Suite), chunk_size: C.uint32_t(o.ChunkSize), threads: C.uint32_t(o.Threads)}
}

// OpenOptions tunes opening (aios_envelope_open_options); nil means the
// defaults: any context, 8 unwrap attempts, the software AES-GCM path
// allowed, one thread.
type OpenOptions struct {
	// ExpectedContext is compared with the message's context as
	// ContextMode says, before any key is used; a mismatch fails with
	// StatusEnvelopeContextMismatch (ErrAuth).
	ExpectedContext map[string]string
	// ContextMode is ContextExact or ContextSubset when ExpectedContext
	// is set; ContextAny (0) with a non-empty ExpectedContext means
	// ContextExact here, the safe reading.
	ContextMode ContextMode
	// MaxUnwrapAttempts bounds the recipient records tried (0: 8; else
	// 1..64).
	MaxUnwrapAttempts uint32
	// NoSoftGCM refuses the software AES-GCM path on CPUs without AES-NI
	// (StatusUnsupported).
	NoSoftGCM bool
	// Threads is the number of worker threads for chunks (0: 1).
	Threads uint32
}

// cOpenOptions is OpenOptions in C form; its context must outlive every
// use of opts (an opener or reader keeps it).
type cOpenOptions struct {
	opts *C.aiosgo_open_opts // nil for defaults; an allocation of its own, free of Go pointers
	ctx  *cContext
}

func (o *OpenOptions) c(what string) (*cOpenOptions, error) {
	co := &cOpenOptions{}
	if o == nil {
		return co, nil
	}
	ctx, err := newCContext(what+": ExpectedContext", o.ExpectedContext)
	if err != nil {
		return nil, err
	}
	mode := o.ContextMode
	if mode == ContextAny && ctx != nil {
		mode = ContextExact
	}
	co.ctx = ctx
	co.opts = &C.aiosgo_open_opts{
		expected:            ctx.ptr(),
		context_mode:        C.int32_t(mode),
		max_unwrap_attempts: C.uint32_t(o.MaxUnwrapAttempts),
		threads:             C.uint32_t(o.Threads),
	}
	if o.NoSoftGCM {
		co.opts.no_soft_gcm = 1
	}
	return co, nil
}

// ptr returns the options for C, NULL for defaults.
func (co *cOpenOptions) ptr() *C.aiosgo_open_opts {
	if co == nil {
		return nil
	}
	return co.opts
}

func (co *cOpenOptions) free() {
	if co != nil {
		co.ctx.free()
	}
}

// ------------------------------------------------------------ one-shot

// Seal encrypts plaintext under a fresh data key wrapped for every
// recipient (aios_envelope_seal): 1..64 keys, symmetric KEKs (AES-256 with
// KeyUseWrap, or RSA in a token, from any provider) and X25519 public keys
// (KeyFromPublicPEM) mixed. context, which may be nil, is readable by
// anyone holding the message and bound to it: OpenOptions.ExpectedContext
// can require it. A KEK's own failures pass through (StatusKeyDecryptOnly,
// a callback provider's host error, ...).
func Seal(plaintext []byte, recipients []*Key, context map[string]string, opts *SealOptions) ([]byte, error) {
	ctx, err := newCContext("aios.Seal", context)
	if err != nil {
		return nil, err
	}
	defer ctx.free()
	lk, err := lockKeys("aios.Seal: recipients", recipients)
	if err != nil {
		return nil, err
	}
	defer lk.unlock()
	rp, rn := lk.arg()
	pp, pn := bytesArg(plaintext)
	var out *C.aios_buffer
	e := getCErr()
	defer putCErr(e)
	calls := beginKMS(lk.kms)
	rc := C.aiosgo_envelope_seal(&out, rp, rn, ctx.ptr(), pp, pn, opts.c(), e)
	runtime.KeepAlive(plaintext)
	runtime.KeepAlive(lk)
	if err := calls.finish(rc, e); err != nil {
		return nil, err
	}
	return takeBytes(out), nil
}

// SealTo is Seal into dst (aios_envelope_seal_into): it returns how many
// bytes of dst the message took. When dst is too short it returns the
// length needed with an error matching StatusBufferTooSmall, and writes
// nothing; the data key of that call is discarded (a KMS provider was
// still asked to wrap it). The header's length depends only on the
// recipients and the context, so a caller sealing many messages to the
// same ones can size dst from the first. Plaintexts and messages up to
// 4 GiB; beyond, use Seal or a Sealer.
func SealTo(dst, plaintext []byte, recipients []*Key, context map[string]string, opts *SealOptions) (int, error) {
	if uint64(len(dst)) > math.MaxUint32 || uint64(len(plaintext)) > math.MaxUint32 {
		return 0, newError(StatusLimit, "aios.SealTo: dst and plaintext must be under 4 GiB; use Seal or a Sealer")
	}
	ctx, err := newCContext("aios.SealTo", context)
	if err != nil {
		return 0, err
	}
	defer ctx.free()
	lk, err := lockKeys("aios.SealTo: recipients", recipients)
	if err != nil {
		return 0, err
	}
	defer lk.unlock()
	rp, rn := lk.arg()
	pp, _ := bytesArg(plaintext)
	var dp *C.uint8_t
	if len(dst) > 0 {
		dp = (*C.uint8_t)(unsafe.Pointer(&dst[0]))
	}
	var got C.uint32_t
	e := getCErr()
	defer putCErr(e)
	calls := beginKMS(lk.kms)
	rc := C.aiosgo_envelope_seal_into(dp, C.uint32_t(len(dst)), &got, rp, rn, ctx.ptr(), pp,
		C.uint32_t(len(plaintext)), opts.c(), e)
	runtime.KeepAlive(plaintext)
	runtime.KeepAlive(dst)
	runtime.KeepAlive(lk)
	if err := calls.finish(rc, e); err != nil {
		return int(got), err
	}
	return int(got), nil
}

// Open decrypts a whole message with keys (aios_envelope_open). Nothing is
// returned unless every chunk verified. Errors, each matching both its
// Status and its kind with errors.Is: StatusFormat, StatusVersion,
// StatusLimit (ErrInvalid, ErrLimit), StatusEnvelopeContextMismatch,
// StatusEnvelopeNoRecipient (ErrNotFound: no key of the set matches), the
// first failed unwrap's status (StatusAuth for a wrong key, StatusKeyDisabled,
// ...), StatusEnvelopeCommitment, StatusAuth (a changed header or chunk),
// StatusEnvelopeTruncated, StatusEnvelopeTrailingData, StatusUnsupported.
//
// The plaintext is returned in ordinary Go memory; Wipe it when done if it
// is secret.
func Open(message []byte, keys *EnvelopeKeys, opts *OpenOptions) ([]byte, error) {
	co, err := opts.c("aios.Open")
	if err != nil {
		return nil, err
	}
	defer co.free()
	kp, err := keys.read("aios.Open")
	if err != nil {
		return nil, err
	}
	defer keys.h.runlock()
	mp, mn := bytesArg(message)
	e := getCErr()
	defer putCErr(e)
	calls := beginKMS(keys.kms)
	if n := len(message); n > 0 && uint64(n) <= math.MaxUint32 {
		// Straight into Go memory (aios_envelope_open_into): the plaintext
		// is shorter than the message, so a slice of its length holds it,
		// and C wipes what it wrote there when the message does not open.
		out := make([]byte, n)
		var got C.uint32_t
		rc := C.aiosgo_envelope_open_into(kp, (*C.uint8_t)(unsafe.Pointer(&out[0])), C.uint32_t(n),
			&got, mp, C.uint32_t(n), co.ptr(), e)
		runtime.KeepAlive(message)
		runtime.KeepAlive(keys)
		runtime.KeepAlive(co)
		if err := calls.finish(rc, e); err != nil {
			return nil, err // got is 0 and C zeroed what it wrote
		}
		return out[:got:got], nil
	}
	var out *C.aios_buffer
	rc := C.aiosgo_envelope_open(&out, kp, mp, mn, co.ptr(), e)
	runtime.KeepAlive(message)
	runtime.KeepAlive(keys)
	runtime.KeepAlive(co)
	if err := calls.finish(rc, e); err != nil {
		return nil, err
	}
	return takeBytes(out), nil
}

// OpenBuffer is Open with the plaintext left in the library's memory (a
// Buffer, wiped by Close) instead of copied into the Go heap, where the
// garbage collector may leave copies: for plaintexts that are themselves
// secrets. Check Buffer.Secure for whether the library put it in guarded
// memory.
func OpenBuffer(message []byte, keys *EnvelopeKeys, opts *OpenOptions) (*Buffer, error) {
	co, err := opts.c("aios.OpenBuffer")
	if err != nil {
		return nil, err
	}
	defer co.free()
	kp, err := keys.read("aios.OpenBuffer")
	if err != nil {
		return nil, err
	}
	defer keys.h.runlock()
	mp, mn := bytesArg(message)
	var out *C.aios_buffer
	e := getCErr()
	defer putCErr(e)
	calls := beginKMS(keys.kms)
	rc := C.aiosgo_envelope_open(&out, kp, mp, mn, co.ptr(), e)
	runtime.KeepAlive(message)
	runtime.KeepAlive(keys)
	runtime.KeepAlive(co)
	if err := calls.finish(rc, e); err != nil {
		return nil, err
	}
	return newBuffer(out), nil
}

// ------------------------------------------------------------ peek

// EnvelopeInfo describes a message or session header
// (aios_envelope_peek, and the Info methods of openers, readers and
// sessions). From Peek nothing in it is authenticated yet.
type EnvelopeInfo struct {
	Type          string            // "message" or "session"
	Suite         Suite             // the suite's number
	SuiteName     string            // "aes256gcm", ...
	Flags         uint32            // the header's flags
	Deterministic bool              // a session that allows deterministic fields
	MessageID     []byte            // the message id
	SessionID     []byte            // the commitment C (also a session's id), 32 bytes
	Context       map[string]string // the encryption context (never nil)
	ChunkSize     uint32            // a message's chunk size; 0 for a session
	HeaderLen     int               // the header's length in bytes
	Recipients    []RecipientInfo   // the recipient records, in order
	Authenticated bool              // the header was opened and verified
	OpenedBy      int               // index of the record that opened it; -1 when not opened
	JSON          string            // the library's JSON, as it came
}

// RecipientInfo describes one recipient record of a header.
type RecipientInfo struct {
	Kind      string // "kek", "x25519", or "unknown" for a kind this library does not know
	KindID    int    // for Kind "unknown": the record's kind number
	Provider  string // kek: the provider name ("local", "pkcs11", "callback:<name>")
	KeyID     string // kek: the key id
	Version   uint32 // kek: the key version
	PublicKey []byte // x25519: the recipient's public key
	Label     string // x25519: the record's label, if any
}

type envelopeInfoJSON struct {
	Type          string              `json:"type"`
	Suite         string              `json:"suite"`
	SuiteID       int32               `json:"suite_id"`
	Flags         uint32              `json:"flags"`
	Deterministic bool                `json:"deterministic"`
	MessageID     string              `json:"message_id"`
	SessionID     string              `json:"session_id"`
	Context       map[string]string   `json:"context"`
	ChunkSize     uint32              `json:"chunk_size"`
	HeaderLen     int                 `json:"header_len"`
	Recipients    []recipientInfoJSON `json:"recipients"`
	Authenticated bool                `json:"authenticated"`
	OpenedBy      *int                `json:"opened_by"`
}

type recipientInfoJSON struct {
	Kind      json.RawMessage `json:"kind"`
	Provider  string          `json:"provider"`
	KeyID     string          `json:"key_id"`
	Version   uint32          `json:"version"`
	PublicKey string          `json:"public_key"`
	Label     string          `json:"label"`
}

func parseEnvelopeInfo(text []byte) (*EnvelopeInfo, error) {
	var j envelopeInfoJSON
	if err := json.Unmarshal(text, &j); err != nil {
		return nil, newError(StatusInternal, "aios: the library's envelope JSON does not parse: "+err.Error())
	}
	info := &EnvelopeInfo{
		Type: j.Type, Suite: Suite(j.SuiteID), SuiteName: j.Suite, Flags: j.Flags,
		Deterministic: j.Deterministic, Context: j.Context, ChunkSize: j.ChunkSize,
		HeaderLen: j.HeaderLen, Authenticated: j.Authenticated, OpenedBy: -1, JSON: string(text),
	}
	if info.Context == nil {
		info.Context = map[string]string{}
	}
	if j.OpenedBy != nil {
		info.OpenedBy = *j.OpenedBy
	}
	var err error
	if info.MessageID, err = hexField("message_id", j.MessageID); err != nil {
		return nil, err
	}
	if info.SessionID, err = hexField("session_id", j.SessionID); err != nil {
		return nil, err
	}
	for _, r := range j.Recipients {
		ri := RecipientInfo{Provider: r.Provider, KeyID: r.KeyID, Version: r.Version, Label: r.Label}
		var name string
		if err := json.Unmarshal(r.Kind, &name); err == nil {
			ri.Kind = name
		} else {
			ri.Kind = "unknown"
			_ = json.Unmarshal(r.Kind, &ri.KindID)
		}
		if ri.PublicKey, err = hexField("public_key", r.PublicKey); err != nil {
			return nil, err
		}
		info.Recipients = append(info.Recipients, ri)
	}
	return info, nil
}

func hexField(name, s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, newError(StatusInternal, "aios: the library's envelope JSON has a bad "+name+": "+err.Error())
	}
	return b, nil
}

// infoFrom parses the JSON a library call left in out.
func infoFrom(out *C.aios_buffer) (*EnvelopeInfo, error) {
	return parseEnvelopeInfo(takeBytes(out))
}

// Peek describes a message or session header without a key
// (aios_envelope_peek): data may be just the first bytes of a longer
// message, as long as it holds the whole header. Nothing in the result is
// authenticated.
func Peek(data []byte) (*EnvelopeInfo, error) {
	dp, dn := bytesArg(data)
	var out *C.aios_buffer
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_envelope_peek(&out, dp, dn, e)
	runtime.KeepAlive(data)
	if err := errorFrom(rc, e); err != nil {
		return nil, err
	}
	return infoFrom(out)
}

// HeaderLen returns the length of the header that data starts with
// (aios_envelope_header_len). When data is too short to tell it returns
// the number of bytes it needs to go on and an error matching
// StatusBufferTooSmall: read that many and call it again. StatusFormat,
// StatusVersion or StatusLimit for bytes that are not a header.
func HeaderLen(data []byte) (int, error) {
	dp, dn := bytesArg(data)
	var n C.size_t
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_envelope_header_len(&n, dp, dn, e)
	runtime.KeepAlive(data)
	if err := errorFrom(rc, e); err != nil {
		if rc == C.AIOS_E_BUFFER_TOO_SMALL && uint64(n) <= math.MaxInt32 {
			return int(n), err
		}
		return 0, err
	}
	return int(n), nil
}
