package aios

/*
#include "shim.h"
*/
import "C"

import (
	"runtime"
	"strconv"
	"unsafe"
)

// Session is one data key, wrapped once in a session header, for many
// small records (aios_envelope_session; FORMAT.md section 9.2). A writer
// makes one with NewSession and stores or sends its Header once; a reader
// opens the header once with OpenSession (one unwrap) and then opens
// records at nearly the cost of the bare AEAD. Records name their session
// by its 32-byte ID.
//
// A Session is safe for concurrent use: any number of goroutines may seal
// and open records at once. It holds one reference to the library's
// session: Close drops it, Ref takes another. A cleanup drops the
// reference of a Session garbage collected unclosed.
type Session struct {
	h   handle[*C.aios_envelope_session]
	ctx *cContext // the expected context given to OpenSession, kept for the session's life
}

func freeSession(p *C.aios_envelope_session) { C.aios_envelope_session_unref(p) }

func newSession(p *C.aios_envelope_session, ctx *cContext) *Session {
	s := &Session{ctx: ctx}
	attachHandle(s, &s.h, p, freeSession)
	return s
}

// SessionOptions tunes NewSession (aios_envelope_session_options); nil
// means the defaults.
type SessionOptions struct {
	Suite Suite // SuiteAuto (0), SuiteAES256GCM, SuiteXChaCha20Poly1305 or SuitePortable
	// Deterministic allows deterministic fields (FieldsOptions.Deterministic)
	// under this session (AIOS_ENVELOPE_SESSION_DETERMINISTIC). They reveal
	// which values are equal: see EncryptFields.
	Deterministic bool
	// MaxRecords is the number of records this writer may seal (0: 2^32,
	// the most); Seal fails with ErrLimit after.
	MaxRecords uint64
}

// NewSession makes a writing session: a fresh data key wrapped for the
// recipients (1..64 KEKs and X25519 public keys, mixed), bound to context
// (which may be nil) (aios_envelope_session_new).
func NewSession(recipients []*Key, context map[string]string, opts *SessionOptions) (*Session, error) {
	ctx, err := newCContext("aios.NewSession", context)
	if err != nil {
		return nil, err
	}
	defer ctx.free()
	lk, err := lockKeys("aios.NewSession: recipients", recipients)
	if err != nil {
		return nil, err
	}
	defer lk.unlock()
	var copts *C.aiosgo_session_opts
	if opts != nil {
		copts = &C.aiosgo_session_opts{suite: C.int32_t(opts.Suite), max_records: C.uint64_t(opts.MaxRecords)}
		if opts.Deterministic {
			copts.flags = C.AIOS_ENVELOPE_SESSION_DETERMINISTIC
		}
	}
	rp, rn := lk.arg()
	var p *C.aios_envelope_session
	e := getCErr()
	defer putCErr(e)
	calls := beginKMS(lk.kms)
	rc := C.aiosgo_envelope_session_new(&p, rp, rn, ctx.ptr(), copts, e)
	runtime.KeepAlive(lk)
	if err := calls.finish(rc, e); err != nil {
		return nil, err
	}
	return newSession(p, nil), nil
}

// OpenSession opens a session header with keys (aios_envelope_session_open),
// with the same checks and errors as Open for a message header. A session
// opened here opens records; sealing with it fails with ErrState.
func OpenSession(header []byte, keys *EnvelopeKeys, opts *OpenOptions) (*Session, error) {
	co, err := opts.c("aios.OpenSession")
	if err != nil {
		return nil, err
	}
	kp, err := keys.read("aios.OpenSession")
	if err != nil {
		co.free()
		return nil, err
	}
	defer keys.h.runlock()
	hp, hn := bytesArg(header)
	var p *C.aios_envelope_session
	e := getCErr()
	defer putCErr(e)
	calls := beginKMS(keys.kms)
	rc := C.aiosgo_envelope_session_open(&p, kp, hp, hn, co.ptr(), e)
	runtime.KeepAlive(header)
	runtime.KeepAlive(keys)
	runtime.KeepAlive(co)
	if err := calls.finish(rc, e); err != nil {
		co.free()
		return nil, err
	}
	// The library may keep the expected context with the session; its C
	// copy lives as long as any Session sharing this one.
	return newSession(p, co.ctx), nil
}

