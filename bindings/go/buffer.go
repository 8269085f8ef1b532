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

// BufferFlags mirrors the flags of aios_buffer_new.
type BufferFlags uint32

// BufferSecure (AIOS_BUFFER_SECURE) keeps a buffer's bytes in libsodium's
// guarded memory: guard pages on both sides, a canary, locked into RAM and
// excluded from core dumps.
const BufferSecure BufferFlags = C.AIOS_BUFFER_SECURE

// The largest buffers libaios will allocate (AIOS_BUFFER_MAX_LEN,
// AIOS_BUFFER_SECURE_MAX_LEN): 2^40 bytes, and 2^28 (256 MiB) for a secure
// buffer, which is locked RAM meant for keys and other small secrets.
// Longer requests fail with an ErrLimit error before anything is
// allocated. MaxBufferLen asks the loaded library.
const (
	BufferMaxLen       = C.AIOS_BUFFER_MAX_LEN        // 1 << 40
	BufferSecureMaxLen = C.AIOS_BUFFER_SECURE_MAX_LEN // 1 << 28
)

// MaxBufferLen returns the largest buffer the loaded library's
// aios_buffer_new accepts, secure or not (aios_buffer_max_len): the
// run-time twin of BufferMaxLen and BufferSecureMaxLen.
func MaxBufferLen(secure bool) uint64 {
	return uint64(C.aios_buffer_max_len(bufferFlags(secure)))
}

// Protection mirrors aios_protection: the page protection of a secure
// buffer's bytes.
type Protection int32

// Page protections for Buffer.Protect.
const (
	ProtectReadWrite Protection = 0 // AIOS_PROTECT_READWRITE
	ProtectReadOnly  Protection = 1 // AIOS_PROTECT_READONLY
	ProtectNoAccess  Protection = 2 // AIOS_PROTECT_NOACCESS
)

func (p Protection) String() string {
	switch p {
	case ProtectReadWrite:
		return "readwrite"
	case ProtectReadOnly:
		return "readonly"
	case ProtectNoAccess:
		return "noaccess"
	}
	return "Protection(" + strconv.FormatInt(int64(p), 10) + ")"
}

// Buffer is a byte buffer that libaios allocated (aios_buffer): plain, or
// secure (in guarded memory, see BufferSecure). Functions that return
// secrets return secure buffers.
//
// Release a Buffer with Close, which wipes and frees it; a cleanup does the
// same if an unclosed Buffer is garbage collected, but do not rely on it
// for secrets. After Close, methods that return an error fail with an
// ErrState error, and Len, Flags, Secure and Protection return zero
// values; nothing crashes.
//
// A Buffer is safe for concurrent use by several goroutines: reads may run
// together; Protect and Mutate wait for the others and run alone. Close
// never waits: calls already running (a View, say) finish on the buffer,
// which is wiped and freed when the last of them returns; later calls get
// an ErrState error.
type Buffer struct {
	h handle[*C.aios_buffer]
}

func freeBuffer(p *C.aios_buffer) { C.aios_buffer_free(p) }

func newBuffer(p *C.aios_buffer) *Buffer {
	b := &Buffer{}
	attachHandle(b, &b.h, p, freeBuffer)
	return b
}

func bufferFlags(secure bool) C.uint32_t {
	if secure {
		return C.uint32_t(BufferSecure)
	}
	return 0
}

// NewBuffer returns a zero-filled buffer of n bytes (aios_buffer_new); n may
// be 0. With secure, the bytes live in guarded memory (BufferSecure).
func NewBuffer(n int, secure bool) (*Buffer, error) {
	if n < 0 {
		return nil, newError(StatusInvalidArgument, "aios.NewBuffer: negative length "+strconv.Itoa(n))
	}
	var p *C.aios_buffer
	e := getCErr()
	defer putCErr(e)
	if err := errorFrom(C.aiosgo_buffer_new(&p, C.size_t(n), bufferFlags(secure), e), e); err != nil {
		return nil, err
	}
	return newBuffer(p), nil
}

// BufferFromBytes returns a buffer holding a copy of data
// (aios_buffer_from_bytes). With secure, the copy lives in guarded memory;
// data itself is left as it was (see Wipe).
func BufferFromBytes(data []byte, secure bool) (*Buffer, error) {
	var p *C.aios_buffer
	var src *C.uint8_t
	if len(data) > 0 {
		src = (*C.uint8_t)(unsafe.Pointer(&data[0]))
	}
	e := getCErr()
	defer putCErr(e)
	rc := C.aiosgo_buffer_from_bytes(&p, src, C.size_t(len(data)), bufferFlags(secure), e)
	runtime.KeepAlive(data)
	if err := errorFrom(rc, e); err != nil {
		return nil, err
	}
	return newBuffer(p), nil
}

