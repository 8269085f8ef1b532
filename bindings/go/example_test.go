package aios_test

import (
	"errors"
	"fmt"
	"log"
	"sync/atomic"
	"unsafe"

	aios "github.com/libaios/libaios/bindings/go"
)

func ExampleInit() {
	if err := aios.Init(); err != nil {
		log.Fatal(err)
	}
	// The headers this package was built with match the library loaded.
	fmt.Println(aios.VersionNumber() == aios.HeaderVersionNumber)
	// Output: true
}

func ExampleBufferFromBytes() {
	b, err := aios.BufferFromBytes([]byte("hello"), false)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	data, err := b.Bytes()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(b.Len(), b.Secure(), string(data))
	// Output: 5 false hello
}

// A secret in guarded memory, used in place and then locked away.
func ExampleBuffer_View() {
	key, err := aios.NewBuffer(32, true)
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close() // wipes

	_ = key.Mutate(func(k []byte) error {
		for i := range k {
			k[i] = byte(i)
		}
		return nil
	})
	_ = key.Protect(aios.ProtectNoAccess) // while it is not needed
	fmt.Println(key.Protection())
	_ = key.Protect(aios.ProtectReadOnly)
	_ = key.View(func(k []byte) error {
		fmt.Println(len(k), k[31])
		return nil
	})
	// Output:
	// noaccess
	// 32 31
}

// Errors carry the library's status and message and match sentinel kinds.
func Example_errors() {
	_, err := aios.NewBuffer(aios.BufferMaxLen+1, false)

	fmt.Println(errors.Is(err, aios.ErrLimit))    // the coarse kind
	fmt.Println(errors.Is(err, aios.StatusLimit)) // the exact code
	var e *aios.Error
	if errors.As(err, &e) {
		fmt.Println(e.Name, e.Kind)
	}
	// Output:
	// true
	// true
	// AIOS_E_LIMIT limit
}

func ExampleSelftest() {
	results, err := aios.Selftest()
	if err != nil {
		log.Fatal(err)
	}
	passed := 0
	for _, r := range results {
		if r.Passed() {
			passed++
		}
	}
	fmt.Println(passed == len(results) && passed > 0)
	// Output: true
}

// A callback's own error comes back out of the library call unchanged.
func ExampleSelftestFunc() {
	errStop := errors.New("enough")
	err := aios.SelftestFunc(func(r aios.SelftestResult) error {
		return errStop
	})
	fmt.Println(errors.Is(err, errStop), errors.Is(err, aios.ErrCallback))
	// Output: true true
}

// Returning StatusCancelled stops the run cleanly.
func ExampleSelftestFunc_cancel() {
	n := 0
	err := aios.SelftestFunc(func(r aios.SelftestResult) error {
		if n++; n == 3 {
			return aios.StatusCancelled // enough
		}
		return nil
	})
	fmt.Println(n, errors.Is(err, aios.StatusCancelled))
	// Output: 3 true
}

func ExampleAbiVersion() {
	// The loaded library is binary compatible with this build.
	fmt.Println(aios.AbiVersion() == aios.HeaderAbiVersion)
	// Output: true
}

func ExampleMaxBufferLen() {
	fmt.Println(aios.MaxBufferLen(false) == aios.BufferMaxLen)
	fmt.Println(aios.MaxBufferLen(true) >> 20) // MiB
	// Output:
	// true
	// 256
}

func ExampleConstantTimeEqual() {
	mac := []byte{1, 2, 3, 4}
	fmt.Println(aios.ConstantTimeEqual(mac, []byte{1, 2, 3, 4}))
	fmt.Println(aios.ConstantTimeEqual(mac, []byte{1, 2, 3, 5}))
	// Output:
	// true
	// false
}

func ExampleWipe() {
	pin := []byte("1234")
	aios.Wipe(pin)
	fmt.Println(pin)
	// Output: [0 0 0 0]
}

// countingAllocator wraps C's allocator to count libaios' allocations.
type countingAllocator struct {
	aios.CAllocator
	n atomic.Int64
}

func (a *countingAllocator) Malloc(size uintptr) unsafe.Pointer {
	a.n.Add(1)
	return a.CAllocator.Malloc(size)
}

// SetAllocator must run before anything initialises the library, so this
// example is not run by go test (TestSetAllocatorSubprocess runs it in a
// fresh process).
func ExampleSetAllocator() {
	a := &countingAllocator{}
	if err := aios.SetAllocator(a); err != nil {
		log.Fatal(err) // ErrState: too late, the library is initialised
	}
	if err := aios.Init(); err != nil {
		log.Fatal(err)
	}
	b, _ := aios.NewBuffer(64, false)
	b.Close()
	fmt.Println(a.n.Load() > 0)
}