// Ref returns a new *Session for the same session holding a reference of
// its own (aios_envelope_session_ref); both must be closed.
func (s *Session) Ref() (*Session, error) {
	if s == nil {
		return nil, nilError("Session")
	}
	p, err := s.h.read("Session")
	if err != nil {
		return nil, err
	}
	q := C.aios_envelope_session_ref(p)
	s.h.runlock()
	runtime.KeepAlive(s)
	return newSession(q, s.ctx), nil
}

// Close drops this Session's reference (aios_envelope_session_unref); the
// last one wipes the data key. Idempotent; always nil.
func (s *Session) Close() error {
	if s == nil {
		return nil
	}
	s.h.close(freeSession)
	runtime.KeepAlive(s)
	return nil
}

// Header returns a copy of the session header (aios_envelope_session_header),
// to store or send once; nil after Close.
func (s *Session) Header() []byte {
	if s == nil {
		return nil
	}
	p, err := s.h.read("Session")
	if err != nil {
		return nil
	}
	defer s.h.runlock()
	var n C.size_t
	h := C.aios_envelope_session_header(p, &n)
	out := C.GoBytes(unsafe.Pointer(h), C.int(n))
	runtime.KeepAlive(s)
	return out
}

// ID returns the session's id, its 32-byte commitment C
// (aios_envelope_session_id); zero after Close.
func (s *Session) ID() [EnvelopeSessionIDLen]byte {
	var id [EnvelopeSessionIDLen]byte
	if s == nil {
		return id
	}
	p, err := s.h.read("Session")
	if err != nil {
		return id
	}
	defer s.h.runlock()
	copy(id[:], unsafe.Slice((*byte)(unsafe.Pointer(C.aios_envelope_session_id(p))), EnvelopeSessionIDLen))
	runtime.KeepAlive(s)
	return id
}

// Info describes the session header, authenticated
// (aios_envelope_session_info).
func (s *Session) Info() (*EnvelopeInfo, error) {
	if s == nil {
		return nil, nilError("Session")
	}
	p, err := s.h.read("Session")
	if err != nil {
		return nil, err
	}
	defer s.h.runlock()
	var out *C.aios_buffer
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_envelope_session_info(p, &out, e)
	runtime.KeepAlive(s)
	if err := errorFrom(rc, e); err != nil {
		return nil, err
	}
	return infoFrom(out)
}

// Seal seals one record of plaintext (0..16 MiB) with associated data ad
// (0..65536 bytes; not stored: OpenRecord needs it again)
// (aios_envelope_session_seal_exact; aios_envelope_session_seal past the
// limits, for its error). The record is len(plaintext) +
// EnvelopeRecordOverhead bytes. ErrLimit after SessionOptions.MaxRecords
// records; ErrState for a session opened with OpenSession.
func (s *Session) Seal(plaintext, ad []byte) ([]byte, error) {
	if s == nil {
		return nil, nilError("Session")
	}
	p, err := s.h.read("Session")
	if err != nil {
		return nil, err
	}
	defer s.h.runlock()
	out := make([]byte, len(plaintext)+EnvelopeRecordOverhead)
	op, ocap := outArg(out)
	pp, pn := bytesArg(plaintext)
	ap, an := bytesArg(ad)
	e := getCErr()
	defer putCErr(e)
	if len(plaintext) <= EnvelopeRecordMax && len(ad) <= EnvelopeRecordADMax {
		// Within the limits: the exact-size call (no length to return).
		rc := C.aiosgo_envelope_session_seal_exact(p, op, pp, C.uint32_t(pn), ap, C.uint32_t(an), e)
		runtime.KeepAlive(plaintext)
		runtime.KeepAlive(ad)
		runtime.KeepAlive(s)
		if err := errorFrom(rc, e); err != nil {
			return nil, err
		}
		return out, nil
	}
	var n C.size_t
	rc := C.aiosgo_envelope_session_seal(p, op, ocap, &n, pp, pn, ap, an, e)
	runtime.KeepAlive(plaintext)
	runtime.KeepAlive(ad)
	runtime.KeepAlive(s)
	if err := errorFrom(rc, e); err != nil {
		return nil, err
	}
	return out[:n], nil
}

