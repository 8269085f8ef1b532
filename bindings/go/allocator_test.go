package aios

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

const allocatorChildEnv = "AIOSGO_TEST_ALLOCATOR_CHILD"

// countingAllocator counts what libaios asks of it, over C's malloc, and
// can be told to fail or to panic.  It also counts breaches of the
// contract: Malloc(0) and Free(nil) never happen.
type countingAllocator struct {
	CAllocator
	mallocs     atomic.Int64 // blocks handed out
	frees       atomic.Int64 // blocks given back
	zeroMallocs atomic.Int64 // Malloc(0) calls
	nilFrees    atomic.Int64 // Free(nil) calls
	largest     atomic.Uint64
	fail        atomic.Bool // Malloc returns nil
	panicNow    atomic.Bool // the next Malloc panics
}

func (c *countingAllocator) note(size uintptr) {
	for {
		old := c.largest.Load()
		if uint64(size) <= old || c.largest.CompareAndSwap(old, uint64(size)) {
			return
		}
	}
}

func (c *countingAllocator) Malloc(size uintptr) unsafe.Pointer {
	if c.panicNow.CompareAndSwap(true, false) {
		panic("allocator panics")
	}
	if size == 0 {
		c.zeroMallocs.Add(1)
	}
	if c.fail.Load() {
		return nil
	}
	p := c.CAllocator.Malloc(size)
	if p != nil {
		c.mallocs.Add(1)
		c.note(size)
	}
	return p
}

func (c *countingAllocator) Free(ptr unsafe.Pointer) {
	if ptr == nil {
		c.nilFrees.Add(1)
		return
	}
	c.frees.Add(1)
	c.CAllocator.Free(ptr)
}

func (c *countingAllocator) live() int64 { return c.mallocs.Load() - c.frees.Load() }

// TestSetAllocatorSubprocess runs allocatorChild in a fresh process (the
// allocator can only be set before initialisation).
func TestSetAllocatorSubprocess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), allocatorChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("child output:\n%s", out)
	if err != nil {
		t.Fatalf("allocator child failed: %v", err)
	}
	if !strings.Contains(string(out), "allocator child: ok") {
		t.Fatal("allocator child did not finish")
	}
}

// In this process the library is already initialised.
func TestSetAllocatorAfterInit(t *testing.T) {
	if err := Init(); err != nil {
		t.Fatal(err)
	}
	for _, a := range []Allocator{&countingAllocator{}, nil} {
		err := SetAllocator(a)
		if !errors.Is(err, ErrState) || !errors.Is(err, StatusState) {
			t.Errorf("SetAllocator(%T) after Init = %v, want ErrState", a, err)
		}
		if err != nil && !strings.Contains(err.Error(), "aios_init") {
			t.Errorf("message %q does not say why", err)
		}
	}
}

