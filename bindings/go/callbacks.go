package aios

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"runtime/cgo"
	"sync"
)

// Calling back from C into Go.
//
// A library call that may call Go code for its own duration (the self-test
// callback today; telemetry sinks later) goes through withCallbacks:
//
//  1. withCallbacks wraps the per-call Go state in a callbackCtx and gives
//     C a runtime/cgo.Handle to it as the callback payload (a uintptr_t in
//     C; Go never turns that integer into a pointer).
//  2. The C trampoline in shim.c calls an //export-ed Go function with the
//     handle; that function finds the callbackCtx and runs the host's code
//     through callbackCtx.run, which turns a returned error or a panic into
//     a status for the library and keeps the Go value: AIOS_OK to go on,
//     AIOS_E_CANCELLED when the host asked to stop (its error matches
//     StatusCancelled), AIOS_E_CALLBACK for any other error or a panic.
//     A callback type that returns a status to the library returns that;
//     the library then stops and returns it. Panics never unwind through C
//     frames.
//  3. When the library call returns, withCallbacks deletes the handle and
//     builds the result: a panic is re-raised on the calling goroutine with
//     its original value; a callback's error comes back as an *Error whose
//     Unwrap is that error, unchanged.
//
// A new callback type needs a trampoline in shim.c, an //export-ed function
// here that calls ctx.run, and a withCallbacks call in its API.
//
// Key providers (provider.go) cannot use withCallbacks: their payload
// lives as long as the provider, not one library call, and the library
// calls them on its own worker threads. Their handle is made by
// NewCallbackProvider and deleted by the provider's release callback, and
// a host's error finds its library call through a token in the worker
// thread's error message, which the library carries back to the calling
// thread (see hostFailure in provider.go).

// callbackCtx is the Go side of one library call that may call into Go.
// Callbacks may run on library worker threads, several at once.
type callbackCtx struct {
	data any // per-call state for the //export-ed functions

	mu       sync.Mutex
	err      error // the first error a callback returned
	panicked bool  // a callback panicked; panicVal is what it panicked with
	panicVal any
}

// callbackFrom returns the callbackCtx behind a payload handle.
func callbackFrom(payload C.uintptr_t) *callbackCtx {
	return cgo.Handle(payload).Value().(*callbackCtx)
}

// run calls fn on behalf of C and returns the status to give the library:
// AIOS_OK when fn returned nil, AIOS_E_CANCELLED when fn's error matches
// StatusCancelled (errors.Is), AIOS_E_CALLBACK for any other error or a
// panic. The first error and the first panic are kept for result.
func (c *callbackCtx) run(fn func() error) (rc C.int) {
	defer func() {
		if r := recover(); r != nil {
			c.mu.Lock()
			if !c.panicked {
				c.panicked, c.panicVal = true, r
			}
			c.mu.Unlock()
			rc = C.AIOS_E_CALLBACK
		}
	}()
	err := fn()
	if err == nil {
		return C.AIOS_OK
	}
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	if errors.Is(err, StatusCancelled) {
		return C.AIOS_E_CANCELLED
	}
	return C.AIOS_E_CALLBACK
}

// withCallbacks runs one library call whose callbacks receive a handle to
// a callbackCtx holding data, and turns its result into a Go error.
func withCallbacks(data any, call func(payload C.uintptr_t, e *cErr) C.int) error {
	ctx := &callbackCtx{data: data}
	h := cgo.NewHandle(ctx)
	defer h.Delete()
	e := getCErr()
	defer putCErr(e)
	rc := call(C.uintptr_t(h), e)
	return ctx.result(rc, e)
}

func (c *callbackCtx) result(rc C.int, e *cErr) error {
	c.mu.Lock()
	panicked, panicVal, cause := c.panicked, c.panicVal, c.err
	c.mu.Unlock()
	if panicked {
		panic(panicVal)
	}
	if cause == StatusCancelled {
		// A bare StatusCancelled says nothing the status does not.
		cause = nil
		if rc == C.AIOS_OK {
			return newError(StatusCancelled, "a host callback asked to stop")
		}
	}
	if cause == nil {
		return errorFrom(rc, e)
	}
	var out *Error
	if rc == C.AIOS_OK {
		// The library finished although a callback failed (a callback type
		// that cannot report failure); the host's error still wins.
		s := StatusCallback
		if errors.Is(cause, StatusCancelled) {
			s = StatusCancelled
		}
		out = newError(s, "a host callback failed")
	} else {
		out = makeError(rc, e)
	}
	out.cause = cause
	return out
}

// ---------------------------------------------------------------- selftest

// SelftestResult is the outcome of one known-answer test.
type SelftestResult struct {
	Name   string // the test's name, for example "sha256"
	Status Status // StatusOK when it passed
}

// Passed reports whether the test passed.
func (r SelftestResult) Passed() bool { return r.Status == StatusOK }

type selftestState struct {
	mu sync.Mutex // calls to fn are serialised
	fn func(SelftestResult) error
}

//export aiosgoSelftestCallback
func aiosgoSelftestCallback(name *C.char, status C.int, payload C.uintptr_t) C.int {
	ctx := callbackFrom(payload)
	st := ctx.data.(*selftestState)
	r := SelftestResult{Name: C.GoString(name), Status: Status(status)}
	return ctx.run(func() error {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.fn(r)
	})
}

// SelftestFunc runs every known-answer test of the cryptography libaios
// links (aios_selftest) and calls fn once per test, in order, never
// concurrently. The result is nil when every test passed, else an *Error
// with Status StatusSelftest naming the first failing test.
//
// fn decides whether the run goes on:
//
//   - nil: go on with the next test.
//   - StatusCancelled, or an error that wraps it (errors.Is): stop cleanly.
//     SelftestFunc returns an *Error with Status StatusCancelled (kind
//     ErrCallback); if fn returned more than the bare StatusCancelled,
//     Unwrap returns fn's error.
//   - any other error: stop. SelftestFunc returns an *Error with Status
//     StatusCallback whose Unwrap is fn's error, unchanged, so errors.Is
//     and errors.As reach it.
//   - a panic: stop. SelftestFunc re-panics with the same value once the
//     library call has returned.
//
// The library itself stops the run: fn is not called again after it asked
// to stop.
func SelftestFunc(fn func(SelftestResult) error) error {
	if fn == nil {
		return newError(StatusInvalidArgument, "aios.SelftestFunc: fn is nil")
	}
	st := &selftestState{fn: fn}
	return withCallbacks(st, func(payload C.uintptr_t, e *cErr) C.int {
		return C.aiosgo_selftest(payload, e)
	})
}

// Selftest runs every known-answer test (aios_selftest) and returns the
// result of each, in the order they ran. The error is nil when all passed,
// else an *Error with Status StatusSelftest naming the first failure; the
// results are returned either way.
func Selftest() ([]SelftestResult, error) {
	var results []SelftestResult
	err := SelftestFunc(func(r SelftestResult) error {
		results = append(results, r)
		return nil
	})
	return results, err
}