// OpenRecord opens a record this session sealed, with the same ad
// (aios_envelope_session_open_exact; aios_envelope_session_open_record
// past the limits, for its error). StatusEnvelopeUnknownSession
// (ErrNotFound) if the record names another session (see
// RecordSessionID); StatusAuth if the record or ad was changed.
func (s *Session) OpenRecord(record, ad []byte) ([]byte, error) {
	if s == nil {
		return nil, nilError("Session")
	}
	p, err := s.h.read("Session")
	if err != nil {
		return nil, err
	}
	defer s.h.runlock()
	n := len(record) - EnvelopeRecordOverhead
	if n < 0 {
		n = 0
	}
	out := make([]byte, n)
	op, ocap := outArg(out)
	rp, rn := bytesArg(record)
	ap, an := bytesArg(ad)
	e := getCErr()
	defer putCErr(e)
	if n <= EnvelopeRecordMax && len(ad) <= EnvelopeRecordADMax {
		// Within the limits: the exact-size call (no length to return).
		rc := C.aiosgo_envelope_session_open_exact(p, op, rp, C.uint32_t(rn), ap, C.uint32_t(an), e)
		runtime.KeepAlive(record)
		runtime.KeepAlive(ad)
		runtime.KeepAlive(s)
		if err := errorFrom(rc, e); err != nil {
			return nil, err
		}
		return out, nil
	}
	var got C.size_t
	rc := C.aiosgo_envelope_session_open_record(p, op, ocap, &got, rp, rn, ap, an, e)
	runtime.KeepAlive(record)
	runtime.KeepAlive(ad)
	runtime.KeepAlive(s)
	if err := errorFrom(rc, e); err != nil {
		return nil, err
	}
	return out[:got], nil
}

// BatchError is the error of SealBatch or OpenBatch when one record is at
// fault: Index is that record's index in the batch and Err the library's
// *Error (errors.Is and errors.As reach it: errors.Is(err, ErrAuth)).
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string { return e.Err.Error() }

// Unwrap returns the library's error.
func (e *BatchError) Unwrap() error { return e.Err }

// packBatch lays items back to back and lists their lengths; nil items
// give nil, nil (no associated data).
func packBatch(items [][]byte) ([]byte, []C.size_t) {
	if items == nil {
		return nil, nil
	}
	lens := make([]C.size_t, len(items))
	total := 0
	for i, b := range items {
		lens[i] = C.size_t(len(b))
		total += len(b)
	}
	joined := make([]byte, 0, total)
	for _, b := range items {
		joined = append(joined, b...)
	}
	return joined, lens
}

// batchArgs returns the C arguments for packed bytes and their lengths.
func batchArgs(joined []byte, lens []C.size_t) (*C.uint8_t, *C.size_t) {
	if lens == nil {
		return nil, nil
	}
	jp, _ := bytesArg(joined)
	return jp, &lens[0]
}

func batchCheckAds(what string, n int, ads [][]byte) error {
	if ads != nil && len(ads) != n {
		return newError(StatusInvalidArgument, what+": "+strconv.Itoa(len(ads))+
			" associated data for "+strconv.Itoa(n)+" records")
	}
	return nil
}

// SealBatch seals many records in one cgo call
// (aios_envelope_session_seal_batch): record i is exactly what Seal makes
// of plaintexts[i] with ads[i] (ads nil: no associated data for any
// record; else one entry per record). The records returned share one
// backing array (each slice's capacity ends with it). The batch counts
// against MaxRecords at once: StatusLimit, nothing sealed, if fewer than
// len(plaintexts) are left. A record (or its ad) over the limit fails with
// a *BatchError naming it.
func (s *Session) SealBatch(plaintexts, ads [][]byte) ([][]byte, error) {
	if s == nil {
		return nil, nilError("Session")
	}
	if err := batchCheckAds("aios.Session.SealBatch", len(plaintexts), ads); err != nil {
		return nil, err
	}
	p, err := s.h.read("Session")
	if err != nil {
		return nil, err
	}
	defer s.h.runlock()
	n := len(plaintexts)
	if n == 0 {
		return [][]byte{}, nil
	}
	joined, lens := packBatch(plaintexts)
	adj, adl := packBatch(ads)
	out := make([]byte, len(joined)+n*EnvelopeRecordOverhead)
	op, ocap := outArg(out)
	pp, lp := batchArgs(joined, lens)
	ap, alp := batchArgs(adj, adl)
	var got C.size_t
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_envelope_session_seal_batch(p, op, ocap, &got, pp, lp, C.size_t(n), ap, alp, e)
	clear(joined) // the packed copy of the plaintexts
	runtime.KeepAlive(joined)
	runtime.KeepAlive(lens)
	runtime.KeepAlive(adj)
	runtime.KeepAlive(adl)
	runtime.KeepAlive(s)
	if err := errorFrom(rc, e); err != nil {
		for i, pt := range plaintexts {
			if len(pt) > EnvelopeRecordMax || (ads != nil && len(ads[i]) > EnvelopeRecordADMax) {
				return nil, &BatchError{Index: i, Err: err}
			}
		}
		return nil, err
	}
	recs := make([][]byte, n)
	off := 0
	for i, pt := range plaintexts {
		end := off + len(pt) + EnvelopeRecordOverhead
		recs[i] = out[off:end:end]
		off = end
	}
	return recs, nil
}

