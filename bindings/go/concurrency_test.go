package aios

import (
	"bytes"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Many goroutines create buffers and provoke failures at once.  Goroutines
// move between OS threads while libaios keeps error details per thread, so
// this checks that each error carries the message of its own call.
func TestConcurrentErrorsCarryTheirOwnMessage(t *testing.T) {
	goroutines, rounds := 32, 100
	if testing.Short() {
		rounds = 20
	}
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				// A limit failure whose message names this call's size.
				n := BufferMaxLen + 1 + g*rounds + i
				_, err := NewBuffer(n, i%2 == 0)
				var ae *Error
				if !errors.As(err, &ae) || ae.Status != StatusLimit {
					t.Errorf("goroutine %d: NewBuffer(%d) = %v, want StatusLimit", g, n, err)
					return
				}
				if !strings.Contains(ae.Message, strconv.Itoa(n)) {
					t.Errorf("goroutine %d: the error for size %d says %q", g, n, ae.Message)
					return
				}
				runtime.Gosched()

				// A buffer of this goroutine's own bytes.
				data := bytes.Repeat([]byte{byte(g), byte(i)}, 1+i)
				b, err := BufferFromBytes(data, g%2 == 0)
				if err != nil {
					t.Errorf("goroutine %d: %v", g, err)
					return
				}
				runtime.Gosched()

				// A different failure in between: its message must not be
				// the limit failure's.
				if g%2 == 1 {
					err = b.Protect(ProtectReadOnly)
					if !errors.As(err, &ae) || ae.Status != StatusUnsupported ||
						strings.Contains(ae.Message, "limit") || !strings.Contains(ae.Message, "secure") {
						t.Errorf("goroutine %d: Protect on a plain buffer = %v", g, err)
					}
				}
				got, err := b.Bytes()
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("goroutine %d: round trip: %v", g, err)
				}
				b.Close()
			}
		}(g)
	}
	wg.Wait()
}

// Selftest and its callbacks from several goroutines at once, some of
// them stopping their run early.
func TestConcurrentSelftest(t *testing.T) {
	want, err := Selftest()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := Selftest()
			if err != nil || len(got) != len(want) {
				t.Errorf("Selftest: %d results, %v", len(got), err)
			}
		}()
		// Runs that stop early, at the same time: each stops only itself.
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			calls, stop := 0, g%len(want)
			err := SelftestFunc(func(SelftestResult) error {
				if calls++; calls > stop {
					if g%2 == 0 {
						return StatusCancelled
					}
					return errors.New("stop")
				}
				return nil
			})
			wantStatus := StatusCancelled
			if g%2 == 1 {
				wantStatus = StatusCallback
			}
			if calls != stop+1 || !errors.Is(err, wantStatus) {
				t.Errorf("goroutine %d: %d calls, %v; want %d calls, %v", g, calls, err, stop+1, wantStatus)
			}
		}(g)
	}
	wg.Wait()
}
