package aios

/*
#include "shim.h"
*/
import "C"

import (
	"runtime/cgo"
	"sync"
	"unsafe"
)

// Allocator replaces the allocator libaios uses for its own memory and
// protobuf-c's (aios_set_allocator). Install one with SetAllocator before
// the library is initialised.
//
// The methods must return C memory: memory from C.malloc, from CAllocator,
// from mmap, or from a C arena; never Go memory (a pointer into a Go slice
// or variable), which the garbage collector may reuse while libaios still
// holds it. They may be called from any thread, including library worker
// threads, concurrently, and must be safe for that.
//
// Malloc is never asked for 0 bytes; it returns memory aligned for any
// type (like malloc), or nil when it cannot. Free is never given nil.
// There is no Realloc: libaios grows memory by allocating a new block,
// copying and wiping the old one, so no stale copy of the bytes is left.
//
// libsodium's guarded memory (secure buffers) and mbedTLS's allocations
// cannot be hooked and keep their own allocators.
//
// A panic in a method is recovered at the C boundary: Malloc then reports
// failure (nil), and a Free that panics leaks its block. Every allocation
// crosses from C into Go, which costs far more than malloc; use an
// allocator for accounting, limits and tests, not for speed.
type Allocator interface {
	Malloc(size uintptr) unsafe.Pointer
	Free(p unsafe.Pointer)
}

// CAllocator is an Allocator over the C library's malloc and free, for
// allocators that wrap it (to count, limit or fail allocations). Unlike
// cgo's C.malloc it returns nil when memory runs out.
type CAllocator struct{}

// Malloc returns malloc(size), or nil.
func (CAllocator) Malloc(size uintptr) unsafe.Pointer {
	return C.aiosgo_c_malloc(C.size_t(size))
}

// Free calls free(p).
func (CAllocator) Free(p unsafe.Pointer) {
	C.aiosgo_c_free(p)
}

var (
	allocMu     sync.Mutex
	allocHandle cgo.Handle // the installed Go allocator, 0 for the default
)

// SetAllocator routes libaios' own allocations and protobuf-c's through a
// (aios_set_allocator). A nil a restores the C library's malloc.
//
// It must be called before the library is initialised, that is before
// Init and before any other function that initialises it implicitly (every
// function that does real work: Selftest, NewBuffer, BufferFromBytes,
// BuildInfo, ...); afterwards it fails with an *Error of kind ErrState and
// the allocator in use does not change. The allocator then stays in use
// for the life of the process. VersionString, VersionNumber and AbiVersion
// do not initialise the library and may be called first.
func SetAllocator(a Allocator) error {
	allocMu.Lock()
	defer allocMu.Unlock()

	var h cgo.Handle
	if a != nil {
		h = cgo.NewHandle(a)
	}
	e := getCErr()
	defer putCErr(e)
	if err := errorFrom(C.aiosgo_set_allocator(C.uintptr_t(h), e), e); err != nil {
		if h != 0 {
			h.Delete()
		}
		return err
	}
	// The previous allocator never allocated anything: allocation starts
	// with initialisation, after which the allocator cannot change.
	if allocHandle != 0 {
		allocHandle.Delete()
	}
	allocHandle = h
	return nil
}

func allocatorFrom(payload C.uintptr_t) Allocator {
	return cgo.Handle(payload).Value().(Allocator)
}

//export aiosgoMalloc
func aiosgoMalloc(size C.size_t, payload C.uintptr_t) (p unsafe.Pointer) {
	defer func() {
		if recover() != nil {
			p = nil
		}
	}()
	return allocatorFrom(payload).Malloc(uintptr(size))
}

//export aiosgoFree
func aiosgoFree(ptr unsafe.Pointer, payload C.uintptr_t) {
	defer func() {
		_ = recover() // a Free that panics leaks its block; see Allocator
	}()
	allocatorFrom(payload).Free(ptr)
}