// OpenBatch opens many records of this session in one cgo call
// (aios_envelope_session_open_batch), with ads as for SealBatch. All or
// nothing: if any record fails (StatusAuth, StatusEnvelopeUnknownSession,
// StatusFormat, ...) no plaintext is returned and the error is a
// *BatchError with that record's index. The plaintexts returned share one
// backing array.
func (s *Session) OpenBatch(records, ads [][]byte) ([][]byte, error) {
	if s == nil {
		return nil, nilError("Session")
	}
	if err := batchCheckAds("aios.Session.OpenBatch", len(records), ads); err != nil {
		return nil, err
	}
	p, err := s.h.read("Session")
	if err != nil {
		return nil, err
	}
	defer s.h.runlock()
	n := len(records)
	if n == 0 {
		return [][]byte{}, nil
	}
	joined, lens := packBatch(records)
	adj, adl := packBatch(ads)
	size := 0
	for _, r := range records {
		if len(r) > EnvelopeRecordOverhead {
			size += len(r) - EnvelopeRecordOverhead
		}
	}
	out := make([]byte, size)
	op, ocap := outArg(out)
	rp, lp := batchArgs(joined, lens)
	ap, alp := batchArgs(adj, adl)
	var got, failed C.size_t
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_envelope_session_open_batch(p, op, ocap, &got, rp, lp, C.size_t(n), ap, alp,
		&failed, e)
	runtime.KeepAlive(joined)
	runtime.KeepAlive(lens)
	runtime.KeepAlive(adj)
	runtime.KeepAlive(adl)
	runtime.KeepAlive(s)
	if err := errorFrom(rc, e); err != nil {
		if uint64(failed) < uint64(n) {
			return nil, &BatchError{Index: int(failed), Err: err}
		}
		return nil, err
	}
	pts := make([][]byte, n)
	off := 0
	for i, r := range records {
		end := off + len(r) - EnvelopeRecordOverhead
		pts[i] = out[off:end:end]
		off = end
	}
	return pts, nil
}

// RecordSessionID returns the id of the session a record (R or D) names
// (aios_envelope_record_session_id), to find the session in a table.
// StatusFormat for bytes that are not a record.
func RecordSessionID(record []byte) ([EnvelopeSessionIDLen]byte, error) {
	var id [EnvelopeSessionIDLen]byte
	rp, rn := bytesArg(record)
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_envelope_record_session_id((*C.uint8_t)(unsafe.Pointer(&id[0])), rp, rn, e)
	runtime.KeepAlive(record)
	if err := errorFrom(rc, e); err != nil {
		return [EnvelopeSessionIDLen]byte{}, err
	}
	return id, nil
}

// ------------------------------------------------------------ JSON fields

// FieldsOptions tunes EncryptFields and DecryptFields
// (aios_envelope_fields_options); nil means the defaults.
type FieldsOptions struct {
	// Deterministic encrypts with AES-SIV (needs a session made with
	// SessionOptions.Deterministic): the same value at the same pointer
	// (and RecordID) in the same session gives the same string, so fields
	// can be joined and searched for equality. This REVEALS WHICH VALUES
	// ARE EQUAL to anyone who can read the documents.
	Deterministic bool
	// SkipMissing ignores pointers that do not resolve (ErrNotFound
	// otherwise).
	SkipMissing bool
	// RecordID (0..256 bytes, e.g. the document's primary key) is bound to
	// every field, so a field cannot be moved to another document; give
	// the same to DecryptFields.
	RecordID []byte
}