// allocatorChild is the whole allocator scenario; it returns the exit code.
func allocatorChild() int {
	var failures []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	mustNil := func(err error, what string) {
		check(err == nil, "%s: %v", what, err)
	}

	// The version functions do not initialise the library.
	check(AbiVersion() == HeaderAbiVersion && VersionNumber() == HeaderVersionNumber &&
		VersionString() == HeaderVersionString,
		"version functions before Init: ABI %d, %s", AbiVersion(), VersionString())

	// Before Init: set, reset, set again.  The first allocator is never used.
	first := &countingAllocator{}
	mustNil(SetAllocator(first), "SetAllocator(first)")
	mustNil(SetAllocator(nil), "SetAllocator(nil)")
	c := &countingAllocator{}
	mustNil(SetAllocator(c), "SetAllocator(counting)")
	mustNil(Init(), "Init")
	check(first.mallocs.Load() == 0 && first.frees.Load() == 0,
		"a replaced allocator was used: %d mallocs", first.mallocs.Load())

	// Plain buffers: the struct and the bytes come from the host allocator.
	base := c.live()
	before := c.mallocs.Load()
	const n = 10
	var bufs []*Buffer
	for i := 0; i < n; i++ {
		b, err := BufferFromBytes(bytes.Repeat([]byte{byte(i)}, 4096), false)
		mustNil(err, "BufferFromBytes")
		if b != nil {
			bufs = append(bufs, b)
		}
	}
	check(c.mallocs.Load()-before >= n, "%d plain buffers made %d allocations", n, c.mallocs.Load()-before)
	check(c.largest.Load() >= 4096, "no allocation of the 4096 data bytes went through the allocator (largest %d)", c.largest.Load())
	check(c.live() > base, "live blocks did not grow")
	for i, b := range bufs {
		got, err := b.Bytes()
		check(err == nil && bytes.Equal(got, bytes.Repeat([]byte{byte(i)}, 4096)), "buffer %d round trip: %v", i, err)
		b.Close()
	}
	check(c.live() == base, "after Close: %d live blocks, want %d", c.live(), base)

	// Secure bytes live in libsodium's guarded memory, which is not hooked.
	largest := c.largest.Load()
	s, err := NewBuffer(1<<20, true)
	mustNil(err, "NewBuffer secure")
	check(c.largest.Load() == largest, "the secure bytes went through the host allocator")
	if s != nil {
		s.Close()
	}
	check(c.live() == base, "after a secure buffer: %d live blocks, want %d", c.live(), base)

	// Allocation failure is reported as ErrResource / StatusNoMem.
	c.fail.Store(true)
	_, err = NewBuffer(16, false)
	c.fail.Store(false)
	var ae *Error
	check(errors.As(err, &ae) && errors.Is(err, ErrResource) && ae.Status == StatusNoMem && ae.Message != "",
		"NewBuffer with a failing allocator = %v, want StatusNoMem", err)

	// A panicking allocator is an allocation failure, not a crash.
	c.panicNow.Store(true)
	_, err = NewBuffer(16, false)
	check(errors.Is(err, StatusNoMem), "NewBuffer with a panicking allocator = %v, want StatusNoMem", err)
	check(c.live() == base, "after failures: %d live blocks, want %d", c.live(), base)

	// The allocator cannot change after Init.
	check(errors.Is(SetAllocator(CAllocator{}), ErrState), "SetAllocator after Init did not fail with ErrState")
	check(errors.Is(SetAllocator(nil), ErrState), "SetAllocator(nil) after Init did not fail with ErrState")
	before = c.mallocs.Load()
	b, err := NewBuffer(8, false)
	mustNil(err, "NewBuffer after a refused SetAllocator")
	check(c.mallocs.Load() > before, "the counting allocator is no longer in use")
	b.Close()

	// The cleanup frees buffers that were never closed.
	for i := 0; i < 100; i++ {
		_, err := NewBuffer(64, false)
		mustNil(err, "NewBuffer (dropped)")
	}
	check(c.live() > base, "dropped buffers hold no blocks")
	deadline := time.Now().Add(10 * time.Second)
	for c.live() != base && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	check(c.live() == base, "cleanups left %d live blocks, want %d", c.live(), base)

	// Many goroutines allocating at once (the allocator is called from
	// whichever thread each goroutine runs on).
	done := make(chan struct{})
	var errs atomic.Int64
	for g := 0; g < 16; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 100; i++ {
				b, err := NewBuffer(100+i, false)
				if err != nil {
					errs.Add(1)
					return
				}
				b.Close()
			}
		}()
	}
	for g := 0; g < 16; g++ {
		<-done
	}
	check(errs.Load() == 0, "%d goroutines failed to allocate", errs.Load())
	check(c.live() == base, "after concurrent use: %d live blocks, want %d", c.live(), base)

	// Empty buffers and the self-test (which grows buffers by copying)
	// keep the contract too.
	for _, secure := range []bool{false, true} {
		b, err := NewBuffer(0, secure)
		mustNil(err, "NewBuffer(0)")
		if b != nil {
			b.Close()
		}
		b, err = BufferFromBytes(nil, secure)
		mustNil(err, "BufferFromBytes(nil)")
		if b != nil {
			b.Close()
		}
	}
	_, err = Selftest()
	mustNil(err, "Selftest")
	check(c.live() == base, "after empty buffers and Selftest: %d live blocks, want %d", c.live(), base)
	check(c.zeroMallocs.Load() == 0, "Malloc was asked for 0 bytes %d times", c.zeroMallocs.Load())
	check(c.nilFrees.Load() == 0, "Free was given nil %d times", c.nilFrees.Load())

	for _, f := range failures {
		fmt.Fprintln(os.Stderr, "FAIL:", f)
	}
	if len(failures) > 0 {
		return 1
	}
	fmt.Printf("allocator child: ok (%d mallocs, %d frees)\n", c.mallocs.Load(), c.frees.Load())
	return 0
}