// Len returns the number of bytes in b (aios_buffer_len); 0 after Close.
func (b *Buffer) Len() int {
	if b == nil {
		return 0
	}
	p, err := b.h.read("Buffer")
	if err != nil {
		return 0
	}
	n := int(C.aios_buffer_len(p))
	b.h.runlock()
	runtime.KeepAlive(b)
	return n
}

// Flags returns the flags b was created with (aios_buffer_flags); 0 after
// Close.
func (b *Buffer) Flags() BufferFlags {
	if b == nil {
		return 0
	}
	p, err := b.h.read("Buffer")
	if err != nil {
		return 0
	}
	f := BufferFlags(C.aios_buffer_flags(p))
	b.h.runlock()
	runtime.KeepAlive(b)
	return f
}

// Secure reports whether b's bytes live in guarded memory; false after
// Close.
func (b *Buffer) Secure() bool { return b.Flags()&BufferSecure != 0 }

// Protection returns the current page protection of b's bytes
// (aios_buffer_protection): ProtectReadWrite for a plain buffer, else what
// the last successful Protect set. ProtectReadWrite after Close.
func (b *Buffer) Protection() Protection {
	if b == nil {
		return ProtectReadWrite
	}
	p, err := b.h.read("Buffer")
	if err != nil {
		return ProtectReadWrite
	}
	prot := Protection(C.aios_buffer_protection(p))
	b.h.runlock()
	runtime.KeepAlive(b)
	return prot
}

// bufferView returns the bytes at data as a slice over C memory; the
// handle's lock must be held for as long as the slice is used.
func bufferView(p *C.aios_buffer, data *C.uint8_t) []byte {
	n := int(C.aios_buffer_len(p))
	return unsafe.Slice((*byte)(unsafe.Pointer(data)), n)
}

// Bytes returns a copy of b's bytes in Go memory (aios_buffer_data). The
// copy is ordinary memory: for a secure buffer prefer View, or Wipe the
// copy when done.
func (b *Buffer) Bytes() ([]byte, error) {
	var out []byte
	err := b.View(func(data []byte) error {
		out = make([]byte, len(data))
		copy(out, data)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// View calls fn with b's bytes in place (aios_buffer_data), without a copy,
// and returns fn's error. The slice aliases libaios memory: fn must not
// modify it, keep it, or use it after returning. It fails with an ErrState
// error if b is closed or protected with ProtectNoAccess.
func (b *Buffer) View(fn func(data []byte) error) error {
	if b == nil {
		return nilError("Buffer")
	}
	p, err := b.h.read("Buffer")
	if err != nil {
		return err
	}
	defer b.h.runlock()
	if Protection(C.aios_buffer_protection(p)) == ProtectNoAccess {
		return newError(StatusState, "aios.Buffer.View: the buffer is protected with ProtectNoAccess")
	}
	err = fn(bufferView(p, C.aios_buffer_data(p)))
	runtime.KeepAlive(b)
	return err
}

// Mutate calls fn with b's bytes in place, writable (aios_buffer_data_mut),
// and returns fn's error. The slice aliases libaios memory: fn must not keep
// it or use it after returning. It fails with an ErrState error if b is
// closed or protected with anything but ProtectReadWrite.
func (b *Buffer) Mutate(fn func(data []byte) error) error {
	if b == nil {
		return nilError("Buffer")
	}
	p, err := b.h.write("Buffer")
	if err != nil {
		return err
	}
	defer b.h.unlock()
	if prot := Protection(C.aios_buffer_protection(p)); prot != ProtectReadWrite {
		return newError(StatusState, "aios.Buffer.Mutate: the buffer is protected "+prot.String())
	}
	err = fn(bufferView(p, C.aios_buffer_data_mut(p)))
	runtime.KeepAlive(b)
	return err
}

// Protect changes the page protection of a secure buffer's bytes
// (aios_buffer_protect), for while it is not in use; Protection reports
// it. A plain buffer fails with StatusUnsupported (kind ErrInvalid). While
// a buffer is ReadOnly, Mutate fails; while it is NoAccess, View, Bytes and
// Mutate fail (in C, touching it would kill the process). Close works in
// any state.
func (b *Buffer) Protect(prot Protection) error {
	if b == nil {
		return nilError("Buffer")
	}
	p, err := b.h.write("Buffer")
	if err != nil {
		return err
	}
	defer b.h.unlock()
	e := getCErr()
	defer putCErr(e)
	err = errorFrom(C.aiosgo_buffer_protect(p, C.int(prot), e), e)
	runtime.KeepAlive(b)
	return err
}

// Close wipes and frees b (aios_buffer_free): at once, or, if calls are
// still running on b (a View, say), when the last of them returns. It
// does not wait. It is idempotent and always returns nil.
func (b *Buffer) Close() error {
	if b == nil {
		return nil
	}
	b.h.close(freeBuffer)
	runtime.KeepAlive(b)
	return nil
}