func (o *FieldsOptions) flags() C.uint32_t {
	var f C.uint32_t
	if o == nil {
		return f
	}
	if o.Deterministic {
		f |= C.AIOS_ENVELOPE_FIELDS_DETERMINISTIC
	}
	if o.SkipMissing {
		f |= C.AIOS_ENVELOPE_FIELDS_SKIP_MISSING
	}
	return f
}

func (o *FieldsOptions) recordID() []byte {
	if o == nil {
		return nil
	}
	return o.RecordID
}

// EncryptFields encrypts the values of a JSON document named by RFC 6901
// pointers, in place (aios_envelope_fields_encrypt): each becomes the
// string "aios:f1:<base64url>", the rest stays readable and in its order.
// Strings, integers, true, false and null come back from DecryptFields
// with their type; reals, objects and arrays (random mode only) as their
// compact JSON. A field already encrypted is left as it is.
func EncryptFields(doc []byte, s *Session, pointers []string, opts *FieldsOptions) ([]byte, error) {
	if s == nil {
		return nil, newError(StatusInvalidArgument, "aios.EncryptFields: nil Session")
	}
	packed, err := packStrings("aios.EncryptFields: pointer", pointers)
	if err != nil {
		return nil, err
	}
	p, err := s.h.read("Session")
	if err != nil {
		return nil, err
	}
	defer s.h.runlock()
	jp, jn := bytesArg(doc)
	pp, _ := bytesArg(packed)
	rid := opts.recordID()
	ip, in := bytesArg(rid)
	var out *C.aios_buffer
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_envelope_fields_encrypt(&out, p, (*C.char)(unsafe.Pointer(jp)), jn,
		(*C.char)(unsafe.Pointer(pp)), C.size_t(len(pointers)), opts.flags(), ip, in, e)
	runtime.KeepAlive(doc)
	runtime.KeepAlive(packed)
	runtime.KeepAlive(rid)
	runtime.KeepAlive(s)
	if err := errorFrom(rc, e); err != nil {
		return nil, err
	}
	return takeBytes(out), nil
}

// DecryptFields decrypts every "aios:f1:" string of a JSON document with
// whichever of sessions it names (aios_envelope_fields_decrypt);
// StatusEnvelopeUnknownSession naming the pointer if none does. The
// options' RecordID must be the one given at encryption (Deterministic
// and SkipMissing do not matter here).
func DecryptFields(doc []byte, sessions []*Session, opts *FieldsOptions) ([]byte, error) {
	ptrs := make([]*C.aios_envelope_session, 0, len(sessions))
	seen := make(map[*Session]*C.aios_envelope_session, len(sessions))
	var locked []*Session
	defer func() {
		for _, s := range locked {
			s.h.runlock()
			runtime.KeepAlive(s)
		}
	}()
	for i, s := range sessions {
		if s == nil {
			return nil, newError(StatusInvalidArgument, "aios.DecryptFields: sessions["+strconv.Itoa(i)+"] is nil")
		}
		if p, ok := seen[s]; ok {
			ptrs = append(ptrs, p)
			continue
		}
		p, err := s.h.read("Session")
		if err != nil {
			return nil, newError(StatusState, "aios.DecryptFields: sessions["+strconv.Itoa(i)+"] was closed")
		}
		locked = append(locked, s)
		seen[s] = p
		ptrs = append(ptrs, p)
	}
	var sp **C.aios_envelope_session
	if len(ptrs) > 0 {
		sp = &ptrs[0]
	}
	jp, jn := bytesArg(doc)
	rid := opts.recordID()
	ip, in := bytesArg(rid)
	var out *C.aios_buffer
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_envelope_fields_decrypt(&out, sp, C.size_t(len(ptrs)), (*C.char)(unsafe.Pointer(jp)), jn,
		opts.flags(), ip, in, e)
	runtime.KeepAlive(doc)
	runtime.KeepAlive(rid)
	runtime.KeepAlive(ptrs)
	if err := errorFrom(rc, e); err != nil {
		return nil, err
	}
	return takeBytes(out), nil
}
