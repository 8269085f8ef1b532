package aios

/*
#include "shim.h"
*/
import "C"

import (
	"io"
	"os"
	"runtime"
	"strconv"
	"unsafe"
)

// streamPiece is the most input handed to the library in one update, so
// that the output buffer stays small whatever the caller writes at once.
const streamPiece = 1 << 20

// growTo returns b with room for n bytes.
func growTo(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// outArg returns a pointer and a capacity for an output slice.
func outArg(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return (*C.uint8_t)(unsafe.Pointer(&emptyByte[0])), 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// ------------------------------------------------------------ SealWriter

// SealWriter seals what is written to it as one message and writes the
// message to an underlying writer as it goes (aios_envelope_sealer), in
// constant memory: the header first, then each chunk once it is full.
// Close writes the final chunk; a message without it does not open
// (StatusEnvelopeTruncated). Close does not close the underlying writer.
//
// A SealWriter is for one goroutine at a time (the library may use worker
// threads of its own, SealOptions.Threads). Errors are sticky: after one,
// every Write and Close returns it.
type SealWriter struct {
	h   handle[*C.aios_envelope_sealer]
	w   io.Writer
	out []byte
	err error
}

func freeSealer(p *C.aios_envelope_sealer) { C.aios_envelope_sealer_free(p) }

// NewSealWriter returns a SealWriter that seals to recipients with context
// (which may be nil) and writes the message to w
// (aios_envelope_sealer_new). The data key is wrapped for every recipient
// here, so their errors come back now.
func NewSealWriter(w io.Writer, recipients []*Key, context map[string]string, opts *SealOptions) (*SealWriter, error) {
	if w == nil {
		return nil, newError(StatusInvalidArgument, "aios.NewSealWriter: nil writer")
	}
	ctx, err := newCContext("aios.NewSealWriter", context)
	if err != nil {
		return nil, err
	}
	defer ctx.free()
	lk, err := lockKeys("aios.NewSealWriter: recipients", recipients)
	if err != nil {
		return nil, err
	}
	defer lk.unlock()
	rp, rn := lk.arg()
	var p *C.aios_envelope_sealer
	e := getCErr()
	defer putCErr(e)
	calls := beginKMS(lk.kms)
	rc := C.aiosgo_envelope_sealer_new(&p, rp, rn, ctx.ptr(), opts.c(), e)
	runtime.KeepAlive(lk)
	if err := calls.finish(rc, e); err != nil {
		return nil, err
	}
	sw := &SealWriter{w: w}
	attachHandle(sw, &sw.h, p, freeSealer)
	return sw, nil
}

// emit writes out to the underlying writer.
func (sw *SealWriter) emit(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	n, err := sw.w.Write(b)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	return err
}

// Write seals p (aios_envelope_sealer_update) and writes whatever chunks
// are complete. It returns len(p) or an error.
func (sw *SealWriter) Write(p []byte) (int, error) {
	if sw == nil {
		return 0, nilError("SealWriter")
	}
	s, err := sw.h.write("SealWriter")
	if err != nil {
		return 0, err
	}
	defer sw.h.unlock()
	if sw.err != nil {
		return 0, sw.err
	}
	e := getCErr()
	defer putCErr(e)
	done := 0
	for done < len(p) {
		piece := p[done:min(len(p), done+streamPiece)]
		sw.out = growTo(sw.out, int(C.aios_envelope_sealer_bound(s, C.size_t(len(piece)))))
		op, ocap := outArg(sw.out)
		ip, in := bytesArg(piece)
		var n C.size_t
		rc := C.aiosgo_envelope_sealer_update(s, op, ocap, &n, ip, in, e)
		runtime.KeepAlive(p)
		if err := errorFrom(rc, e); err != nil {
			sw.err = err
			return done, err
		}
		if err := sw.emit(sw.out[:n]); err != nil {
			sw.err = err
			return done, err
		}
		done += len(piece)
	}
	runtime.KeepAlive(sw)
	return done, nil
}

// Close seals the final chunk (aios_envelope_sealer_final), writes it and
// releases the sealer. It returns the first error of the stream, if any;
// a second Close returns nil. The underlying writer stays open.
func (sw *SealWriter) Close() error {
	if sw == nil {
		return nil
	}
	s, err := sw.h.write("SealWriter")
	if err != nil {
		return nil // closed already
	}
	if sw.err == nil {
		e := getCErr()
		sw.out = growTo(sw.out, int(C.aios_envelope_sealer_bound(s, 0)))
		op, ocap := outArg(sw.out)
		var n C.size_t
		rc := C.aiosgo_envelope_sealer_final(s, op, ocap, &n, e)
		if err := errorFrom(rc, e); err != nil {
			sw.err = err
		} else if err := sw.emit(sw.out[:n]); err != nil {
			sw.err = err
		}
		putCErr(e)
	}
	sw.h.close(freeSealer) // freed by the unlock, unless another call runs
	sw.h.unlock()
	runtime.KeepAlive(sw)
	return sw.err
}

// ------------------------------------------------------------ OpenReader

// OpenReader decrypts a message as it is read from an underlying reader
// (aios_envelope_opener), in constant memory. The key is found once the
// header is complete.
//
// No plaintext of a chunk is returned before its tag verifies, but the
// plaintext of earlier chunks has been returned when a later one fails,
// and a message cut after a whole chunk is only found out at the end. So
// treat what Read returns as provisional until Read has returned io.EOF:
// io.EOF means the final chunk verified; a truncated message ends with an
// error matching StatusEnvelopeTruncated instead (FORMAT.md 8.4).
//
// An OpenReader is for one goroutine at a time. It uses its EnvelopeKeys
// while reading: do not close them before it is done. Close releases it.
type OpenReader struct {
	h    handle[*C.aios_envelope_opener]
	r    io.Reader
	keys *EnvelopeKeys
	co   *cOpenOptions // its expected context is borrowed by the opener
	in   []byte
	out  []byte
	pend []byte // plaintext not yet returned
	eof  bool   // the underlying reader ended
	done bool   // final verified
	err  error  // sticky
}

func freeOpener(p *C.aios_envelope_opener) { C.aios_envelope_opener_free(p) }

// NewOpenReader returns an OpenReader that reads a message from r and
// opens it with keys (aios_envelope_opener_new).
func NewOpenReader(r io.Reader, keys *EnvelopeKeys, opts *OpenOptions) (*OpenReader, error) {
	if r == nil {
		return nil, newError(StatusInvalidArgument, "aios.NewOpenReader: nil reader")
	}
	co, err := opts.c("aios.NewOpenReader")
	if err != nil {
		return nil, err
	}
	kp, err := keys.read("aios.NewOpenReader")
	if err != nil {
		co.free()
		return nil, err
	}
	var p *C.aios_envelope_opener
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_envelope_opener_new(&p, kp, co.ptr(), e)
	keys.h.runlock()
	runtime.KeepAlive(keys)
	if err := errorFrom(rc, e); err != nil {
		co.free()
		return nil, err
	}
	or := &OpenReader{r: r, keys: keys, co: co}
	// or.co keeps the options' C context (borrowed by the opener) alive
	// for as long as the opener.
	attachHandle(or, &or.h, p, freeOpener)
	return or, nil
}

// step feeds in (or, with final, the end) to the opener and keeps the
// plaintext it gives back.
func (or *OpenReader) step(o *C.aios_envelope_opener, in []byte, final bool) error {
	kp, err := or.keys.read("aios.OpenReader")
	if err != nil {
		return err
	}
	defer or.keys.h.runlock()
	e := getCErr()
	defer putCErr(e)
	calls := beginKMS(or.keys.kms)
	var n C.size_t
	var rc C.int
	if final {
		or.out = growTo(or.out, int(C.aios_envelope_opener_bound(o, 0)))
		op, ocap := outArg(or.out)
		rc = C.aiosgo_envelope_opener_final(o, op, ocap, &n, e)
	} else {
		or.out = growTo(or.out, int(C.aios_envelope_opener_bound(o, C.size_t(len(in)))))
		op, ocap := outArg(or.out)
		ip, inl := bytesArg(in)
		rc = C.aiosgo_envelope_opener_update(o, op, ocap, &n, ip, inl, e)
	}
	runtime.KeepAlive(kp)
	runtime.KeepAlive(or.keys)
	runtime.KeepAlive(or.co)
	if err := calls.finish(rc, e); err != nil {
		return err
	}
	or.pend = or.out[:n]
	return nil
}

// Read returns plaintext (see OpenReader on why it is provisional until
// io.EOF).
func (or *OpenReader) Read(p []byte) (int, error) {
	if or == nil {
		return 0, nilError("OpenReader")
	}
	o, err := or.h.write("OpenReader")
	if err != nil {
		return 0, err
	}
	defer or.h.unlock()
	defer runtime.KeepAlive(or)
	for {
		if len(or.pend) > 0 {
			n := copy(p, or.pend)
			or.pend = or.pend[n:]
			return n, nil
		}
		if or.err != nil {
			return 0, or.err
		}
		if or.done {
			return 0, io.EOF
		}
		if len(p) == 0 {
			return 0, nil
		}
		if or.eof {
			if err := or.step(o, nil, true); err != nil {
				or.err = err
			} else {
				or.done = true
			}
			continue
		}
		if or.in == nil {
			or.in = make([]byte, 64<<10)
		}
		n, rerr := or.r.Read(or.in)
		if n > 0 {
			if err := or.step(o, or.in[:n], false); err != nil {
				or.err = err
				continue
			}
		}
		if rerr == io.EOF {
			or.eof = true
		} else if rerr != nil {
			or.err = rerr
		}
	}
}

// Info describes the message's header once it was read and opened
// (aios_envelope_opener_info): Authenticated is true and OpenedBy names
// the recipient record used. ErrState before the header was read.
func (or *OpenReader) Info() (*EnvelopeInfo, error) {
	if or == nil {
		return nil, nilError("OpenReader")
	}
	o, err := or.h.write("OpenReader")
	if err != nil {
		return nil, err
	}
	defer or.h.unlock()
	var out *C.aios_buffer
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_envelope_opener_info(o, &out, e)
	runtime.KeepAlive(or)
	if err := errorFrom(rc, e); err != nil {
		return nil, err
	}
	return infoFrom(out)
}

// Close releases the opener (aios_envelope_opener_free). It does not close
// the underlying reader. Idempotent; always nil.
func (or *OpenReader) Close() error {
	if or == nil {
		return nil
	}
	or.h.close(func(p *C.aios_envelope_opener) {
		freeOpener(p)
		or.co.free() // the expected context the opener borrowed
	})
	runtime.KeepAlive(or)
	return nil
}

// ------------------------------------------------------------ files

// fileFd returns f's descriptor (os.File.Fd puts it in blocking mode,
// which the library's read/write loop needs).
func fileFd(what string, f *os.File) (C.int, error) {
	if f == nil {
		return -1, newError(StatusInvalidArgument, "aios: "+what+" is nil")
	}
	fd := f.Fd()
	if fd == ^uintptr(0) {
		return -1, newError(StatusInvalidArgument, "aios: "+what+" is closed")
	}
	return C.int(fd), nil
}

// SealFile seals everything read from src (to its end) as one message
// written to dst (aios_envelope_seal_fd), in constant memory. Files,
// pipes and sockets work; neither is closed. StatusIO names a failing
// system call.
func SealFile(dst, src *os.File, recipients []*Key, context map[string]string, opts *SealOptions) error {
	outFd, err := fileFd("aios.SealFile: dst", dst)
	if err != nil {
		return err
	}
	inFd, err := fileFd("aios.SealFile: src", src)
	if err != nil {
		return err
	}
	ctx, err := newCContext("aios.SealFile", context)
	if err != nil {
		return err
	}
	defer ctx.free()
	lk, err := lockKeys("aios.SealFile: recipients", recipients)
	if err != nil {
		return err
	}
	defer lk.unlock()
	rp, rn := lk.arg()
	e := getCErr()
	defer putCErr(e)
	calls := beginKMS(lk.kms)
	rc := C.aiosgo_envelope_seal_fd(outFd, inFd, rp, rn, ctx.ptr(), opts.c(), e)
	runtime.KeepAlive(dst)
	runtime.KeepAlive(src)
	runtime.KeepAlive(lk)
	return calls.finish(rc, e)
}

// OpenFile opens the message read from src (to its end) and writes the
// plaintext to dst (aios_envelope_open_fd), in constant memory. On
// failure, what was written to dst is not to be used: the plaintext of
// earlier chunks may be there.
func OpenFile(dst, src *os.File, keys *EnvelopeKeys, opts *OpenOptions) error {
	outFd, err := fileFd("aios.OpenFile: dst", dst)
	if err != nil {
		return err
	}
	inFd, err := fileFd("aios.OpenFile: src", src)
	if err != nil {
		return err
	}
	co, err := opts.c("aios.OpenFile")
	if err != nil {
		return err
	}
	defer co.free()
	kp, err := keys.read("aios.OpenFile")
	if err != nil {
		return err
	}
	defer keys.h.runlock()
	e := getCErr()
	defer putCErr(e)
	calls := beginKMS(keys.kms)
	rc := C.aiosgo_envelope_open_fd(outFd, inFd, kp, co.ptr(), e)
	runtime.KeepAlive(dst)
	runtime.KeepAlive(src)
	runtime.KeepAlive(keys)
	runtime.KeepAlive(co)
	return calls.finish(rc, e)
}

// ------------------------------------------------------------ random access

// readerPtrs is the C side of an EnvelopeReader: the reader and, for one
// over memory, the C copy of the message it borrows.
type readerPtrs struct {
	r   *C.aios_envelope_reader
	msg *C.aios_buffer
}

func freeReader(p readerPtrs) {
	C.aios_envelope_reader_free(p.r)
	C.aios_buffer_free(p.msg) // after the reader that borrows it; NULL-safe
}

// EnvelopeReader reads any byte range of a sealed message's plaintext
// (aios_envelope_reader), decrypting only the chunks the range touches.
// It implements io.ReaderAt, so io.NewSectionReader(r, 0, r.Size()) gives
// an io.ReadSeeker. On creation it opens the header and verifies the final
// chunk, so Size is proven.
//
// An EnvelopeReader is safe for concurrent use: any number of goroutines
// may ReadAt at once. Close releases it.
type EnvelopeReader struct {
	h     handle[readerPtrs]
	size  int64
	chunk uint32
}

func newEnvelopeReader(p readerPtrs) *EnvelopeReader {
	er := &EnvelopeReader{
		size:  int64(C.aios_envelope_reader_size(p.r)),
		chunk: uint32(C.aios_envelope_reader_chunk_size(p.r)),
	}
	attachHandle(er, &er.h, p, freeReader)
	return er
}

// NewEnvelopeReader returns a reader over a whole sealed message in memory
// (aios_envelope_reader_new_mem). The message is copied (the library
// borrows its copy), so the caller may reuse message at once.
func NewEnvelopeReader(message []byte, keys *EnvelopeKeys, opts *OpenOptions) (*EnvelopeReader, error) {
	co, err := opts.c("aios.NewEnvelopeReader")
	if err != nil {
		return nil, err
	}
	defer co.free()
	kp, err := keys.read("aios.NewEnvelopeReader")
	if err != nil {
		return nil, err
	}
	defer keys.h.runlock()
	e := getCErr()
	defer putCErr(e)
	var msg *C.aios_buffer
	mp, mn := bytesArg(message)
	rc := C.aiosgo_buffer_from_bytes(&msg, mp, mn, 0, e)
	runtime.KeepAlive(message)
	if err := errorFrom(rc, e); err != nil {
		return nil, err
	}
	var r *C.aios_envelope_reader
	calls := beginKMS(keys.kms)
	rc = C.aiosgo_envelope_reader_new_mem(&r, kp, C.aios_buffer_data(msg), C.aios_buffer_len(msg), co.ptr(), e)
	runtime.KeepAlive(keys)
	runtime.KeepAlive(co)
	if err := calls.finish(rc, e); err != nil {
		C.aios_buffer_free(msg)
		return nil, err
	}
	return newEnvelopeReader(readerPtrs{r: r, msg: msg}), nil
}

// NewEnvelopeFileReader returns a reader over a sealed message in a file
// (aios_envelope_reader_new_fd). The library reads it with pread on a
// duplicate of f's descriptor: f may be closed afterwards, and its offset
// is not used.
func NewEnvelopeFileReader(f *os.File, keys *EnvelopeKeys, opts *OpenOptions) (*EnvelopeReader, error) {
	fd, err := fileFd("aios.NewEnvelopeFileReader: f", f)
	if err != nil {
		return nil, err
	}
	co, err := opts.c("aios.NewEnvelopeFileReader")
	if err != nil {
		return nil, err
	}
	defer co.free()
	kp, err := keys.read("aios.NewEnvelopeFileReader")
	if err != nil {
		return nil, err
	}
	defer keys.h.runlock()
	e := getCErr()
	defer putCErr(e)
	var r *C.aios_envelope_reader
	calls := beginKMS(keys.kms)
	rc := C.aiosgo_envelope_reader_new_fd(&r, kp, fd, co.ptr(), e)
	runtime.KeepAlive(f)
	runtime.KeepAlive(keys)
	runtime.KeepAlive(co)
	if err := calls.finish(rc, e); err != nil {
		return nil, err
	}
	return newEnvelopeReader(readerPtrs{r: r}), nil
}

// Size returns the plaintext's length in bytes (aios_envelope_reader_size).
func (er *EnvelopeReader) Size() int64 {
	if er == nil {
		return 0
	}
	return er.size
}

// ChunkSize returns the message's chunk size
// (aios_envelope_reader_chunk_size).
func (er *EnvelopeReader) ChunkSize() uint32 {
	if er == nil {
		return 0
	}
	return er.chunk
}

// ReadAt reads len(p) bytes of plaintext at off (aios_envelope_reader_read),
// as io.ReaderAt says: fewer only at the end, with io.EOF. A chunk that
// fails to verify gives an error matching StatusAuth, and p is wiped.
func (er *EnvelopeReader) ReadAt(p []byte, off int64) (int, error) {
	if er == nil {
		return 0, nilError("EnvelopeReader")
	}
	if off < 0 {
		return 0, newError(StatusInvalidArgument, "aios.EnvelopeReader.ReadAt: negative offset "+strconv.FormatInt(off, 10))
	}
	ptrs, err := er.h.read("EnvelopeReader")
	if err != nil {
		return 0, err
	}
	defer er.h.runlock()
	if off >= er.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	op, ocap := outArg(p)
	var n C.size_t
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_envelope_reader_read(ptrs.r, C.uint64_t(off), op, ocap, &n, e)
	runtime.KeepAlive(p)
	runtime.KeepAlive(er)
	if err := errorFrom(rc, e); err != nil {
		return 0, err
	}
	if int(n) < len(p) {
		return int(n), io.EOF
	}
	return int(n), nil
}

// Info describes the message's header, authenticated
// (aios_envelope_reader_info).
func (er *EnvelopeReader) Info() (*EnvelopeInfo, error) {
	if er == nil {
		return nil, nilError("EnvelopeReader")
	}
	ptrs, err := er.h.read("EnvelopeReader")
	if err != nil {
		return nil, err
	}
	defer er.h.runlock()
	var out *C.aios_buffer
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_envelope_reader_info(ptrs.r, &out, e)
	runtime.KeepAlive(er)
	if err := errorFrom(rc, e); err != nil {
		return nil, err
	}
	return infoFrom(out)
}

// Close releases the reader (aios_envelope_reader_free). It returns at
// once: reads already running finish on the reader, which is freed when the
// last of them returns; later calls get an ErrState error. Idempotent;
// always nil.
func (er *EnvelopeReader) Close() error {
	if er == nil {
		return nil
	}
	er.h.close(freeReader)
	runtime.KeepAlive(er)
	return nil
}

// ------------------------------------------------------------ rewrap

// RewrapOptions tunes Rewrap (aios_envelope_rewrap_options); nil means
// the defaults.
type RewrapOptions struct {
	// Remove drops the records of these keys: KEK records naming the same
	// provider, id and version, X25519 records with the same public key.
	Remove []*Key
	// ReplaceAll drops every old record (AIOS_ENVELOPE_REWRAP_REPLACE_ALL).
	ReplaceAll bool
	// MaxUnwrapAttempts bounds the records tried to open the header (0: 8).
	MaxUnwrapAttempts uint32
}

// prepare locks the keys of a rewrap and returns its C options.
func (o *RewrapOptions) prepare(what string, add []*Key) (addK, removeK *lockedKeys, copts *C.aiosgo_rewrap_opts, err error) {
	addK, err = lockKeys(what+": add", add)
	if err != nil {
		return nil, nil, nil, err
	}
	copts = &C.aiosgo_rewrap_opts{}
	if o != nil {
		if removeK, err = lockKeys(what+": Remove", o.Remove); err != nil {
			addK.unlock()
			return nil, nil, nil, err
		}
		if o.ReplaceAll {
			copts.flags = C.AIOS_ENVELOPE_REWRAP_REPLACE_ALL
		}
		copts.max_unwrap_attempts = C.uint32_t(o.MaxUnwrapAttempts)
	}
	return addK, removeK, copts, nil
}

// RewrapHeader re-encrypts the recipient records of the message or session
// header data starts with (aios_envelope_rewrap): keys must open it (it is
// authenticated first); the new list is the old records minus those of
// opts.Remove, minus, for each added KEK, the records of any version of
// the same key, plus add. It returns the new header and the length of the
// old one: the new message is the new header followed by
// data[oldHeaderLen:] unchanged. An empty result is ErrInvalid.
func RewrapHeader(data []byte, keys *EnvelopeKeys, add []*Key, opts *RewrapOptions) (header []byte, oldHeaderLen int, err error) {
	// Lock order, everywhere: the key set, then keys (as AddKey does).
	kp, err := keys.read("aios.Rewrap")
	if err != nil {
		return nil, 0, err
	}
	defer keys.h.runlock()
	addK, removeK, copts, err := opts.prepare("aios.Rewrap", add)
	if err != nil {
		return nil, 0, err
	}
	defer addK.unlock()
	defer removeK.unlock()
	ap, an := addK.arg()
	rp, rn := removeK.arg()
	dp, dn := bytesArg(data)
	var out *C.aios_buffer
	var oldLen C.size_t
	e := getCErr()
	defer putCErr(e)
	calls := beginKMS(keys.kms, addK.kms)
	rc := C.aiosgo_envelope_rewrap(&out, &oldLen, kp, dp, dn, ap, an, rp, rn, copts, e)
	runtime.KeepAlive(data)
	runtime.KeepAlive(keys)
	runtime.KeepAlive(addK)
	runtime.KeepAlive(removeK)
	if err := calls.finish(rc, e); err != nil {
		return nil, 0, err
	}
	return takeBytes(out), int(oldLen), nil
}

// Rewrap returns the whole message data (a message or a session header)
// with its recipient records re-encrypted, as RewrapHeader describes; the
// payload is copied unread.
func Rewrap(data []byte, keys *EnvelopeKeys, add []*Key, opts *RewrapOptions) ([]byte, error) {
	header, oldLen, err := RewrapHeader(data, keys, add, opts)
	if err != nil {
		return nil, err
	}
	if oldLen > len(data) {
		return nil, newError(StatusInternal, "aios.Rewrap: the old header is longer than the data")
	}
	out := make([]byte, 0, len(header)+len(data)-oldLen)
	return append(append(out, header...), data[oldLen:]...), nil
}

// RewrapFile reads a message from src, writes it to dst with its recipient
// records re-encrypted as RewrapHeader describes, and copies the payload
// unread (aios_envelope_rewrap_fd). Neither file is closed.
func RewrapFile(dst, src *os.File, keys *EnvelopeKeys, add []*Key, opts *RewrapOptions) error {
	outFd, err := fileFd("aios.RewrapFile: dst", dst)
	if err != nil {
		return err
	}
	inFd, err := fileFd("aios.RewrapFile: src", src)
	if err != nil {
		return err
	}
	kp, err := keys.read("aios.RewrapFile")
	if err != nil {
		return err
	}
	defer keys.h.runlock()
	addK, removeK, copts, err := opts.prepare("aios.RewrapFile", add)
	if err != nil {
		return err
	}
	defer addK.unlock()
	defer removeK.unlock()
	ap, an := addK.arg()
	rp, rn := removeK.arg()
	e := getCErr()
	defer putCErr(e)
	calls := beginKMS(keys.kms, addK.kms)
	rc := C.aiosgo_envelope_rewrap_fd(outFd, inFd, kp, ap, an, rp, rn, copts, e)
	runtime.KeepAlive(dst)
	runtime.KeepAlive(src)
	runtime.KeepAlive(keys)
	runtime.KeepAlive(addK)
	runtime.KeepAlive(removeK)
	return calls.finish(rc, e)
}
